import CorpusIO
import Foundation
import Packing
import Testing
import TokenMillTestSupport

@Suite struct TokenizeCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("tokenize") }

    @Test(arguments: [("pythia", IndexedDType.uint16), ("olmo2", .int32)])
    func datasetHoldsEncodeIDsPlusEOD(name: String, dtype: IndexedDType) throws {
        let tokenizer = try tokenizerFixture("\(name)/tokenizer.json")
        let texts = ["Hello, world!\n\n  ", "", "数字 123456 and émoji 😀", "don'T stop"]
        let input = texts.map { "{\"text\":\"\($0.replacingOccurrences(of: "\n", with: "\\n"))\"}\n" }.joined()
        let prefix = dir.appendingPathComponent(name).path
        let r = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "-o", prefix], stdin: Data(input.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("1 empty skipped"))
        let encoded = try runTokenmill(["encode", "--tokenizer", tokenizer], stdin: Data(input.utf8))
        let expected = try encoded.stdoutString.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }.map { ($0["ids"] as! [Int]).map(Int32.init) }.filter { !$0.isEmpty }
        let dataset = try IndexedDatasetReader(prefix: prefix)
        #expect(dataset.dtype == dtype)
        #expect(dataset.documentCount == 3)
        let eod = Int32(name == "pythia" ? 0 : 100_257)  // <|endoftext|>
        #expect((0 ..< dataset.documentCount).map { dataset.document($0) } == expected.map { $0 + [eod] })
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: prefix + ".json"))) as! [String: Any]
        #expect((manifest["counts"] as! [String: Int])["documents"] == 3)
        let inspect = try runTokenmill(["inspect", prefix, "--doc", "0", "--tokenizer", tokenizer])
        #expect(inspect.status == 0)
        #expect(inspect.stdoutString.hasSuffix("Hello, world!\n\n  <|endoftext|>\n"))
    }

    @Test func badUsageAndBadDataLeaveNoFiles() throws {
        let tokenizer = try tokenizerFixture("pythia/tokenizer.json")
        let prefix = dir.appendingPathComponent("none").path
        let noEOD = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "--eod-token", "<nope>", "-o", prefix], stdin: Data("{\"text\":\"x\"}\n".utf8))
        #expect(noEOD.status == 64)
        let bad = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "-o", prefix], stdin: Data("{\"text\":\"x\"}\nnot json\n".utf8))
        #expect(bad.status == 1 && bad.stderr.hasPrefix("error: <stdin>:2"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        let missing = try runTokenmill(["inspect", dir.appendingPathComponent("absent").path])
        #expect(missing.status == 1 && missing.stderr.contains("absent.idx: cannot open"))
    }
}

@Suite struct FIMCLITests {
    @Test func atRateOneEveryEntryIsPSMAndItsPartsRebuildTheDocument() throws {
        let dir = try makeTemporaryDirectory("fim")
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let prefix = dir.appendingPathComponent("fim").path
        let r = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "--fim-rate", "1", "--seed", "3", "-o", prefix, corpus])
        #expect(r.status == 0, "\(r.stderr)")
        let dataset = try IndexedDatasetReader(prefix: prefix)
        let (begin, hole, end, eos): (Int32, Int32, Int32, Int32) = (32016, 32015, 32017, 32014)  // <｜fim▁begin｜> <｜fim▁hole｜> <｜fim▁end｜> <｜end▁of▁sentence｜>
        // subtle: our reader, not JSONSerialization, which drops a raw U+FEFF inside JSON strings on Linux.
        var originals: [String] = []
        try CorpusReader(inputs: [corpus], options: ReadOptions(), warn: { _ in }).forEachDocument { originals.append($0.text) }
        #expect(dataset.documentCount == originals.count)
        // Decode each part through the CLI in one batch: prefix, suffix and middle of every entry.
        var parts: [String] = []
        for d in 0 ..< dataset.documentCount {
            let ids = dataset.document(d)
            let b = ids.firstIndex(of: begin)!, h = ids.firstIndex(of: hole)!, e = ids.firstIndex(of: end)!
            #expect(b == 0 && b < h && h < e && ids.last == eos)
            for part in [ids[(b + 1) ..< h], ids[(e + 1) ..< (ids.count - 1)], ids[(h + 1) ..< e]] {
                parts.append("{\"ids\":[" + part.map(String.init).joined(separator: ",") + "]}")
            }
        }
        let decoded = try runTokenmill(["decode", "--tokenizer", tokenizer], stdin: Data((parts.joined(separator: "\n") + "\n").utf8))
        #expect(decoded.status == 0, "\(decoded.stderr)")
        let decodedPath = dir.appendingPathComponent("pieces.jsonl")
        try decoded.stdout.write(to: decodedPath)
        var pieces: [String] = []
        try CorpusReader(inputs: [decodedPath.path], options: ReadOptions(), warn: { _ in }).forEachDocument { pieces.append($0.text) }
        #expect(pieces.count == 3 * originals.count)
        var rebuilt = 0
        for (d, original) in originals.enumerated() where pieces.count == 3 * originals.count {
            if Array((pieces[3 * d] + pieces[3 * d + 1] + pieces[3 * d + 2]).utf8) == Array(original.utf8) { rebuilt += 1 }
            else { Issue.record("document \(d): \(pieces[3 * d].suffix(20).debugDescription) | \(pieces[3 * d + 2].prefix(20).debugDescription) | \(pieces[3 * d + 1].prefix(20).debugDescription) vs \(original.prefix(40).debugDescription)") }
        }
        #expect(rebuilt == originals.count)
    }
}

@Suite struct PackCLITests {
    @Test(arguments: ["best-fit", "concat"])
    func everyTokenOnceEveryRowExactlyL(strategy: String) throws {
        let dir = try makeTemporaryDirectory("pack")
        let tokenizer = try tokenizerFixture("pythia/tokenizer.json")
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let source = dir.appendingPathComponent("src").path
        #expect(try runTokenmill(["tokenize", "--tokenizer", tokenizer, "-o", source, corpus]).status == 0)
        let L = 700
        let out = dir.appendingPathComponent("packed").path
        let r = try runTokenmill(["pack", "--seq-len", "\(L)", "--strategy", strategy, "--seed", "5", "-o", out, source])
        #expect(r.status == 0, "\(r.stderr)")
        let input = try IndexedDatasetReader(prefix: source)
        let packed = try IndexedDatasetReader(prefix: out)
        var pieces: [[Int32]] = []
        for row in 0 ..< packed.documentCount {
            let first = Int(packed.documentIndices[row]), last = Int(packed.documentIndices[row + 1]) - 1
            #expect(packed.document(row).count == L)
            #expect(packed.sequence(last).allSatisfy { $0 == 0 })  // the padding sequence (pad = EOD = 0)
            for s in first ..< last { pieces.append(packed.sequence(s)) }
        }
        let tokensIn = (0 ..< input.documentCount).reduce(0) { $0 + input.document($1).count }
        #expect(pieces.reduce(0) { $0 + $1.count } == tokensIn)
        if strategy == "best-fit" {
            // The pieces are exactly the documents cut into L-token chunks, each once.
            var chunks: [[Int32]] = []
            for d in 0 ..< input.documentCount {
                let ids = input.document(d)
                chunks += stride(from: 0, to: ids.count, by: L).map { Array(ids[$0 ..< min($0 + L, ids.count)]) }
            }
            let key = { (a: [Int32]) in a.map(String.init).joined(separator: ",") }
            #expect(pieces.map(key).sorted() == chunks.map(key).sorted())
        }
        let again = dir.appendingPathComponent("again").path
        #expect(try runTokenmill(["pack", "--seq-len", "\(L)", "--strategy", strategy, "--seed", "5", "-o", again, source]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + ".bin")) == Data(contentsOf: URL(fileURLWithPath: again + ".bin")))
    }

    @Test func badInputs() throws {
        let dir = try makeTemporaryDirectory("packbad")
        #expect(try runTokenmill(["pack", "--seq-len", "1", "-o", dir.appendingPathComponent("x").path, "y"]).status == 64)
        let missing = try runTokenmill(["pack", "--seq-len", "8", "-o", dir.appendingPathComponent("x").path, dir.appendingPathComponent("nope").path])
        #expect(missing.status == 1 && missing.stderr.contains("nope.idx: cannot open"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}

@Suite struct ShardCLITests {
    @Test func mergedShardsEqualTheSingleRunByteForByte() throws {
        let dir = try makeTemporaryDirectory("shards")
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        // The input three times over (three input files), so the shards get different batches.
        let common = ["tokenize", "--tokenizer", tokenizer, "--fim-rate", "0.5", "--seed", "11", "--threads", "2"]
        let inputs = [corpus, corpus, corpus]
        #expect(try runTokenmill(common + ["-o", dir.appendingPathComponent("single").path] + inputs).status == 0)
        for i in 0 ..< 2 {
            let r = try runTokenmill(common + ["--shard", "\(i)/2", "-o", dir.appendingPathComponent("part\(i)").path] + inputs)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merged = try runTokenmill(["merge", "-o", dir.appendingPathComponent("merged").path,
                                       dir.appendingPathComponent("part1").path, dir.appendingPathComponent("part0").path])
        #expect(merged.status == 0, "\(merged.stderr)")
        for ext in [".bin", ".idx", ".json"] {
            let a = try Data(contentsOf: dir.appendingPathComponent("single" + ext))
            let b = try Data(contentsOf: dir.appendingPathComponent("merged" + ext))
            #expect(a == b, "\(ext) differs")
        }
        let part0 = try IndexedDatasetReader(prefix: dir.appendingPathComponent("part0").path)
        let part1 = try IndexedDatasetReader(prefix: dir.appendingPathComponent("part1").path)
        #expect(part0.documentCount > 0 && part1.documentCount > 0)
        // A shard set with a gap, or shards of different runs, is refused.
        let gap = try runTokenmill(["merge", "-o", dir.appendingPathComponent("bad").path, dir.appendingPathComponent("part0").path])
        #expect(gap.status == 1 && gap.stderr.contains("are not exactly 0…N−1"))
        let other = try runTokenmill(common.map { $0 == "11" ? "12" : $0 } + ["--shard", "1/2", "-o", dir.appendingPathComponent("other1").path] + inputs)
        #expect(other.status == 0)
        let mixed = try runTokenmill(["merge", "-o", dir.appendingPathComponent("bad").path,
                                      dir.appendingPathComponent("part0").path, dir.appendingPathComponent("other1").path])
        #expect(mixed.status == 1 && mixed.stderr.contains("manifests disagree"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.bin").path))
        // Shards that agree but all lack a field: one error line naming the file and the field (this crashed
        // on a force-cast before the manifests were typed).
        for i in 0 ..< 2 {
            let url = dir.appendingPathComponent("part\(i).json")
            var m = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            var options = m["options"] as! [String: Any]
            options["allow_special"] = nil
            m["options"] = options
            try JSONSerialization.data(withJSONObject: m).write(to: url)
        }
        let lacking = try runTokenmill(["merge", "--no-verify", "-o", dir.appendingPathComponent("bad").path,
                                        dir.appendingPathComponent("part0").path, dir.appendingPathComponent("part1").path])
        #expect(lacking.status == 1)
        #expect(lacking.stderr.hasSuffix("error: \(dir.appendingPathComponent("part0").path).json: options.allow_special: missing\n"), "\(lacking.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.bin").path))
    }
}

extension ShardCLITests {
    /// Five files of uneven size (a slice of 3 documents to one of 120), FIM 0.1: for every N up to the file
    /// count, the N shards (each reading only its own files: shard.input_bytes is their size) merged equal
    /// the single run; more shards than files is a usage error; a shard of the older interleaved form is refused.
    @Test func unevenFilesMergeToOneRunForEveryShardCount() throws {
        let dir = try makeTemporaryDirectory("shards-uneven")
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        let lines = try decompressedLines(packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path)
        let cuts = [0, 3, 123, 140, 200, 259]
        var inputs: [String] = []
        for k in 0 ..< 5 {
            let p = path("in\(k).jsonl")
            try Data(lines[cuts[k] ..< cuts[k + 1]].joined().utf8).write(to: URL(fileURLWithPath: p))
            inputs.append(p)
        }
        let sizes = inputs.map { (try! FileManager.default.attributesOfItem(atPath: $0)[.size] as! NSNumber).intValue }
        let common = ["tokenize", "--progress", "none", "--tokenizer", tokenizer, "--fim-rate", "0.1", "--seed", "4"]
        let one = try runTokenmill(common + ["-o", path("one")] + inputs)
        #expect(one.status == 0, "\(one.stderr)")
        for n in 1 ... 5 {
            var parts: [String] = [], end = 0
            for i in 0 ..< n {
                let r = try runTokenmill(common + ["--shard", "\(i)/\(n)", "-o", path("n\(n)-\(i)")] + inputs)
                #expect(r.status == 0, "\(r.stderr)")
                let shard = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("n\(n)-\(i).json")))) as! [String: Any]
                let s = shard["shard"] as! [String: Any], files = s["files"] as! [Int]
                #expect(files[0] == end && files[1] > files[0], "n \(n) shard \(i): \(files)")
                #expect(s["input_bytes"] as? Int == sizes[files[0] ..< files[1]].reduce(0, +), "n \(n) shard \(i)")
                #expect(r.stderr.contains("; shard \(i)/\(n) read file"), "\(r.stderr)")
                end = files[1]
                parts.append(path("n\(n)-\(i)"))
            }
            #expect(end == 5)
            let merged = try runTokenmill(["merge", "-o", path("m\(n)")] + parts.reversed())
            #expect(merged.status == 0, "\(merged.stderr)")
            for ext in [".bin", ".idx", ".json"] {
                #expect(try Data(contentsOf: URL(fileURLWithPath: path("one") + ext)) == Data(contentsOf: URL(fileURLWithPath: path("m\(n)") + ext)), "N \(n): \(ext) differs")
            }
        }
        // FIM happened, so the order of the keys mattered.
        let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("one.json")))) as! [String: Any]
        #expect(((m["counts"] as! [String: Any])["fim_psm"] as! Int) > 10)
        // Six shards of five files: a usage error pointing at split; nothing written.
        let six = try runTokenmill(common + ["--shard", "0/6", "-o", path("six")] + inputs)
        #expect(six.status == 64 && six.stderr.contains("5 input files for 6 shards") && six.stderr.contains("tokenmill split --parts 6"), "\(six.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("six.bin")))
        // A shard manifest of the older form (batch_documents, no files) is refused with a hint.
        for i in 0 ..< 2 {
            let url = URL(fileURLWithPath: path("n2-\(i).json"))
            var o = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            o["shard"] = ["index": i, "count": 2, "batch_documents": [1]]
            try JSONSerialization.data(withJSONObject: o).write(to: url)
        }
        let old = try runTokenmill(["merge", "--no-verify", "-o", path("old"), path("n2-0"), path("n2-1")])
        #expect(old.status == 1 && old.stderr.contains("a shard of an older TokenMill") && old.stderr.contains("tokenize the shards again"), "\(old.stderr)")
    }
}

extension ShardCLITests {
    /// train-tokenizer --shard I/N --save-counts counts only its share of the files; the shards' counts
    /// trained together give the single run's tokenizer.json; --shard without --save-counts is refused.
    @Test func countingShardsTrainTheSingleRunsTokenizer() throws {
        let dir = try makeTemporaryDirectory("count-shards")
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let lines = try decompressedLines(packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path)
        let inputs = (0 ..< 3).map { path("in\($0).jsonl") }
        for (k, range) in [0 ..< 30, 30 ..< 200, 200 ..< 259].enumerated() {
            try Data(lines[range].joined().utf8).write(to: URL(fileURLWithPath: inputs[k]))
        }
        let common = ["train-tokenizer", "--progress", "none", "--vocab-size", "700", "--special-tokens", "<|endoftext|>"]
        #expect(try runTokenmill(common + ["-o", path("one.json")] + inputs).status == 0)
        var counts: [String] = []
        for i in 0 ..< 2 {
            let r = try runTokenmill(common + ["--shard", "\(i)/2", "--save-counts", path("c\(i).counts")] + inputs)
            #expect(r.status == 0, "\(r.stderr)")
            counts += ["--counts", path("c\(i).counts")]
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("c0.counts"))) != Data(contentsOf: URL(fileURLWithPath: path("c1.counts"))))
        #expect(try runTokenmill(common + ["-o", path("sharded.json")] + counts).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("one.json"))) == Data(contentsOf: URL(fileURLWithPath: path("sharded.json"))))
        #expect(try runTokenmill(common + ["--shard", "0/2", "-o", path("x.json")] + inputs).status == 64)
        #expect(try runTokenmill(common + ["--shard", "0/4", "--save-counts", path("x.counts")] + inputs).status == 64)
    }
}

/// The lines (newline included) of a zstd-compressed JSON Lines file.
func decompressedLines(_ path: String) throws -> [String] {
    let reader = CorpusReader(inputs: [path], options: ReadOptions(), warn: { _ in })
    var lines: [String] = []
    while let batch = try reader.nextBatch() {
        for i in 0 ..< batch.count { lines.append(String(decoding: batch.bytes[batch.starts[i] ..< batch.ends[i]], as: UTF8.self)) }
    }
    return lines.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" }
}

@Suite struct PrepareCLITests {
    @Test func oneConfigRunsNormalizeTokenizeAndPack() throws {
        let dir = try makeTemporaryDirectory("prepare")
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let config = dir.appendingPathComponent("prepare.json")
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        try Data("""
        {"inputs": ["\(corpus)"], "output": "\(dir.path)/d", "tokenizer": "\(tokenizer)",
         "normalize": {"form": "nfkc"}, "tokenize": {"fim_rate": 0.2, "seed": 3}, "pack": {"seq_len": 512}}
        """.utf8).write(to: config)
        let r = try runTokenmill(["prepare", "--config", config.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").map { $0.split(separator: ":")[0] }.prefix(5) == ["normalize", "dedup", "decontaminate", "tokenize", "pack best-fit"])
        let packed = try IndexedDatasetReader(prefix: dir.path + "/d.packed")
        #expect(packed.documentCount > 0 && packed.document(0).count == 512)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path + "/d.json"))) as! [String: Any]
        #expect((manifest["options"] as! [String: Any])["fim_rate"] as? Double == 0.2)

        try Data(#"{"inputs": ["x"], "output": "o", "tokenizer": "t", "pack": {"seq_len": 8, "sqe": 1}}"#.utf8).write(to: config)
        let bad = try runTokenmill(["prepare", "--config", config.path])
        #expect(bad.status == 64)
        #expect(bad.stderr == "error: \(config.path): unknown key 'pack.sqe' (known: buffer_docs, pad_id, seed, seq_len, shuffle, strategy, valid_fraction).\n")
    }
}

@Suite struct ResumeCLITests {
    @Test func aKilledRunResumesToTheSameBytes() throws {
        let dir = try makeTemporaryDirectory("resume")
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let args = ["tokenize", "--tokenizer", tokenizer, "--fim-rate", "0.2", "--seed", "1", "--threads", "1",
                    "--checkpoint-every", "1", "--progress", "none"]
        let inputs = [String](repeating: corpus, count: 10)
        #expect(try runTokenmill(args + ["-o", dir.appendingPathComponent("straight").path] + inputs).status == 0)

        let prefix = dir.appendingPathComponent("killed").path
        let state = dir.appendingPathComponent(".killed.resume.json.partial").path
        #expect(try killTokenmillAfterCheckpoint(args + ["-o", prefix] + inputs, statePath: state, batch: 3), "no checkpoint appeared")
        #expect(!FileManager.default.fileExists(atPath: prefix + ".bin"))  // never a half file under the real name
        // Other options cannot resume this checkpoint, and trying leaves it intact.
        let mismatch = try runTokenmill(args.map { $0 == "0.2" ? "0.3" : $0 } + ["--resume", "-o", prefix] + inputs)
        #expect(mismatch.status == 64 && mismatch.stderr.contains("another tokenizer, inputs or options"), "\(mismatch.stderr)")
        let resumed = try runTokenmill(args + ["--resume", "-o", prefix] + inputs)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming at input batch"))
        for ext in [".bin", ".idx", ".json"] {
            #expect(try Data(contentsOf: URL(fileURLWithPath: prefix + ext)) == Data(contentsOf: dir.appendingPathComponent("straight" + ext)), "\(ext) differs")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }.isEmpty)
    }
    /// A killed shard (files 6–10 of 10) resumes to the bytes of the same shard run straight through.
    @Test func aKilledShardResumesToTheSameBytes() throws {
        let dir = try makeTemporaryDirectory("resume-shard")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let args = ["tokenize", "--tokenizer", tokenizer, "--fim-rate", "0.2", "--seed", "1", "--threads", "1",
                    "--checkpoint-every", "1", "--progress", "none", "--shard", "1/2"]
        let inputs = [String](repeating: corpus, count: 10)
        #expect(try runTokenmill(args + ["-o", dir.appendingPathComponent("straight").path] + inputs).status == 0)
        let prefix = dir.appendingPathComponent("killed").path
        let state = dir.appendingPathComponent(".killed.resume.json.partial").path
        #expect(try killTokenmillAfterCheckpoint(args + ["-o", prefix] + inputs, statePath: state, batch: 2), "no checkpoint appeared")
        let resumed = try runTokenmill(args + ["--resume", "-o", prefix] + inputs)
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming at input batch"), "\(resumed.stderr)")
        for ext in [".bin", ".idx", ".json"] {
            #expect(try Data(contentsOf: URL(fileURLWithPath: prefix + ext)) == Data(contentsOf: dir.appendingPathComponent("straight" + ext)), "\(ext) differs")
        }
    }
}
