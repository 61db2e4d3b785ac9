// Two processes writing the same output: the second is refused with the first's pid, the first finishes
// with the same bytes as a lone run, and no lock file is left; a lock left by a killed run is taken over.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct OneWriterCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("one-writer") }

    /// Starts `arguments`, waits until `lock` exists (the writer holds it), then runs `second`.
    private func overlap(_ arguments: [String], lock: String, second: [String]) throws -> (first: Int32, firstPID: Int32, second: CommandResult) {
        let process = Process()
        process.executableURL = tokenmillBinary
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        var waited = 0
        while !FileManager.default.fileExists(atPath: lock) && waited < 3000 { usleep(5_000); waited += 1 }
        let result = try runTokenmill(second)
        process.waitUntilExit()
        return (process.terminationStatus, process.processIdentifier, result)
    }

    @Test func tokenizeTwiceAtOnceIntoOnePrefix() throws {
        let tokenizer = try tokenizerFixture("pythia/tokenizer.json")
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let args = ["tokenize", "--tokenizer", tokenizer, "--threads", "1", "--progress", "none"] + [String](repeating: corpus, count: 12)
        let prefix = dir.appendingPathComponent("d").path
        let r = try overlap(args + ["-o", prefix], lock: OutputLock.lockPath(for: prefix), second: args + ["-o", prefix])
        #expect(r.first == 0)
        #expect(r.second.status == 1, "\(r.second.stderr)")
        #expect(r.second.stderr.contains("another process (pid \(r.firstPID)) is writing this output"), "\(r.second.stderr)")
        #expect(r.second.stderr.split(separator: "\n").count == 1)
        let lone = dir.appendingPathComponent("lone").path
        #expect(try runTokenmill(args + ["-o", lone]).status == 0)
        for ext in [".bin", ".idx"] {
            #expect(FileManager.default.contents(atPath: prefix + ext) == FileManager.default.contents(atPath: lone + ext), "\(ext)")
        }
        #expect(try runTokenmill(["inspect", prefix]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test func normalizeTwiceAtOnceIntoOneFile() throws {
        let corpus = packageRoot.appendingPathComponent("corpora/train.jsonl.zst").path
        let out = dir.appendingPathComponent("n.jsonl.zst").path
        let args = ["normalize", "--threads", "1", "--progress", "none", "-o", out, corpus, corpus]
        let r = try overlap(args, lock: OutputLock.lockPath(for: out), second: args)
        #expect(r.first == 0)
        #expect(r.second.status == 1 && r.second.stderr.contains("pid \(r.firstPID)"), "\(r.second.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["n.jsonl.zst", "n.jsonl.zst.tokenmill.json"])
    }

    @Test func aLockLeftByAKilledRunIsTakenOver() throws {
        let tokenizer = try tokenizerFixture("pythia/tokenizer.json")
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let prefix = dir.appendingPathComponent("k").path
        let args = ["tokenize", "--tokenizer", tokenizer, "--threads", "1", "--checkpoint-every", "1", "--progress", "none", "-o", prefix]
            + [String](repeating: corpus, count: 10)
        let state = dir.appendingPathComponent(".k.resume.json.partial").path
        #expect(try killTokenmillAfterCheckpoint(args, statePath: state, batch: 2), "no checkpoint appeared")
        #expect(FileManager.default.fileExists(atPath: OutputLock.lockPath(for: prefix)))   // left behind by SIGKILL
        let resumed = try runTokenmill(args + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: OutputLock.lockPath(for: prefix)))
    }
}
