// `tokenmill dedup` and `tokenmill decontaminate` on the bundled test split: doubled input, sharded runs,
// self-decontamination, usage and data errors.
import Foundation
import Testing
import TokenMillTestSupport

@Suite final class DedupCLITests {
    let dir: URL
    let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path

    init() throws { dir = try makeTemporaryDirectory("dedup-cli") }
    deinit { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func removedLines(_ name: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path(name), encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    @Test func doubledInputLosesItsSecondCopyAndShardsAgree() throws {
        let once = try runTokenmill(["dedup", "--progress", "none", "-o", path("once.jsonl"), "--removed", path("once.removed"), corpus])
        #expect(once.status == 0, "\(once.stderr)")
        let twice = try runTokenmill(["dedup", "--progress", "none", "-o", path("twice.jsonl"), "--removed", path("twice.removed"), corpus, corpus])
        #expect(twice.status == 0, "\(twice.stderr)")
        // Every document of the second copy goes; the kept documents are those of one copy.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("twice.jsonl"))) == Data(contentsOf: URL(fileURLWithPath: path("once.jsonl"))))
        let removedOnce = try removedLines("once.removed"), removedTwice = try removedLines("twice.removed")
        let second = removedTwice.filter { ($0["position"] as! Int) >= 259 }
        #expect(second.count == 259)
        #expect(second.allSatisfy { $0["match"] as! String == "exact" || ($0["survivor"] as! Int) < ($0["position"] as! Int) - 259 })
        #expect(removedTwice.count == removedOnce.count + 259)
        #expect(twice.stderr.hasPrefix("dedup: 518 documents (1.5 MB) in, \(259 - removedOnce.count) kept, \(259 + removedOnce.count) removed ("))
        // Sharded: two signing runs (each reads one of the two input files, and says so), one clustering run, the same bytes.
        for i in 0 ..< 2 {
            let r = try runTokenmill(["dedup", "--progress", "none", "--shard", "\(i)/2", "--signatures", path("sigs"), corpus, corpus])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.hasPrefix("dedup: shard \(i)/2: signed 259 documents of file \(i + 1) of 2 into \(path("sigs"))/signatures-\(i)-of-2.bin; read "), "\(r.stderr)")
        }
        // More shards than input files: a usage error pointing at split.
        let three = try runTokenmill(["dedup", "--progress", "none", "--shard", "0/3", "--signatures", path("sigs3"), corpus, corpus])
        #expect(three.status == 64 && three.stderr.contains("tokenmill split --parts 3"), "\(three.stderr)")
        let merged = try runTokenmill(["dedup", "--progress", "none", "--from-signatures", path("sigs"), "-o", path("sharded.jsonl"),
                                       "--removed", path("sharded.removed"), corpus, corpus])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("sharded.jsonl"))) == Data(contentsOf: URL(fileURLWithPath: path("twice.jsonl"))))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("sharded.removed"))) == Data(contentsOf: URL(fileURLWithPath: path("twice.removed"))))
        // Signatures of other inputs: a data error naming the file, no output.
        let wrong = try runTokenmill(["dedup", "--progress", "none", "--from-signatures", path("sigs"), "-o", path("wrong.jsonl"), corpus])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("signatures-0-of-2.bin: the signatures cover 518 documents but the input has 259"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("wrong.jsonl")))
    }

    @Test func usageErrorsExit64() throws {
        #expect(try runTokenmill(["dedup", "--shard", "0/2", corpus]).status == 64)
        #expect(try runTokenmill(["dedup", "--bands", "0", corpus]).status == 64)
        #expect(try runTokenmill(["decontaminate", corpus]).status == 64)
        let stdin = try runTokenmill(["dedup"], stdin: Data("{\"text\":\"a\"}\n".utf8))
        #expect(stdin.status == 64 && stdin.stderr.contains("dedup reads its input twice"))
        // Help text is wrapped: compare with the line breaks turned into spaces.
        func help(_ command: String) throws -> String {
            try runTokenmill([command, "--help"]).stdoutString.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        #expect(try help("dedup").contains("Memory: --sort-memory for the on-disk sorts"))
        #expect(try help("decontaminate").contains("Memory: the test side's n-grams in an open-addressing table of 8-byte hashes"))
    }

    /// A test file is read three times (count, insert, attribute); its warnings appear once.
    @Test func aTestFileWarnsOnce() throws {
        let empty = path("empty.jsonl")
        try Data().write(to: URL(fileURLWithPath: empty))
        let r = try runTokenmill(["decontaminate", "--progress", "none", "--against", empty, "--against", corpus, "-o", path("clean.jsonl"), corpus])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("warning: \(empty): empty input, no documents\ndecontaminate: 259 training documents"), "\(r.stderr)")
    }

    /// A test record that --on-error skip skips is reported once, like a training record.
    @Test func aSkippedTestRecordIsReportedOnce() throws {
        let test = path("bad-test.jsonl")
        try Data("not json\n".utf8).write(to: URL(fileURLWithPath: test))
        let r = try runTokenmill(["decontaminate", "--progress", "none", "--on-error", "skip", "--against", test, "--against", corpus,
                                  "-o", path("clean.jsonl"), corpus])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("warning: skipped \(test):1"), "\(r.stderr)")
        #expect(r.stderr.components(separatedBy: "warning: skipped").count == 2, "\(r.stderr)")
    }

    @Test func theTestSplitIsContaminatedByItself() throws {
        let r = try runTokenmill(["decontaminate", "--progress", "none", "--against", corpus, "--report", path("hits.jsonl"),
                                  "-o", path("clean.jsonl"), corpus])
        #expect(r.status == 0, "\(r.stderr)")
        let hits = try removedLines("hits.jsonl")
        // Each test document with 13+ words is hit by itself (and possibly by others that share text).
        let short = Int(r.stderr.split(separator: "(").last!.split(separator: " ").first!)!
        #expect(hits.count == 259 - short)
        #expect(hits.allSatisfy { ($0["training_positions"] as! [Int]).contains($0["test_position"] as! Int) })
        #expect(r.stderr.contains("\(259 - short) contaminated (removed), \(short) written"))
        let flag = try runTokenmill(["decontaminate", "--progress", "none", "--action", "flag", "--against", corpus, "-o", path("flagged.jsonl"), corpus])
        #expect(flag.status == 0)
        #expect(flag.stderr.contains("\(259 - short) contaminated (flagged), 259 written"))
        #expect(try String(contentsOfFile: path("flagged.jsonl"), encoding: .utf8).split(separator: "\n").count == 259)
    }
}
