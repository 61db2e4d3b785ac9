// `tokenmill train-tokenizer` writes byte-identical files whatever `--threads` and whether the counts
// spill to disk (`--max-words`), on real data: the first ~3 MiB of the bundled training corpus as six
// input files (a reader batch never spans two inputs, so there are at least six batches and two threads
// really count different batches at once), vocabulary 4,096 (3,839 merges).
// Cost: five debug-build CLI runs of about two seconds each.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct TrainTokenizerThreadsCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("train-tokenizer-threads") }

    /// The first complete JSON lines of `corpora/train.jsonl.zst` holding at least `bytes` bytes, as
    /// `parts` files of consecutive lines.
    private func trainSlice(bytes: Int, parts: Int) throws -> [String] {
        let (source, _) = try openByteSource(path: packageRoot.appendingPathComponent("corpora/train.jsonl.zst").path)
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while data.count < bytes {
            let n = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { break }
            data += chunk[0 ..< n]
        }
        let end = data.lastIndex(of: UInt8(ascii: "\n"))!
        let lines = data[...end].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        return try (0 ..< parts).map { k in
            let url = dir.appendingPathComponent("part\(k).jsonl")
            let mine = lines[(lines.startIndex + k * lines.count / parts) ..< (lines.startIndex + (k + 1) * lines.count / parts)]
            try Data(mine.flatMap { $0 + [UInt8(ascii: "\n")] }).write(to: url)
            return url.path
        }
    }

    @Test func tokenizerFilesDoNotDependOnThreadsOrSpilling() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let inputs = try trainSlice(bytes: 3 << 20, parts: 6)
        let common = ["train-tokenizer", "--vocab-size", "4096", "--pretokenizer", "cl100k", "--special-tokens", "<|endoftext|>",
                      "--tiktoken", "--progress", "none"]
        var outputs: [(name: String, json: Data, tiktoken: Data, counts: Data)] = []
        for (name, extra) in [("threads1", ["--threads", "1"]), ("threads2", ["--threads", "2"]),
                              ("threads1-spill", ["--threads", "1", "--max-words", "1"]),
                              ("threads2-spill", ["--threads", "2", "--max-words", "1"]),
                              // A bound that holds every pre-token changes nothing.
                              ("threads2-maxmem", ["--threads", "2", "--max-memory", "2GiB"])] {
            let json = dir.appendingPathComponent("\(name).json"), counts = dir.appendingPathComponent("\(name).counts")
            let r = try runTokenmill(common + extra + ["-o", json.path, "--save-counts", counts.path] + inputs)
            #expect(r.status == 0, "\(name): \(r.stderr)")
            #expect(r.stderr.contains("counting with \(name.hasPrefix("threads2") ? 2 : 1) threads"))
            // --max-words 1 spills after every batch: one run per input file.
            if name.hasSuffix("spill") { #expect(r.stderr.contains("merging 6 spilled runs"), "\(name): \(r.stderr)") }
            if name.hasSuffix("maxmem") { #expect(!r.stderr.contains("set aside") && r.stderr.contains("bounded by --max-memory 2 GiB"), "\(r.stderr)") }
            outputs.append((name, try Data(contentsOf: json), try Data(contentsOf: dir.appendingPathComponent("\(name).tiktoken")),
                            try Data(contentsOf: counts)))
        }
        // The run is not trivial: thousands of merges.
        let root = try JSONSerialization.jsonObject(with: outputs[0].json) as! [String: Any]
        #expect(((root["model"] as! [String: Any])["merges"] as! [Any]).count == 4096 - 256 - 1)
        for o in outputs.dropFirst() {
            #expect(o.json == outputs[0].json, "tokenizer.json of \(o.name) differs from \(outputs[0].name)")
            #expect(o.tiktoken == outputs[0].tiktoken, ".tiktoken of \(o.name) differs from \(outputs[0].name)")
        }
        // Word-count files: identical across thread counts (the spilled ones hold the same counts in
        // byte order, so they are compared by training from them below).
        #expect(outputs[1].counts == outputs[0].counts)
        #expect(outputs[3].counts == outputs[2].counts)
        #expect(outputs[4].counts == outputs[0].counts)
        let fromCounts = dir.appendingPathComponent("from-counts.json")
        let r = try runTokenmill(common + ["--threads", "2", "--counts", dir.appendingPathComponent("threads2-spill.counts").path, "-o", fromCounts.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Data(contentsOf: fromCounts) == outputs[0].json)
    }

    /// A --max-memory below what any run needs, or not a size: one line, exit 64, nothing written.
    @Test func maxMemoryTooSmallOrMalformedIsAUsageError() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let inputs = try trainSlice(bytes: 1 << 16, parts: 1)
        let out = dir.appendingPathComponent("t.json").path
        for (value, message) in [("10M", "error: --max-memory 10M is below the "), ("lots", "error: --max-memory takes a size like 512M, 4G or 4GiB, not 'lots'.")] {
            let r = try runTokenmill(["train-tokenizer", "--vocab-size", "4096", "--threads", "2", "--max-memory", value, "-o", out] + inputs)
            #expect(r.status == 64, "\(value): \(r.stderr)")
            #expect(r.stderr.hasPrefix(message) && r.stderr.split(separator: "\n").count == 1, "\(value): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
