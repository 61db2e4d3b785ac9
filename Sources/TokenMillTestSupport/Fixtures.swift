// The real tokenizer files the parity tests use, committed zstd-compressed under
// Tests/Fixtures/tokenizers (each folder's SOURCE.md gives origin, hash and license) and decompressed
// once into .build/fixtures/tokenizers, where the Python checks (tools/tokenizer_common.py) find them too.
// Policy: a missing fixture is an error that fails the test; nothing is skipped.
import CorpusIO
import Foundation

/// A committed fixture file is missing or unreadable.
public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
}

private let fixtureLock = NSLock()

/// The path of the decompressed real tokenizer file `relative` ("pythia/tokenizer.json",
/// "gpt2/vocab.json", "cl100k_base/cl100k_base.tiktoken", …), decompressing
/// `Tests/Fixtures/tokenizers/<relative>.zst` on first use (to a temporary name, then renamed, so a
/// concurrent test process never sees half a file).
/// - Throws: `FixtureError` when the compressed fixture is not in the checkout.
public func tokenizerFixture(_ relative: String) throws -> String {
    let folder = (relative as NSString).deletingLastPathComponent
    let sourceDir = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizers/\(folder)").path
    let targetDir = packageRoot.appendingPathComponent(".build/fixtures/tokenizers/\(folder)").path
    let source = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizers/\(relative).zst").path
    fixtureLock.lock(); defer { fixtureLock.unlock() }
    guard FileManager.default.fileExists(atPath: source) else {
        throw FixtureError(description: "fixture \(source) is missing from the checkout (see Tests/Fixtures/tokenizers/README.md)")
    }
    // The whole folder: vocab.json needs merges.txt beside it.
    for name in try FileManager.default.contentsOfDirectory(atPath: sourceDir).sorted() where name.hasSuffix(".zst") {
        try decompressFixture(sourceDir + "/" + name, to: targetDir + "/" + String(name.dropLast(4)))
    }
    return packageRoot.appendingPathComponent(".build/fixtures/tokenizers/\(relative)").path
}

/// Decompresses `source` to `target` unless `target` is at least as new.
private func decompressFixture(_ source: String, to target: String) throws {
    let attributes = { (path: String) in try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date }
    if let date = attributes(target), let sourceDate = attributes(source), date >= sourceDate { return }
    try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let (input, compression) = try openByteSource(path: source)
    guard compression == .zstd else { throw FixtureError(description: "fixture \(source) is not zstd-compressed") }
    var bytes = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try input.read(into: $0) }
        if n == 0 { break }
        bytes.append(contentsOf: buffer[..<n])
    }
    let temporary = target + ".\(getpid()).\(UUID().uuidString).tmp"
    try Data(bytes).write(to: URL(fileURLWithPath: temporary))
    if rename(temporary, target) != 0 {
        unlink(temporary)
        throw FixtureError(description: "cannot rename \(temporary) to \(target): errno \(errno)")
    }
}
