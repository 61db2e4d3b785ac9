// Token-boundary randomization in the data commands: `tokenize --split-punctuation-newline P` gives the
// same bytes whatever --threads and --shard, records the rate and the counts in PREFIX.json, agrees
// with `encode`, refuses to resume a run made at another rate, and `prepare` passes the rate on.
import CorpusIO
import Foundation
import Packing
import Testing
import TokenMillTestSupport

@Suite final class BoundaryRandomizationCLITests {
    let dir: URL
    let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
    init() throws { dir = try makeTemporaryDirectory("boundary") }
    deinit { try? FileManager.default.removeItem(at: dir) }

    /// A deepseek-v3 tokenizer trained on the bundled test split (in well under a second).
    private func trainTokenizer() throws -> String {
        let path = dir.appendingPathComponent("tokenizer.json").path
        let r = try runTokenmill(["train-tokenizer", "--vocab-size", "1024", "--pretokenizer", "deepseek-v3", "--special-tokens", "<|endoftext|>",
                                  "--progress", "none", "-o", path, corpus])
        #expect(r.status == 0, "\(r.stderr)")
        return path
    }

    private func manifest(_ prefix: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: prefix + ".json"))) as! [String: Any]
    }

    @Test func threadsAndShardsGiveTheSameBytesAndTheManifestCounts() throws {
        let tokenizer = try trainTokenizer()
        let common = ["tokenize", "--tokenizer", tokenizer, "--split-punctuation-newline", "0.5", "--seed", "7", "--progress", "none"]
        let inputs = [corpus, corpus, corpus]  // three inputs, so the shards get different batches
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        for (name, extra) in [("t1", ["--threads", "1"]), ("t2", ["--threads", "2"]), ("part0", ["--shard", "0/2"]), ("part1", ["--shard", "1/2"])] {
            let r = try runTokenmill(common + extra + ["-o", path(name)] + inputs)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merged = try runTokenmill(["merge", "-o", path("merged"), path("part0"), path("part1")])
        #expect(merged.status == 0, "\(merged.stderr)")
        for name in ["t2", "merged"] {
            for ext in [".bin", ".idx", ".json"] {
                #expect(try Data(contentsOf: URL(fileURLWithPath: path("t1") + ext)) == Data(contentsOf: URL(fileURLWithPath: path(name) + ext)), "\(name)\(ext) differs")
            }
        }
        // The manifest: the rate, the seed, and a split share within binomial bounds of 0.5.
        let m = try manifest(path("t1"))
        let options = m["options"] as! [String: Any], counts = m["counts"] as! [String: Int]
        #expect(options["split_punctuation_newline"] as? Double == 0.5 && options["seed"] as? Int == 7)
        let split = counts["punctuation_newline_split"]!, eligible = counts["punctuation_newline_eligible"]!
        #expect(eligible > 10_000, "\(eligible)")
        #expect(abs(Double(split) - Double(eligible) / 2) <= 4.5 * (Double(eligible) / 4).squareRoot(), "\(split) of \(eligible)")
        // The same corpus three times: each copy's lines have their own keys, so the copies differ.
        let ds = try IndexedDatasetReader(prefix: path("t1"))
        let n = ds.documentCount / 3
        #expect((0 ..< n).contains { ds.document($0) != ds.document($0 + n) })
        // Rate 0 splits nothing and counts the same eligible pre-tokens.
        let plain = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "--progress", "none", "-o", path("plain")] + inputs)
        #expect(plain.status == 0, "\(plain.stderr)")
        let plainCounts = try manifest(path("plain"))["counts"] as! [String: Int]
        #expect(plainCounts["punctuation_newline_split"] == 0 && plainCounts["punctuation_newline_eligible"] == eligible)
        #expect(plainCounts["tokens"]! < counts["tokens"]!)
    }

    @Test func encodeGivesTokenizesIDsAndTheTextComesBack() throws {
        let tokenizer = try trainTokenizer()
        let prefix = dir.appendingPathComponent("d").path
        let args = ["--tokenizer", tokenizer, "--split-punctuation-newline", "0.3", "--seed", "2", "--progress", "none"]
        #expect(try runTokenmill(["tokenize"] + args + ["-o", prefix, corpus]).status == 0)
        let encoded = try runTokenmill(["encode"] + args + [corpus])
        #expect(encoded.status == 0, "\(encoded.stderr)")
        let lines = encoded.stdoutString.split(separator: "\n")
        let ds = try IndexedDatasetReader(prefix: prefix)
        #expect(lines.count == ds.documentCount)
        var originals: [String] = []
        try CorpusReader(inputs: [corpus], options: ReadOptions(), warn: { _ in }).forEachDocument { originals.append($0.text) }
        var decodeInput = ""
        for (k, line) in lines.enumerated() {
            let ids = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["ids"] as! [Int]
            #expect(ids.map(Int32.init) + [0] == ds.document(k), "document \(k)")  // <|endoftext|> is id 0
            decodeInput += "{\"ids\":[" + ids.map(String.init).joined(separator: ",") + "]}\n"
        }
        // Split pre-tokens decode to the same text: every document comes back whole.
        let decoded = try runTokenmill(["decode", "--tokenizer", tokenizer], stdin: Data(decodeInput.utf8))
        #expect(decoded.status == 0, "\(decoded.stderr)")
        let decodedPath = dir.appendingPathComponent("decoded.jsonl")
        try decoded.stdout.write(to: decodedPath)
        var texts: [String] = []
        try CorpusReader(inputs: [decodedPath.path], options: ReadOptions(), warn: { _ in }).forEachDocument { texts.append($0.text) }
        #expect(texts == originals)
        #expect(try runTokenmill(["tokenize"] + args.map { $0 == "0.3" ? "1.5" : $0 } + ["-o", prefix + "x", corpus]).status == 64)
    }

    @Test func resumeRefusesAnotherRateAndContinuesTheSameOne() throws {
        let tokenizer = try trainTokenizer()
        let args = ["tokenize", "--tokenizer", tokenizer, "--split-punctuation-newline", "0.2", "--seed", "1", "--threads", "1",
                    "--checkpoint-every", "1", "--progress", "none"]
        let inputs = [String](repeating: corpus, count: 10)
        #expect(try runTokenmill(args + ["-o", dir.appendingPathComponent("straight").path] + inputs).status == 0)
        let prefix = dir.appendingPathComponent("killed").path
        let state = dir.appendingPathComponent(".killed.resume.json.partial").path
        #expect(try killTokenmillAfterCheckpoint(args + ["-o", prefix] + inputs, statePath: state, batch: 2), "no checkpoint appeared")
        for other in ["0.3", "0"] {
            let mismatch = try runTokenmill(args.map { $0 == "0.2" ? other : $0 } + ["--resume", "-o", prefix] + inputs)
            #expect(mismatch.status == 64 && mismatch.stderr.contains("another tokenizer, inputs or options"), "\(other): \(mismatch.stderr)")
        }
        let resumed = try runTokenmill(args + ["--resume", "-o", prefix] + inputs)
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming at input batch"), "\(resumed.stderr)")
        for ext in [".bin", ".idx", ".json"] {
            #expect(try Data(contentsOf: URL(fileURLWithPath: prefix + ext)) == Data(contentsOf: dir.appendingPathComponent("straight" + ext)), "\(ext) differs")
        }
    }

    @Test func prepareTakesTheRateFromItsConfig() throws {
        let tokenizer = try trainTokenizer()
        let config = dir.appendingPathComponent("prepare.toml")
        try Data("""
        inputs = ["\(corpus)"]
        output = "\(dir.path)/p"
        tokenizer = "\(tokenizer)"
        [tokenize]
        split_punctuation_newline = 0.25
        seed = 4

        """.utf8).write(to: config)
        let r = try runTokenmill(["prepare", "--progress", "none", "--config", config.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("punctuation + line break split"), "\(r.stderr)")
        let direct = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "--split-punctuation-newline", "0.25", "--seed", "4", "--progress", "none",
                                       "-o", dir.appendingPathComponent("q").path, corpus])
        #expect(direct.status == 0)
        for ext in [".bin", ".idx"] {
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/p" + ext)) == Data(contentsOf: URL(fileURLWithPath: dir.path + "/q" + ext)))
        }
        #expect((try manifest(dir.path + "/p")["options"] as! [String: Any])["split_punctuation_newline"] as? Double == 0.25)
        try Data("inputs = [\"x\"]\noutput = \"o\"\ntokenizer = \"t\"\n[tokenize]\nsplit_punctuation_newline = \"a lot\"\n".utf8).write(to: config)
        let bad = try runTokenmill(["prepare", "--config", config.path])
        #expect(bad.status == 64 && bad.stderr.contains("'tokenize.split_punctuation_newline' must be a number"), "\(bad.stderr)")
    }
}
