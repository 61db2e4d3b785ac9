// `tokenmill export-hf` and `tokenmill import-hf` end to end: the complete folder from the tokenizer the
// run recorded (checked by SHA-256), --tokenizer written as tokenizer.json, --no-tokenizer, the way back
// (bpb of the imported run equals the original's, export again gives the same bytes), and bad inputs:
// one `error:` line, exit 1 (bad data) or 64 (bad usage), and no output directory left behind.
import Foundation
import Testing
import TokenMillTestSupport

/// A 300-id tokenizer trained on the test split, the split tokenized with it, and a one-step run on the
/// tokens (its checkpoint/data.json records the tokenizer): made once for the suite.
private let fixture: (dir: URL, tokenizer: String, run: String) = {
    let dir = makeOneStepRunFixture("export-import")
    return (dir, dir.appendingPathComponent("tok.json").path, dir.appendingPathComponent("run").path)
}()

private func path(_ name: String) -> String { fixture.dir.appendingPathComponent(name).path }
private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
private func object(_ path: String) throws -> [String: Any] { try JSONSerialization.jsonObject(with: bytes(path)) as! [String: Any] }
private func listing(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

/// A fresh copy of the fixture's run.
private func copyOfRun(_ name: String) throws -> String {
    let copy = path(name)
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: fixture.run, toPath: copy)
    return copy
}

/// The error of a failed command: exactly one line.
private func oneLine(_ r: CommandResult) -> String {
    #expect(r.stderr.hasPrefix("error: ") && r.stderr.hasSuffix("\n") && r.stderr.dropLast().firstIndex(of: "\n") == nil, "\(r.stderr)")
    return String(r.stderr.dropLast())
}

@Suite(.serialized) struct ExportImportCLITests {
    @Test func exportWritesACompleteFolderFromTheRecordedTokenizer() throws {
        let out = path("hf-complete")
        let r = try runTokenmill(["export-hf", fixture.run, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "export-hf: wrote \(out) (1 MTP module(s) as layer 2…; tokenizer \(fixture.tokenizer), bos/eos/pad <|endoftext|> (id 0))\n")
        #expect(listing(out) == ["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"])
        #expect(try bytes(out + "/tokenizer.json") == bytes(fixture.tokenizer))
        let config = try object(out + "/tokenizer_config.json")
        #expect(config.count == 8 && config["tokenizer_class"] as? String == "PreTrainedTokenizerFast" && config["model_max_length"] as? Int == 16)
        for k in ["bos_token", "eos_token", "pad_token"] { #expect(config[k] as? String == "<|endoftext|>", "\(k)") }
        #expect(config["add_bos_token"] as? Bool == false && config["add_eos_token"] as? Bool == false && config["clean_up_tokenization_spaces"] as? Bool == false)
        #expect(try String(decoding: bytes(out + "/special_tokens_map.json"), as: UTF8.self)
            == "{\n  \"bos_token\" : \"<|endoftext|>\",\n  \"eos_token\" : \"<|endoftext|>\",\n  \"pad_token\" : \"<|endoftext|>\"\n}\n")
        let generation = try object(out + "/generation_config.json")
        #expect(generation.count == 3 && generation.values.allSatisfy { $0 as? Int == 0 })
        let model = try object(out + "/config.json")
        #expect(model["bos_token_id"] as? Int == 0 && model["eos_token_id"] as? Int == 0 && model["pad_token_id"] == nil)
        #expect(model["num_nextn_predict_layers"] as? Int == 1 && model["max_position_embeddings"] as? Int == 16)
    }

    @Test func tokenizerOptionIsWrittenAsTokenizerJSON() throws {
        let other = path("my-tokenizer.json")
        try? FileManager.default.removeItem(atPath: other)
        try FileManager.default.copyItem(atPath: fixture.tokenizer, toPath: other)
        let out = path("hf-override")
        let r = try runTokenmill(["export-hf", fixture.run, "-o", out, "--tokenizer", other])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!listing(out).contains("my-tokenizer.json") && listing(out).contains("tokenizer.json"))
        #expect(try bytes(out + "/tokenizer.json") == bytes(other))
        // A tokenizer of another vocabulary size: exit 1, nothing written.
        let pythia = try tokenizerFixture("pythia/tokenizer.json")
        let bad = try runTokenmill(["export-hf", fixture.run, "-o", path("hf-pythia"), "--tokenizer", pythia])
        #expect(bad.status == 1)
        #expect(oneLine(bad) == "error: \(pythia): the tokenizer has 50277 ids but the model (\(fixture.run)/checkpoint) has 300; use the tokenizer the model was trained with")
        #expect(!FileManager.default.fileExists(atPath: path("hf-pythia")))
    }

    @Test func changedOrMissingRecordedTokenizerIsAnError() throws {
        let run = try copyOfRun("run-changed")
        let changed = path("changed-tok.json")
        try (bytes(fixture.tokenizer) + Data(" ".utf8)).write(to: URL(fileURLWithPath: changed))
        // Point the record at a file whose bytes differ from the recorded SHA-256.
        let recordPath = run + "/checkpoint/data.json"
        var record = try object(recordPath)
        var t = record["tokenizer"] as! [String: Any]
        t["path"] = changed; t["resolved"] = changed
        record["tokenizer"] = t
        try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: recordPath))
        try rehashCheckpoint(run + "/checkpoint")
        let out = path("hf-changed")
        let r = try runTokenmill(["export-hf", run, "-o", out])
        #expect(r.status == 1)
        #expect(oneLine(r).hasPrefix("error: \(changed): the tokenizer changed since the run was trained (SHA-256 "))
        try FileManager.default.removeItem(atPath: changed)
        let missing = try runTokenmill(["export-hf", run, "-o", out])
        #expect(missing.status == 1)
        #expect(oneLine(missing) == "error: \(changed): the tokenizer the run was trained with (named in \(run)/checkpoint/data.json) is missing; pass --tokenizer")
        #expect(!FileManager.default.fileExists(atPath: out) && !listing(fixture.dir.path).contains { $0.hasPrefix(".hf-changed") })
        // No record at all (a run on a raw token file): a usage error; --no-tokenizer writes the model alone.
        try FileManager.default.removeItem(atPath: recordPath)
        try rehashCheckpoint(run + "/checkpoint")
        let none = try runTokenmill(["export-hf", run, "-o", out])
        #expect(none.status == 64)
        #expect(oneLine(none) == "error: \(run)/checkpoint/data.json names no tokenizer (the run was trained on a raw token file, or before TokenMill recorded it); pass --tokenizer FILE, or --no-tokenizer to write the model alone.")
        let alone = try runTokenmill(["export-hf", run, "-o", out, "--no-tokenizer"])
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(listing(out) == ["config.json", "model.safetensors"])
    }

    @Test func importedRunScoresAndExportsLikeTheOriginal() throws {
        let hf = path("hf-roundtrip"), run = path("run-imported"), again = path("hf-again")
        #expect(try runTokenmill(["export-hf", fixture.run, "-o", hf]).status == 0)
        let r = try runTokenmill(["import-hf", hf, "-o", run, "--sequence-length", "16"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "import-hf: wrote \(run): 67,192 parameters, 2 layers (1 dense) + 1 MTP, 4 routed experts top-2, context 16; tokenizer \(run)/tokenizer.json (300 ids)\n")
        #expect(listing(run) == ["checkpoint", "tokenizer.json"])
        let record = try object(run + "/checkpoint/data.json")
        let t = try #require(record["tokenizer"] as? [String: Any])
        #expect(t["path"] as? String == run + "/tokenizer.json" && t["vocabulary_size"] as? Int == 300)
        let original = try object(fixture.run + "/checkpoint/data.json")["tokenizer"] as! [String: Any]
        #expect(t["sha256"] as? String == original["sha256"] as? String)
        // bpb reads the imported run's tokenizer from its record and scores exactly as the original.
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let a = try runTokenmill(["bpb", "--run", fixture.run, "--max-docs", "5", "--resamples", "0", "--json", corpus])
        let b = try runTokenmill(["bpb", "--run", run, "--max-docs", "5", "--resamples", "0", "--json", corpus])
        #expect(a.status == 0 && b.status == 0, "\(b.stderr)")
        let bpbA = try JSONSerialization.jsonObject(with: a.stdout) as! [String: Any], bpbB = try JSONSerialization.jsonObject(with: b.stdout) as! [String: Any]
        let overallA = bpbA["overall"] as! [String: Any], overallB = bpbB["overall"] as! [String: Any]
        #expect(overallA["bpb"] as? Double == overallB["bpb"] as? Double && (overallA["bpb"] as? Double ?? 0) > 1)
        // Export again: the same bytes in every file.
        #expect(try runTokenmill(["export-hf", run, "-o", again]).status == 0)
        #expect(listing(again) == listing(hf))
        for f in listing(hf) {
            let same = try bytes(hf + "/" + f) == bytes(again + "/" + f)
            #expect(same, "\(f)")
        }
        // Training continues the imported run.
        let resumed = try runTokenmill(["train", "--config", run + "/checkpoint/tokenmill.json", "--data", path("src"), "--out", run, "--resume", "--steps", "1"])
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming at step 0") && resumed.stderr.contains("trained to step 1"), "\(resumed.stderr)")
    }

    @Test func badFoldersFailWithOneLineAndLeaveNothing() throws {
        let hf = path("hf-bad")
        #expect(try runTokenmill(["export-hf", fixture.run, "-o", hf]).status == 0)
        let configPath = hf + "/config.json", good = try bytes(configPath)
        func importing(_ name: String) throws -> CommandResult {
            let r = try runTokenmill(["import-hf", hf, "-o", path(name)])
            #expect(!listing(fixture.dir.path).contains { $0.contains(name) }, "\(name) left behind")
            return r
        }
        var config = try object(configPath)
        config["topk_method"] = "group_limited_greedy"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        let unsupported = try importing("run-unsupported")
        #expect(unsupported.status == 1)
        #expect(oneLine(unsupported) == "error: \(hf)/config.json: field 'topk_method' is \"group_limited_greedy\"; TokenMill supports only \"noaux_tc\" (TokenMill selects experts with the balancing bias (DeepSeek-V3's noaux_tc))")
        config["topk_method"] = nil
        config["hidden_size"] = nil
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        let missing = try importing("run-missing")
        #expect(missing.status == 1 && oneLine(missing) == "error: \(hf)/config.json: field 'hidden_size' is missing")
        try good.write(to: URL(fileURLWithPath: configPath))
        // A truncated safetensors file.
        let weights = hf + "/model.safetensors", full = try bytes(weights)
        try full.prefix(full.count - 100).write(to: URL(fileURLWithPath: weights))
        let truncated = try importing("run-truncated")
        #expect(truncated.status == 1)
        #expect(oneLine(truncated) == "error: \(weights): file size \(full.count - 100) does not match the header (\(full.count))")
        try full.write(to: URL(fileURLWithPath: weights))
        // A run directory that already holds something: a usage error.
        let existing = path("run-existing")
        try? FileManager.default.removeItem(atPath: existing)
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: existing + "/notes.txt"))
        let busy = try runTokenmill(["import-hf", hf, "-o", existing])
        #expect(busy.status == 64)
        #expect(oneLine(busy) == "error: \(existing): already exists and holds notes.txt; choose a new or empty directory")
        #expect(listing(existing) == ["notes.txt"])
        let fine = try runTokenmill(["import-hf", hf, "-o", path("run-fine")])
        #expect(fine.status == 0, "\(fine.stderr)")
    }
}
