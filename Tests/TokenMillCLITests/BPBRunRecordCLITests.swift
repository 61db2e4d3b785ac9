// `tokenmill bpb --run` without --tokenizer and --normalize: the run's checkpoint/data.json, written by
// `train` from the manifests that normalize → tokenize → pack leave, names the tokenizer (checked by
// SHA-256) and the normalization. Real data: the bundled test split through the real CLI stages.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

/// The test split normalized (NFKC), a 300-id tokenizer trained on it, tokenized, packed in rows of 16,
/// and a one-step tiny run on that: made once for the suite.
private let fixture: (dir: URL, tokenizer: String, normalized: String, source: String, packed: String, config: String, run: String) = {
    let dir = try! makeTemporaryDirectory("bpb-record")
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func run(_ args: [String]) {
        let r = try! runTokenmill(args)
        precondition(r.status == 0, "\(args): \(r.stderr)")
    }
    let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
    run(["normalize", "--form", "nfkc", "-o", path("test.nfkc.jsonl.zst"), corpus])
    run(["train-tokenizer", "--vocab-size", "300", "--special-tokens", "<|endoftext|>", "-o", path("tok.json"), path("test.nfkc.jsonl.zst")])
    run(["tokenize", "--tokenizer", path("tok.json"), "--fim-rate", "0", "-o", path("src"), path("test.nfkc.jsonl.zst")])
    run(["pack", "--seq-len", "16", "--valid-fraction", "0.05", "-o", path("packed"), path("src")])
    try! Data(#"{"model": {"vocab_size": 300, "max_position_embeddings": 16}, "training": {"sequence_length": 16, "micro_batch_size": 2, "eval_batches": 1}}"#.utf8)
        .write(to: dir.appendingPathComponent("c.json"))
    run(["train", "--config", path("c.json"), "--data", path("packed"), "--out", path("run"), "--steps", "1"])
    return (dir, path("tok.json"), path("test.nfkc.jsonl.zst"), path("src"), path("packed"), path("c.json"), path("run"))
}()

private func object(_ data: Data) throws -> [String: Any] { try JSONSerialization.jsonObject(with: data) as! [String: Any] }
private func object(file: String) throws -> [String: Any] { try object(Data(contentsOf: URL(fileURLWithPath: file))) }

/// A copy of the fixture's run, to damage.
private func copyOfRun(_ name: String) throws -> String {
    let copy = fixture.dir.appendingPathComponent(name).path
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: fixture.run, toPath: copy)
    return copy
}

@Suite(.serialized) struct BPBRunRecordCLITests {
    let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path

    /// The normalization travels normalize → tokenize → pack → train; the record names the tokenizer
    /// with its SHA-256 and size.
    @Test func theStagesCarryTheTokenizerAndNormalizationIntoTheRun() throws {
        let nfkc: [String: Bool] = ["drop_bom": true, "crlf_to_lf": true, "strip_control": true]
        let sidecar = try object(file: fixture.normalized + ".tokenmill.json")
        #expect(sidecar["format"] as? String == "tokenmill-normalized-corpus")
        for manifest in [sidecar, try object(file: fixture.source + ".json"), try object(file: fixture.packed + ".json")] {
            let n = try #require(manifest["normalization"] as? [String: Any])
            #expect(n["form"] as? String == "nfkc")
            for (k, v) in nfkc { #expect(n[k] as? Bool == v, "\(k)") }
        }
        let tokenize = try object(file: fixture.source + ".json")["tokenizer"] as! [String: Any]
        let record = try object(file: fixture.run + "/checkpoint/data.json")
        #expect(record["format"] as? String == "tokenmill-training-data" && record["data"] as? String == fixture.packed)
        #expect(record["manifest"] as? String == fixture.packed + ".json")
        let t = try #require(record["tokenizer"] as? [String: Any])
        #expect(t["sha256"] as? String == tokenize["sha256"] as? String && (t["sha256"] as? String)?.count == 64)
        #expect(t["path"] as? String == fixture.tokenizer && t["resolved"] as? String == fixture.tokenizer)
        #expect(t["vocabulary_size"] as? Int == 300)
        #expect((record["normalization"] as? [String: Any])?["form"] as? String == "nfkc")
        // A corpus directory holding the sidecar still lists only the corpus.
        let folder = fixture.dir.appendingPathComponent("folder").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for f in [fixture.normalized, fixture.normalized + ".tokenmill.json"] {
            try FileManager.default.copyItem(atPath: f, toPath: folder + "/" + (f as NSString).lastPathComponent)
        }
        #expect(try expandInputs([folder]) == [folder + "/test.nfkc.jsonl.zst"])
    }

    /// Without --tokenizer: the same report, byte for byte, as with the recorded tokenizer given.
    @Test func theRecordedTokenizerGivesTheExplicitCallsReport() throws {
        let common = ["--json", "--max-docs", "20", "--resamples", "50", corpus]
        let recorded = try runTokenmill(["bpb", "--run", fixture.run] + common)
        let explicit = try runTokenmill(["bpb", "--run", fixture.run, "--tokenizer", fixture.tokenizer] + common)
        #expect(recorded.status == 0 && explicit.status == 0, "\(recorded.stderr)\(explicit.stderr)")
        #expect(recorded.stdout == explicit.stdout)
        let report = try object(recorded.stdout)
        #expect(report["tokenizer"] as? String == fixture.tokenizer && report["normalization"] as? String == "nfkc")
        #expect(report["normalization_source"] as? String == fixture.run + "/checkpoint/data.json")
        // --checkpoint DIR finds the record too.
        let viaCheckpoint = try runTokenmill(["bpb", "--checkpoint", fixture.run + "/checkpoint"] + common)
        #expect(viaCheckpoint.status == 0, "\(viaCheckpoint.stderr)")
        let checkpointOverall = try object(viaCheckpoint.stdout)["overall"] as! [String: Any]
        #expect(checkpointOverall["nll_nats"] as? Double == (report["overall"] as! [String: Any])["nll_nats"] as? Double)
        // The table says where the settings came from.
        let table = try runTokenmill(["bpb", "--run", fixture.run, "--max-docs", "5", "--resamples", "10", corpus])
        #expect(table.stdoutString.hasPrefix("model \(fixture.run), tokenizer \(fixture.tokenizer) (from \(fixture.run)/checkpoint/data.json, SHA-256 checked), normalization nfkc (from \(fixture.run)/checkpoint/data.json)"), "\(table.stdoutString)")
    }

    /// Text NFKC changes: the recorded normalization scores it as --normalize nfkc does, not as none;
    /// an explicit --normalize wins over the record.
    @Test func theRecordedNormalizationIsApplied() throws {
        let input = fixture.dir.appendingPathComponent("nfkc.jsonl")
        try Data(("{\"text\":\"ﬁne café ２０２４ ﬀ ﬁnal ﬂow\",\"meta\":{\"pile_set_name\":\"A\"}}\n" +
                  "{\"text\":\"Ⅻ ㎏ ½ ｆｕｌｌｗｉｄｔｈ\",\"meta\":{\"pile_set_name\":\"B\"}}\n").utf8).write(to: input)
        func overall(_ extra: [String]) throws -> [String: Any] {
            let r = try runTokenmill(["bpb", "--run", fixture.run, "--json", "--resamples", "10", input.path] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try object(r.stdout)["overall"] as! [String: Any]
        }
        let recorded = try overall([]), nfkc = try overall(["--normalize", "nfkc"]), none = try overall(["--normalize", "none"])
        #expect(recorded["tokens"] as? Int == nfkc["tokens"] as? Int && recorded["nll_nats"] as? Double == nfkc["nll_nats"] as? Double)
        #expect(recorded["tokens"] as? Int != none["tokens"] as? Int)
        #expect(recorded["nll_nats"] as? Double != none["nll_nats"] as? Double)
        #expect(recorded["bytes"] as? Int == none["bytes"] as? Int)   // bytes of the original text either way
    }

    /// A changed or missing tokenizer file: exit 1 naming it; no record: exit 64 asking for --tokenizer.
    @Test func aChangedMissingOrUnrecordedTokenizerIsAClearError() throws {
        let run = try copyOfRun("run-changed")
        let copy = fixture.dir.appendingPathComponent("tok-copy.json").path
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: fixture.tokenizer, toPath: copy)
        let recordPath = run + "/checkpoint/data.json"
        var record = try object(file: recordPath)
        var t = record["tokenizer"] as! [String: Any]
        t["path"] = copy; t["resolved"] = copy
        record["tokenizer"] = t
        try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: recordPath))
        try rehashCheckpoint(run + "/checkpoint")
        let args = ["bpb", "--run", run, "--max-docs", "3", corpus]
        #expect(try runTokenmill(args).status == 0)
        let handle = try #require(FileHandle(forWritingAtPath: copy))
        handle.seekToEndOfFile(); handle.write(Data(" ".utf8)); try handle.close()
        let changed = try runTokenmill(args)
        #expect(changed.status == 1)
        #expect(changed.stderr.hasPrefix("error: \(copy): the tokenizer changed since the run was trained") && changed.stderr.contains("pass --tokenizer"), "\(changed.stderr)")
        #expect(changed.stderr.split(separator: "\n").count == 1, "\(changed.stderr)")
        try FileManager.default.removeItem(atPath: copy)
        let missing = try runTokenmill(args)
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error: \(copy): the tokenizer the run was trained with") && missing.stderr.contains("is missing; pass --tokenizer"), "\(missing.stderr)")
        // A run without a record (older runs): a usage error asking for --tokenizer; with it, it works.
        let old = try copyOfRun("run-old")
        try FileManager.default.removeItem(atPath: old + "/checkpoint/data.json")
        try rehashCheckpoint(old + "/checkpoint")
        let unrecorded = try runTokenmill(["bpb", "--run", old, "--max-docs", "3", corpus])
        #expect(unrecorded.status == 64 && unrecorded.stderr.contains("pass --tokenizer"), "\(unrecorded.stderr)")
        let given = try runTokenmill(["bpb", "--run", old, "--tokenizer", fixture.tokenizer, "--json", "--max-docs", "3", corpus])
        #expect(given.status == 0, "\(given.stderr)")
        let givenReport = try object(given.stdout)
        #expect(givenReport["normalization"] as? String == "none" && givenReport["normalization_source"] as? String == "not recorded")
    }

    /// Resuming keeps the record; resuming on data from another tokenizer is refused; a raw token file
    /// records no tokenizer, so bpb asks for one.
    @Test func resumeKeepsTheRecordAndRawTokensRecordNoTokenizer() throws {
        let run = try copyOfRun("run-resume")
        let before = try object(file: run + "/checkpoint/data.json")
        let resumed = try runTokenmill(["train", "--config", fixture.config, "--data", fixture.packed, "--out", run, "--resume", "--steps", "2"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let after = try object(file: run + "/checkpoint/data.json")
        #expect(NSDictionary(dictionary: before).isEqual(to: after))
        let other = fixture.dir.appendingPathComponent("tok-other.json").path, otherData = fixture.dir.appendingPathComponent("src-other").path
        #expect(try runTokenmill(["train-tokenizer", "--vocab-size", "300", "--special-tokens", "<|endoftext|>", "-o", other, corpus]).status == 0)
        #expect(try runTokenmill(["tokenize", "--tokenizer", other, "--fim-rate", "0", "-o", otherData, corpus]).status == 0)
        let refused = try runTokenmill(["train", "--config", fixture.config, "--data", otherData, "--out", run, "--resume", "--steps", "3"])
        #expect(refused.status == 1 && refused.stderr.contains("tokenized with another tokenizer"), "\(refused.stderr)")
        #expect(try object(file: otherData + ".json")["normalization"] is NSNull)   // raw text in: normalization unknown
        // Raw tokens: no manifest, no tokenizer.
        let raw = fixture.dir.appendingPathComponent("raw.u16")
        try Data((0 ..< 4000).flatMap { i -> [UInt8] in [UInt8(i % 300 & 0xFF), UInt8((i % 300) >> 8)] }).write(to: raw)
        let rawRun = fixture.dir.appendingPathComponent("run-raw").path
        let trained = try runTokenmill(["train", "--config", fixture.config, "--data", raw.path, "--out", rawRun, "--steps", "1"])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(try object(file: rawRun + "/checkpoint/data.json")["tokenizer"] is NSNull)
        let asked = try runTokenmill(["bpb", "--run", rawRun, "--max-docs", "3", corpus])
        #expect(asked.status == 64 && asked.stderr.contains("names no tokenizer; pass --tokenizer"), "\(asked.stderr)")
    }
}
