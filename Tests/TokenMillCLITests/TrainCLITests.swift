// `tokenmill train` end to end on real data: the test corpus tokenized and packed by the CLI, read as
// packed rows (EOD from the inputs' manifests, PREFIX_valid for validation).
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct TrainCLITests {
    @Test func trainsOnPackedRows() throws {
        let dir = try makeTemporaryDirectory("train")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let source = dir.appendingPathComponent("src").path, packed = dir.appendingPathComponent("packed").path
        #expect(try runTokenmill(["tokenize", "--tokenizer", try tokenizerFixture("pythia/tokenizer.json"), "-o", source, corpus]).status == 0)
        let pack = try runTokenmill(["pack", "--seq-len", "64", "--valid-fraction", "0.05", "-o", packed, source])
        #expect(pack.status == 0, "\(pack.stderr)")
        let config = dir.appendingPathComponent("c.json")
        try Data(#"{"training": {"steps": 3, "eval_batches": 2, "micro_batch_size": 2}}"#.utf8).write(to: config)
        let run = dir.appendingPathComponent("run").path
        // Without OPENBLAS_THREAD_TIMEOUT the trainer restarts itself with 4 (idle BLAS threads sleep).
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_THREAD_TIMEOUT"] = nil
        let r = try runTokenmill(["train", "--config", config.path, "--data", packed, "--out", run], environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("; OPENBLAS_THREAD_TIMEOUT=4\n"), "\(r.stderr)")
        #expect(r.stderr.contains("data: packed rows of 64 tokens"), "\(r.stderr)")
        #expect(r.stderr.contains("EOD id 0 (from the packed inputs' manifests)"), "\(r.stderr)")
        #expect(r.stderr.contains("validation: \(packed)_valid"), "\(r.stderr)")
        #expect(r.stderr.contains("trained to step 3"), "\(r.stderr)")
        let metrics = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        #expect(metrics.contains("\"step\":3"))
        // Sequence length above the packed rows: a clear error, exit 1.
        try Data(#"{"model": {"max_position_embeddings": 128}, "training": {"sequence_length": 128}}"#.utf8).write(to: config)
        // A timeout the user set is kept.
        environment["OPENBLAS_THREAD_TIMEOUT"] = "20"
        let long = try runTokenmill(["train", "--config", config.path, "--data", packed], environment: environment)
        #expect(long.status == 1 && long.stderr.contains("packed rows hold 64 tokens but training.sequence_length is 128"), "\(long.stderr)")
        #expect(long.stderr.contains("; OPENBLAS_THREAD_TIMEOUT=20\n"), "\(long.stderr)")
    }
}
