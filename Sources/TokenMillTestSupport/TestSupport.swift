// Helpers shared by the test targets: locating the built `tokenmill` binary and running it.
import CorpusIO
import Foundation

/// The result of running the `tokenmill` binary.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
    public var stdoutString: String { String(decoding: stdout, as: UTF8.self) }
}

/// The package root (the directory holding Package.swift), found from this file's path.
public let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    fatalError("Package.swift not found above \(#filePath)")
}()

/// The `tokenmill` executable built next to the test bundle.
public let tokenmillBinary: URL = {
    let bundle = Bundle.main.bundleURL
    for dir in [bundle, bundle.deletingLastPathComponent()] {
        let candidate = dir.appendingPathComponent("tokenmill")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    for config in ["debug", "release"] {
        let candidate = packageRoot.appendingPathComponent(".build/\(config)/tokenmill")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    fatalError("tokenmill binary not found; run `swift build` first")
}()

/// Runs `tokenmill` with `arguments`, feeding `stdin`, and collects its outputs (through temporary
/// files, so neither pipe can fill up and block the child).
public func runTokenmill(_ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil,
                         currentDirectory: URL? = nil) throws -> CommandResult {
    let dir = try makeTemporaryDirectory("tokenmill-run")
    defer { try? FileManager.default.removeItem(at: dir) }
    let inURL = dir.appendingPathComponent("stdin"), outURL = dir.appendingPathComponent("stdout"),
        errURL = dir.appendingPathComponent("stderr")
    try (stdin ?? Data()).write(to: inURL)
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = tokenmillBinary
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    process.standardInput = try FileHandle(forReadingFrom: inURL)
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: try Data(contentsOf: outURL),
                         stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// A fresh temporary directory, removed by the caller with `FileManager.removeItem`.
public func makeTemporaryDirectory(_ name: String = "tokenmill-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Starts `tokenmill arguments` and kills it (SIGKILL) once its resume state at `statePath` records
/// input batch `batch` or later, as a crash mid-run would; waits at most 30 s.
/// - Returns: whether the state reached that batch before the kill.
public func killTokenmillAfterCheckpoint(_ arguments: [String], statePath: String, batch: Int) throws -> Bool {
    let process = Process()
    process.executableURL = tokenmillBinary
    process.arguments = arguments
    process.standardError = FileHandle.nullDevice
    try process.run()
    var reached = false
    for _ in 0 ..< 3000 {
        if let data = FileManager.default.contents(atPath: statePath),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], (json["batch"] as? Int ?? 0) >= batch {
            reached = true
            break
        }
        usleep(10_000)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return reached
}

/// Rewrites the SHA-256 a checkpoint directory's state.json records for its files to those of the files
/// now there (dropping removed ones): for tests that edit a checkpoint's data.json to stage a situation
/// (`tokenmill` refuses a checkpoint whose files differ from the recorded hashes).
public func rehashCheckpoint(_ dir: String) throws {
    let path = dir + "/state.json"
    var state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    var files: [String: String] = [:]
    for name in ((state["files"] as? [String: String]) ?? [:]).keys where FileManager.default.fileExists(atPath: dir + "/" + name) {
        files[name] = try sha256(ofFile: dir + "/" + name)
    }
    state["files"] = files
    try JSONSerialization.data(withJSONObject: state, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
}

/// Runs `tokenmill arguments` for a suite's shared fixture, stopping the test process with the
/// command's stderr when it fails (a fixture that cannot be made leaves nothing to test).
public func runTokenmillForFixture(_ arguments: [String]) {
    let r = try! runTokenmill(arguments)
    precondition(r.status == 0, "\(arguments): \(r.stderr)")
}

/// A suite fixture in a new directory: a 300-id tokenizer trained on the bundled test split
/// (`tok.json`), the split tokenized with it (`src`), a tiny model config with rows of 16 (`c.json`),
/// and a one-step run on the tokens (`run`, whose checkpoint/data.json records the tokenizer).
public func makeOneStepRunFixture(_ name: String) -> URL {
    let dir = try! makeTemporaryDirectory(name)
    func path(_ file: String) -> String { dir.appendingPathComponent(file).path }
    let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
    runTokenmillForFixture(["train-tokenizer", "--vocab-size", "300", "--special-tokens", "<|endoftext|>", "-o", path("tok.json"), corpus])
    runTokenmillForFixture(["tokenize", "--tokenizer", path("tok.json"), "-o", path("src"), corpus])
    try! Data(#"{"model": {"vocab_size": 300, "max_position_embeddings": 16}, "training": {"sequence_length": 16, "micro_batch_size": 2, "eval_batches": 1}}"#.utf8)
        .write(to: dir.appendingPathComponent("c.json"))
    runTokenmillForFixture(["train", "--config", path("c.json"), "--data", path("src"), "--out", path("run"), "--steps", "1"])
    return dir
}
