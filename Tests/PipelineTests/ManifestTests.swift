// Typed manifests: each reads back what its writer wrote, the bytes keep the layout the CLI always
// wrote (checked against Foundation's writers where Foundation wrote them), and a record with a missing
// or mistyped field is an error naming the file and the field.
import Foundation
import Normalization
import Packing
import Pipeline
import Testing

/// `text` (a JSON object) with the value at `path` removed or replaced.
private func edited(_ text: Data, _ path: [String], to value: Any?) throws -> Data {
    func edit(_ o: [String: Any], _ path: ArraySlice<String>) -> [String: Any] {
        var o = o
        if path.count == 1 { o[path.first!] = value } else { o[path.first!] = edit(o[path.first!] as! [String: Any], path.dropFirst()) }
        return o
    }
    return try JSONSerialization.data(withJSONObject: edit(try JSONSerialization.jsonObject(with: text) as! [String: Any], path[...]))
}

@Suite struct ManifestTests {
    @Test func tokenizeManifestReadsBackAndKeepsItsLayout() throws {
        let f = try DatasetFixture("manifest-layout", documents: 20)
        defer { f.remove() }
        let written = try f.tokenize("t") { $0.fim.rate = 0.2; $0.fim.seed = 3; $0.splitPunctuationNewline = 0.5; $0.shard = Shard(index: 0, count: 1) }
        let bytes = try f.bytes("t.json")
        let read = try #require(try TokenizedDatasetManifest.read(prefix: f.dir + "/t"))
        #expect(read.sha256?.keys.sorted() == [".bin", ".idx"])
        #expect(Data(read.text.utf8) == bytes)
        var withoutHashes = read
        withoutHashes.sha256 = nil
        #expect(withoutHashes == written)
        // One line per field, in this order, each value on its line; Codable's encoding says the same.
        let keys = String(decoding: bytes, as: UTF8.self).split(separator: "\n").dropFirst().dropLast().map { $0.split(separator: "\"")[1] }
        #expect(keys == ["format", "tokenmill_version", "tokenizer", "inputs", "normalization", "options", "shard", "counts", "sha256"])
        let viaEncoder = try JSONSerialization.jsonObject(with: JSONEncoder().encode(read)) as! NSDictionary
        #expect(try JSONSerialization.jsonObject(with: bytes) as! NSDictionary == viaEncoder)
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""options": {"dtype": "uint16", "append_eod": true, "eod_token": "<｜end▁of▁sentence｜>", "eod_id": \#(written.options.eod!.id), "allow_special": false, "text_field": "text", "fim_rate": 0.2, "fim_spm_rate": 0.0, "fim_tokens": ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"], "split_punctuation_newline": 0.5, "seed": 3}"#))
    }

    @Test(arguments: [
        (["options", "allow_special"], "options.allow_special: missing"),
        (["counts", "tokens"], "counts.tokens: missing"),
        (["tokenizer", "sha256"], "tokenizer.sha256: missing"),
        (["inputs"], "inputs: missing"),
        (["format"], "format: missing"),
        (["shard", "count"], "shard.count: missing"),
    ])
    func aMissingFieldIsNamed(path: [String], message: String) throws {
        let f = try DatasetFixture("manifest-missing", documents: 10)
        defer { f.remove() }
        try f.tokenize("t") { $0.shard = Shard(index: 0, count: 1) }
        try edited(f.bytes("t.json"), path, to: nil).write(to: URL(fileURLWithPath: f.dir + "/t.json"))
        #expect(throws: ManifestError(path: f.dir + "/t.json", field: message.components(separatedBy: ": ")[0], "missing")) {
            try TokenizedDatasetManifest.read(prefix: f.dir + "/t")
        }
        #expect(throws: ManifestError.self) { try DatasetManifest.read(prefix: f.dir + "/t") }
    }

    @Test func mistypedFieldsAndOtherFormatsAreNamed() throws {
        let f = try DatasetFixture("manifest-types", documents: 10)
        defer { f.remove() }
        try f.tokenize("t")
        let path = f.dir + "/t.json", original = try f.bytes("t.json")
        try edited(original, ["counts", "tokens"], to: "many").write(to: URL(fileURLWithPath: path))
        #expect(throws: ManifestError(path: path, field: "counts.tokens", "expected an integer")) { try TokenizedDatasetManifest.read(prefix: f.dir + "/t") }
        try edited(original, ["options", "dtype"], to: "float128").write(to: URL(fileURLWithPath: path))
        #expect(throws: ManifestError(path: path, field: "options.dtype", "unknown element type \"float128\"")) { try TokenizedDatasetManifest.read(prefix: f.dir + "/t") }
        try edited(original, ["format"], to: "something-else").write(to: URL(fileURLWithPath: path))
        #expect(throws: ManifestError(path: path, field: "format", #"is "something-else", expected "megatron-indexed-dataset""#)) { try TokenizedDatasetManifest.read(prefix: f.dir + "/t") }
        #expect(throws: ManifestError(path: path, field: "format", #"is "something-else", expected "megatron-indexed-dataset" or "tokenmill-packed-megatron-dataset""#)) { try DatasetManifest.read(prefix: f.dir + "/t") }
        try Data("{\"format\": ".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ManifestError(path: path, field: nil, "not valid JSON")) { try TokenizedDatasetManifest.read(prefix: f.dir + "/t") }
    }

    /// The crash this replaces: shards that agree but all lack a field made `merge` force-unwrap nil.
    @Test func mergingShardsThatLackAFieldNamesIt() throws {
        let f = try DatasetFixture("manifest-merge", documents: 10)
        defer { f.remove() }
        for i in 0 ..< 2 {
            try f.tokenize("s\(i)", copies: 2) { $0.shard = Shard(index: i, count: 2) }
            try edited(f.bytes("s\(i).json"), ["options", "allow_special"], to: nil).write(to: URL(fileURLWithPath: f.dir + "/s\(i).json"))
        }
        #expect(throws: ManifestError(path: f.dir + "/s0.json", field: "options.allow_special", "missing")) {
            try ShardMerge.run(shards: [f.dir + "/s0", f.dir + "/s1"], output: f.dir + "/m", version: "test", verify: false, warn: { _ in })
        }
        #expect(!FileManager.default.fileExists(atPath: f.dir + "/m.bin"))
    }

    /// The training-data record and demo stamps were written by JSONSerialization from dictionaries;
    /// the typed writers give the same bytes.
    @Test func prettyRecordsEqualFoundationsDictionaryWriter() throws {
        var cleanups = Cleanups()
        cleanups.stripControl = false
        let record = TrainingDataRecord(data: "data/p", dataResolved: "/w/data/p", manifest: "/w/data/p.json",
                                        tokenizer: .init(path: "tok/tokenizer.json", sha256: "ab12", vocabularySize: 800, resolved: nil),
                                        normalization: NormalizationRecord(form: .nfkc, cleanups: cleanups), normalizationSource: "/w/data/p.json")
        let dictionary: [String: Any] = [
            "format": "tokenmill-training-data", "data": "data/p", "data_resolved": "/w/data/p", "manifest": "/w/data/p.json",
            "tokenizer": ["path": "tok/tokenizer.json", "sha256": "ab12", "vocabulary_size": 800, "resolved": NSNull()],
            "normalization": ["form": "nfkc", "drop_bom": true, "crlf_to_lf": true, "strip_control": false], "normalization_source": "/w/data/p.json",
        ]
        let foundation = try JSONSerialization.data(withJSONObject: dictionary, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8)
        #expect(record.encoded == foundation)
        #expect(try JSONDecoder().decode(TrainingDataRecord.self, from: record.encoded) == record)

        let stamp = DemoStageStamp(stage: "pack", key: "k1", keyText: "pack --seq-len 512\n", digest: "d2", seconds: 1.0937215089797974, summary: "pack best-fit: 1 → 2",
                                   outputs: [.init(path: "OUT/train.packed.bin", size: 123, modifiedMillis: 1_764_800_000_123)])
        let stampDictionary: [String: Any] = ["stage": "pack", "key": "k1", "key_text": "pack --seq-len 512\n", "digest": "d2", "seconds": 1.0937215089797974,
                                              "summary": "pack best-fit: 1 → 2", "outputs": [["OUT/train.packed.bin", 123, 1_764_800_000_123] as [Any]]]
        #expect(stamp.encoded == (try JSONSerialization.data(withJSONObject: stampDictionary, options: [.sortedKeys, .prettyPrinted])) + Data("\n".utf8))
        #expect(try JSONDecoder().decode(DemoStageStamp.self, from: stamp.encoded) == stamp)
    }

    @Test func aNormalizedCorpusSidecarHoldsOnlyWhileTheFileKeepsItsSize() throws {
        let dir = NSTemporaryDirectory() + "sidecar-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let corpus = dir + "/c.jsonl"
        try Data("{\"text\": \"a\"}\n".utf8).write(to: URL(fileURLWithPath: corpus))
        let record = NormalizationRecord(form: .nfkc, cleanups: Cleanups())
        try NormalizedCorpusManifest.write(output: corpus, normalization: record, inputs: ["in/raw.jsonl"])
        #expect(NormalizedCorpusManifest.normalization(ofCorpusFile: corpus) == record)
        let sidecar = try #require(try readManifest(NormalizedCorpusManifest.self, path: NormalizedCorpusManifest.path(for: corpus)))
        #expect(sidecar == NormalizedCorpusManifest(normalization: record, inputs: ["in/raw.jsonl"], bytes: 14))
        try Data("{\"text\": \"ab\"}\n".utf8).write(to: URL(fileURLWithPath: corpus))
        #expect(NormalizedCorpusManifest.normalization(ofCorpusFile: corpus) == nil)
    }

    /// A dataset's manifest records the inputs' normalization only when every input's sidecar names the
    /// same one; inputs normalized differently are said so once.
    @Test func inputsRecordACommonNormalizationOrNone() throws {
        let f = try DatasetFixture("manifest-common-normalization", documents: 3)
        defer { f.remove() }
        let a = f.dir + "/a.jsonl", b = f.dir + "/b.jsonl"
        for p in [a, b] { try FileManager.default.copyItem(atPath: f.corpus, toPath: p) }
        let nfc = NormalizationRecord(form: .nfc, cleanups: Cleanups()), nfkc = NormalizationRecord(form: .nfkc, cleanups: Cleanups())
        var warnings: [String] = []
        func common() -> NormalizationRecord? { NormalizedCorpusManifest.commonNormalization(ofCorpusFiles: [a, b], warn: { warnings.append($0) }) }
        try NormalizedCorpusManifest.write(output: a, normalization: nfc, inputs: ["x"])
        #expect(common() == nil && warnings.isEmpty)   // b's is unknown
        try NormalizedCorpusManifest.write(output: b, normalization: nfc, inputs: ["y"])
        #expect(common() == nfc && warnings.isEmpty)
        try NormalizedCorpusManifest.write(output: b, normalization: nfkc, inputs: ["y"])
        #expect(common() == nil)
        #expect(warnings == ["warning: the inputs were normalized differently (their .tokenmill.json sidecars differ); the manifest records no normalization"])
    }
}
