// `tokenmill train` takes the model's vocabulary size from the data's manifest: a 4,096-token tokenizer
// trained by the CLI on the bundled test split, its tokenized and packed datasets, and the errors when
// --vocab-size, a config file or a resumed run say otherwise.
import Foundation
import Testing
import TokenMillTestSupport

@Suite(.serialized) final class TrainVocabCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("train-vocab") }
    deinit { try? FileManager.default.removeItem(at: dir) }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Tokenizer (no --vocab-size anywhere after train-tokenizer), tokenized dataset, packed dataset.
    private func makeData(vocabulary: Int, name: String) throws -> (source: String, packed: String) {
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let tokenizer = path("\(name).tokenizer.json")
        for args in [["train-tokenizer", "--vocab-size", String(vocabulary), "--pretokenizer", "deepseek-v3", "--special-tokens", "<|endoftext|>",
                      "-o", tokenizer, corpus],
                     ["tokenize", "--tokenizer", tokenizer, "-o", path(name), corpus],
                     ["pack", "--seq-len", "32", "-o", path(name + ".packed"), path(name)]] {
            let r = try runTokenmill(args + ["--progress", "none"])
            #expect(r.status == 0, "\(args[0]): \(r.stderr)")
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(name) + ".json"))) as! [String: Any]
        #expect((manifest["tokenizer"] as? [String: Any])?["vocabulary_size"] as? Int == vocabulary)
        return (path(name), path(name + ".packed"))
    }

    private func vocabSize(run: String) throws -> Int? {
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint/config.json"))) as! [String: Any]
        return config["vocab_size"] as? Int
    }

    @Test func theManifestGivesTheVocabularyAndDisagreementsAreErrors() throws {
        let (source, packed) = try makeData(vocabulary: 4096, name: "d")
        // Tokenized and packed data: the tiny preset (vocab_size 256) trains with the manifest's 4,096.
        for (data, run) in [(source, path("run-flat")), (packed, path("run-packed"))] {
            let r = try runTokenmill(["train", "--config", "tiny", "--data", data, "--out", run, "--steps", "1", "--progress", "none"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("vocabulary 4,096 (from \(data).json)"), "\(r.stderr)")
            #expect(try vocabSize(run: run) == 4096)
        }
        // The same size given again is fine.
        let same = try runTokenmill(["train", "--config", "tiny", "--vocab-size", "4096", "--data", source, "--steps", "1", "--progress", "none"])
        #expect(same.status == 0, "\(same.stderr)")
        // --vocab-size that differs (larger, or smaller though every id of the data fits): usage error, exit 64.
        for other in ["5000", "4000"] {
            let r = try runTokenmill(["train", "--config", "tiny", "--vocab-size", other, "--data", source, "--steps", "1", "--progress", "none"])
            #expect(r.status == 64, "\(r.stderr)")
            #expect(r.stderr == "error: --vocab-size \(other) differs from vocabulary_size 4096 of the data's tokenizer in \(source).json; omit --vocab-size to take it from the manifest\n")
        }
        // A config file that says otherwise: an error in that file, exit 1.
        let config = path("c.json")
        try Data(#"{"model": {"vocab_size": 50304}}"#.utf8).write(to: URL(fileURLWithPath: config))
        let file = try runTokenmill(["train", "--config", config, "--data", packed, "--steps", "1", "--progress", "none"])
        #expect(file.status == 1, "\(file.stderr)")
        #expect(file.stderr == "error: \(config): model.vocab_size 50304 differs from vocabulary_size 4096 of the data's tokenizer in \(packed).json; remove model.vocab_size to take it from the manifest\n")
    }

    @Test func aResumedRunKeepsItsOwnVocabulary() throws {
        let (source, _) = try makeData(vocabulary: 4096, name: "r")
        let run = path("run")
        #expect(try runTokenmill(["train", "--config", "tiny", "--data", source, "--out", run, "--steps", "1", "--progress", "none"]).status == 0)
        let resumed = try runTokenmill(["train", "--config", "tiny", "--data", source, "--out", run, "--resume", "--steps", "2", "--progress", "none"])
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming at step 1"), "\(resumed.stderr)")
        #expect(resumed.stderr.contains("vocabulary 4,096 (the run's, from \(run)/checkpoint/tokenmill.json)"), "\(resumed.stderr)")
        let flag = try runTokenmill(["train", "--config", "tiny", "--vocab-size", "256", "--data", source, "--out", run, "--resume", "--progress", "none"])
        #expect(flag.status == 64 && flag.stderr.contains("--vocab-size 256 differs from the vocabulary size 4096 of the run being resumed (\(run)/checkpoint/tokenmill.json)"), "\(flag.stderr)")

        // A run on raw ids (no manifest, so no tokenizer recorded) resumed on data whose manifest names another size.
        let raw = path("raw.u16")
        try FileManager.default.copyItem(atPath: source + ".bin", toPath: raw)
        let rawRun = path("raw-run")
        let first = try runTokenmill(["train", "--config", "tiny", "--vocab-size", "4096", "--data", raw, "--out", rawRun, "--steps", "1", "--progress", "none"])
        #expect(first.status == 0 && first.stderr.contains("vocabulary 4,096 (--vocab-size)"), "\(first.stderr)")
        let (small, _) = try makeData(vocabulary: 300, name: "s")
        let other = try runTokenmill(["train", "--config", "tiny", "--data", small, "--out", rawRun, "--resume", "--progress", "none"])
        #expect(other.status == 1, "\(other.stderr)")
        #expect(other.stderr == "error: \(small).json: the data's tokenizer has vocabulary_size 300, but the run being resumed has vocab_size 4096 (\(rawRun)/checkpoint/tokenmill.json); resume on data made with the run's tokenizer\n")
        #expect(try vocabSize(run: rawRun) == 4096)
    }
}
