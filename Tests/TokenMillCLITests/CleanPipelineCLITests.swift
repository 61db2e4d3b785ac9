// Dedup and decontamination inside `prepare`, carried into the run's data.json, and `bpb`'s line on
// whether its test file was decontaminated against. Real data: the first training documents of the
// bundled corpus with three planted documents (an exact copy, a near copy with one word changed, and
// one holding a 20-word window of a test document), through the real CLI.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

/// The bytes of a .zst file, decompressed until at least `lines` newlines are in (all of it by default).
func zstdDecompressFile(_ path: String, lines: Int = .max) throws -> [UInt8] {
    let source = ZstdByteSource(base: try FileByteSource(path: path))
    var bytes: [UInt8] = []
    var newlines = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
    defer { buffer.deallocate() }
    while newlines < lines {
        let got = try source.read(into: buffer)
        if got == 0 { break }
        newlines += buffer.prefix(got).lazy.filter { $0 == 10 }.count
        bytes += buffer.prefix(got)
    }
    return bytes
}

/// The first `n` JSON lines (newline included) of a bundled split, decompressed only as far as needed.
func firstBundledLines(_ split: String, _ n: Int) throws -> [String] {
    let bytes = try zstdDecompressFile(packageRoot.appendingPathComponent("corpora/\(split).jsonl.zst").path, lines: n)
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).prefix(n).map { $0 + "\n" }
}

/// A training split with planted documents after the first `train.count`: at `contaminated` one holding
/// words 20..<40 of test document `testPosition`, at `exact` a copy of document 3, at `near` a copy of
/// document `nearOf` with one word changed.
struct PlantedCorpus {
    var train: [String]
    var test: [String]
    var contaminated: Int, exact: Int, near: Int, nearOf: Int, testPosition: Int

    init(train first: [String], test: [String]) throws {
        func text(_ line: String) throws -> String {
            try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["text"] as? String)
        }
        func line(_ text: String) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: ["text": text, "meta": ["pile_set_name": "Planted"]], options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        func words(_ s: String) -> [Substring] { s.split(whereSeparator: { $0 == " " || $0 == "\n" }) }
        self.test = test
        testPosition = try #require(try test.indices.first { try words(text(test[$0])).filter { $0.allSatisfy(\.isLetter) }.count > 200 })
        nearOf = try #require(try first.indices.first { try words(text(first[$0])).count > 400 && $0 != 3 })
        train = first
        contaminated = train.count
        let window = words(try text(test[testPosition]))[20 ..< 40].joined(separator: " ")
        train.append(try line("A planted note quoting a test document: " + window + " -- end of the quotation."))
        exact = train.count
        train.append(first[3])
        near = train.count
        var nearWords = try text(first[nearOf]).components(separatedBy: " ")
        nearWords[nearWords.count / 2] = "zebra"
        train.append(try line(nearWords.joined(separator: " ")))
    }

    /// Writes train.jsonl.zst and test.jsonl.zst into `dir`.
    func write(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(zstdFrame(Array(train.joined().utf8))).write(to: dir.appendingPathComponent("train.jsonl.zst"))
        try Data(zstdFrame(Array(test.joined().utf8))).write(to: dir.appendingPathComponent("test.jsonl.zst"))
    }
}

/// The JSON lines of a file, as objects.
func jsonLines(_ path: String) throws -> [[String: Any]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
        try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
}

private func object(_ path: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
}

@Suite(.serialized) final class CleanPipelineCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("clean-pipeline") }
    deinit { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @Test func prepareRemovesPlantedCopiesAndOverlapAndTheRunRecordsItForBPB() throws {
        let planted = try PlantedCorpus(train: firstBundledLines("train", 120), test: firstBundledLines("test", 20))
        try planted.write(to: dir.appendingPathComponent("corpus"))
        let train = path("corpus/train.jsonl.zst"), test = path("corpus/test.jsonl.zst")
        let tokenizer = path("tok.json")
        let t = try runTokenmill(["train-tokenizer", "--vocab-size", "300", "--special-tokens", "<|endoftext|>", "-o", tokenizer, train])
        #expect(t.status == 0, "\(t.stderr)")
        try Data("""
        inputs = ["\(train)"]
        output = "\(path("d"))"
        tokenizer = "\(tokenizer)"
        [normalize]
        form = "nfkc"
        [decontaminate]
        against = ["\(test)"]
        [tokenize]
        fim_rate = 0
        [pack]
        seq_len = 16
        valid_fraction = 0.05
        """.utf8).write(to: dir.appendingPathComponent("prepare.toml"))
        let r = try runTokenmill(["prepare", "--progress", "none", "--config", path("prepare.toml")])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.map { $0.split(separator: ":")[0] }.prefix(5) == ["normalize", "dedup", "decontaminate", "tokenize", "pack best-fit"], "\(r.stderr)")

        // The removed-documents list names the planted copies (input positions) and their survivors.
        let removed = try jsonLines(path("d.dedup-removed.jsonl"))
        let exact = try #require(removed.first { $0["position"] as? Int == planted.exact })
        #expect(exact["survivor"] as? Int == 3 && exact["match"] as? String == "exact")
        let near = try #require(removed.first { $0["position"] as? Int == planted.near }, "\(removed)")
        #expect(near["match"] as? String == "near" && (near["survivor"] as? Int ?? .max) <= planted.nearOf)
        // The hits list names the test document and the planted training document.
        let hits = try jsonLines(path("d.contamination.jsonl"))
        let hit = try #require(hits.first { $0["test_position"] as? Int == planted.testPosition }, "\(hits)")
        #expect((hit["training_positions"] as? [Int])?.contains(planted.contaminated) == true)
        #expect(hit["test_file"] as? String == test)
        // The cleaned text lacks all three; the sidecar counts them.
        let cleaned = try String(decoding: zstdDecompressFile(path("d.clean.jsonl.zst")), as: UTF8.self)
        #expect(!cleaned.contains("A planted note") && !cleaned.contains("zebra"))
        let record = try #require(try object(path("d.clean.jsonl.zst.cleaning.json"))["cleaning"] as? [String: Any])
        let dedup = try #require(record["dedup"] as? [String: Any]), decontamination = try #require(record["decontamination"] as? [String: Any])
        #expect(record["documents_in"] as? Int == planted.train.count)
        #expect((dedup["exact_removed"] as? Int ?? 0) >= 1 && (dedup["near_removed"] as? Int ?? 0) >= 1 && dedup["keep_numbers"] as? Bool == true)
        let contaminatedCount = try #require(decontamination["training_contaminated"] as? Int)
        #expect(record["documents_kept"] as? Int == planted.train.count - removed.count - contaminatedCount)
        #expect(decontamination["max_ngram_documents"] as? Int == 10 && decontamination["ngram"] as? Int == 13)
        let against = try #require((decontamination["against"] as? [[String: Any]])?.first)
        let testHash = try sha256(ofFile: test)
        #expect(against["path"] as? String == test && against["sha256"] as? String == testHash)
        // tokenize read the cleaned file and still records the normalization.
        let manifest = try object(path("d.json"))
        #expect(manifest["inputs"] as? [String] == [path("d.clean.jsonl.zst")])
        #expect((manifest["normalization"] as? [String: Any])?["form"] as? String == "nfkc")

        // train copies the record into data.json; bpb says the test file was decontaminated against.
        try Data(#"{"model": {"vocab_size": 300, "max_position_embeddings": 16}, "training": {"sequence_length": 16, "micro_batch_size": 2, "eval_batches": 1}}"#.utf8)
            .write(to: dir.appendingPathComponent("c.json"))
        let trained = try runTokenmill(["train", "--config", path("c.json"), "--data", path("d.packed"), "--out", path("run"), "--steps", "1"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let data = try object(path("run/checkpoint/data.json"))
        let recorded = try #require((data["cleaning"] as? [[String: Any]])?.first)
        #expect(recorded["corpus"] as? String == path("d.clean.jsonl.zst"))
        #expect(((recorded["decontamination"] as? [String: Any])?["against"] as? [[String: Any]])?.first?["sha256"] as? String == testHash)
        let bpb = ["bpb", "--run", path("run"), "--max-docs", "1", "--resamples", "0"]
        let among = try runTokenmill(bpb + [test])
        #expect(among.status == 0, "\(among.stderr)")
        #expect(among.stderr.split(separator: "\n").dropLast().last == "note: \(test) was among the decontamination targets of the training data (\(path("run/checkpoint"))/data.json)")
        // A copy elsewhere is the same content: still among them. An edited file is not: one warning line.
        try FileManager.default.copyItem(atPath: test, toPath: path("copy.jsonl.zst"))
        let copy = try runTokenmill(bpb + [path("copy.jsonl.zst")])
        #expect(copy.status == 0 && copy.stderr.contains("note: \(path("copy.jsonl.zst")) was among"), "\(copy.stderr)")
        try Data(zstdFrame(Array(planted.test.dropFirst().joined().utf8))).write(to: dir.appendingPathComponent("edited.jsonl.zst"))
        let other = try runTokenmill(bpb + [path("edited.jsonl.zst")])
        #expect(other.status == 0, "\(other.stderr)")
        let warnings = other.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") || $0.hasPrefix("note:") }
        #expect(warnings == ["warning: \(path("edited.jsonl.zst")) was not among the decontamination targets of the training data (\(path("d.clean.jsonl.zst")) in \(path("run/checkpoint"))/data.json): the model may have trained on text of it"])

        // No cleaning record (data cleaned elsewhere, or older): one note, no warning.
        let checkpoint = path("run/checkpoint")
        var stripped = data
        stripped["cleaning"] = nil
        try JSONSerialization.data(withJSONObject: stripped, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: checkpoint + "/data.json"))
        try rehashCheckpoint(checkpoint)
        let unknown = try runTokenmill(bpb + [test])
        #expect(unknown.status == 0, "\(unknown.stderr)")
        #expect(unknown.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") || $0.hasPrefix("note:") }
                == ["note: \(checkpoint)/data.json records no cleaning of the training data: cannot tell whether the training data was decontaminated against the test files"])
        // No data.json at all (as a checkpoint from elsewhere): the same single note.
        try FileManager.default.removeItem(atPath: checkpoint + "/data.json")
        try rehashCheckpoint(checkpoint)
        let none = try runTokenmill(bpb + ["--tokenizer", tokenizer, test, path("copy.jsonl.zst")])
        #expect(none.status == 0, "\(none.stderr)")
        #expect(none.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") || $0.hasPrefix("note:") }
                == ["note: \(checkpoint) has no data.json: cannot tell whether the training data was decontaminated against the test files"])
    }

    @Test func prepareSwitchesEachStageOffAndChecksItsKeys() throws {
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        let config = path("prepare.json")
        try Data("""
        {"inputs": ["\(corpus)"], "output": "\(path("e"))", "tokenizer": "\(tokenizer)", "dedup": {"enabled": false}}
        """.utf8).write(to: URL(fileURLWithPath: config))
        let r = try runTokenmill(["prepare", "--progress", "none", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("dedup: off; decontaminate: off\ntokenize: 259 documents"), "\(r.stderr)")
        #expect(try object(path("e.json"))["inputs"] as? [String] == [corpus])
        #expect(!FileManager.default.fileExists(atPath: path("e.clean.jsonl.zst")))
        for (section, message) in [(#""dedup": {"keep_number": true}"#, "unknown key 'dedup.keep_number' (known: bands, enabled, exact_only, keep_numbers, ngram, rows, seed, sort_memory)."),
                                   (#""decontaminate": {"action": "drop"}"#, "'decontaminate.action' must be remove or flag."),
                                   (#""decontaminate": {"enabled": true}"#, "'decontaminate.against' must list the test files to decontaminate against."),
                                   (#""decontaminate": {"max_ngram_documents": 1.5}"#, "'decontaminate.max_ngram_documents' must be an integer."),
                                   (#""dedup": {"bands": 0}"#, "'dedup.bands' must be at least 1.")] {
            try Data(#"{"inputs": ["x"], "output": "o", "tokenizer": "t", \#(section)}"#.utf8).write(to: URL(fileURLWithPath: config))
            let bad = try runTokenmill(["prepare", "--config", config])
            #expect(bad.status == 64 && bad.stderr == "error: \(config): \(message)\n", "\(bad.stderr)")
        }
    }
}
