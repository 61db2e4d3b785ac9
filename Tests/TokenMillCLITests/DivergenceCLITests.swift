// `tokenmill train` when things go wrong mid-run: a diverging run stops with one line naming the
// step and the first non-finite tensor and keeps a checkpoint that loads; a metrics file on a full
// device is warned about once and the lost lines are counted, and the run goes on; bpb's report on a
// full device is an error; so is a train run's stderr on a full device (exit 1 after the run, not a trap).
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct DivergenceCLITests {
    /// The test corpus tokenized with the pythia fixture into DIR/src; returns (prefix, tokenizer).
    static func tokenized(_ dir: URL) throws -> (String, String) {
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let source = dir.appendingPathComponent("src").path, tokenizer = try tokenizerFixture("pythia/tokenizer.json")
        let r = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "-o", source, corpus])
        #expect(r.status == 0, "\(r.stderr)")
        return (source, tokenizer)
    }

    /// Learning rates that diverge at step 2 (the first update makes the weights huge), and the one
    /// error line each gives: at 1e30 the second step's gradient is NaN everywhere (the first tensor in
    /// parameter order is the embedding); at 1e3 the MTP head's loss is NaN while every weight is finite.
    static let divergences: [(Double, String)] = [
        (1e30, "error: gradient norm is NaN at step 2 (first non-finite gradient model.embed_tokens.weight); stopping (the last checkpoint is kept). Try a lower learning_rate."),
        (1e3, "error: MTP loss 1 is NaN at step 2 (all parameters finite); stopping (the last checkpoint is kept). Try a lower learning_rate."),
    ]

    @Test(arguments: 0..<2) func divergingRunNamesTheTensorAndKeepsALoadableCheckpoint(_ which: Int) throws {
        let (lr, expected) = Self.divergences[which]
        let dir = try makeTemporaryDirectory("train-diverge-names")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (source, tokenizer) = try Self.tokenized(dir)
        let config = dir.appendingPathComponent("c.json")
        try Data(#"{"training": {"learning_rate": \#(lr), "min_learning_rate": 0, "warmup_steps": 0, "checkpoint_every": 1, "eval_every": 100, "micro_batch_size": 1}}"#.utf8).write(to: config)
        let run = dir.appendingPathComponent("run").path
        let r = try runTokenmill(["train", "--config", config.path, "--data", source, "--out", run, "--steps", "10"])
        #expect(r.status == 1, "\(r.stderr)")
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(errors == [Substring(expected)], "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), "\(r.stderr)")
        let state = try String(contentsOfFile: run + "/checkpoint/state.json", encoding: .utf8)
        #expect(state.contains("\"step\" : 1"), "\(state)")
        // The kept checkpoint (step 1's, saved before the step that diverged) loads and scores.
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let bpb = try runTokenmill(["bpb", "--run", run, "--tokenizer", tokenizer, "--json", "--max-docs", "4", corpus])
        #expect(bpb.status == 0, "\(bpb.stderr)")
        #expect(bpb.stdoutString.contains("\"bpb\""), "\(bpb.stdoutString)")
        if which == 0 {
            // The report on a full device: one error line, exit 1 (not a crash in FileHandle.write).
            let full = try Self.runWithStandardOutput("/dev/full", ["bpb", "--run", run, "--tokenizer", tokenizer, "--max-docs", "2", corpus])
            #expect(full.status == 1 && full.stderr.hasSuffix("error: standard output: cannot write the report (No space left on device)\n"), "\(full.stderr)")
        }
    }

    /// Runs `tokenmill ARGUMENTS` with standard output written to `path`; returns the status and stderr.
    static func runWithStandardOutput(_ path: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let dir = try makeTemporaryDirectory("stdout-run")
        defer { try? FileManager.default.removeItem(at: dir) }
        let err = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = tokenmillBinary
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: path)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }

    @Test func metricsOnAFullDeviceWarnOnceAndCountTheLostLines() throws {
        let dir = try makeTemporaryDirectory("train-metrics-full")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (source, _) = try Self.tokenized(dir)
        let config = dir.appendingPathComponent("c.json")
        try Data(#"{"training": {"log_every": 1, "eval_every": 2, "eval_batches": 1, "micro_batch_size": 1}}"#.utf8).write(to: config)
        let run = dir.appendingPathComponent("run").path
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let metrics = run + "/metrics.jsonl"
        // Every write to /dev/full fails with ENOSPC.
        try FileManager.default.createSymbolicLink(atPath: metrics, withDestinationPath: "/dev/full")
        let r = try runTokenmill(["train", "--config", config.path, "--data", source, "--out", run, "--steps", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        let warnings = r.stderr.split(separator: "\n").filter { $0.contains("cannot write a metrics line") }
        #expect(warnings == ["warning: \(metrics): cannot write a metrics line: No space left on device (errno 28); the run goes on, lines that fail are counted and reported at the end"], "\(r.stderr)")
        // Three log lines and one validation line.
        #expect(r.stderr.contains("trained to step 3, "), "\(r.stderr)")
        #expect(r.stderr.contains("; warning: 4 metrics lines lost (\(metrics))\n"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: run + "/checkpoint/state.json"))
    }

    @Test func aPartlyWrittenMetricsLineIsCutOff() throws {
        let dir = try makeTemporaryDirectory("train-metrics-fsize")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (source, _) = try Self.tokenized(dir)
        let config = dir.appendingPathComponent("c.json")
        try Data(#"{"training": {"log_every": 1, "eval_every": 100, "micro_batch_size": 1, "checkpoint_every": 100}}"#.utf8).write(to: config)
        let run = dir.appendingPathComponent("run").path
        // A 2 KiB file size limit (SIGXFSZ ignored, so writes past it fail with EFBIG): the second
        // metrics line is written in part, then fails; the final checkpoint fails too.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "trap '' XFSZ; ulimit -f 2; exec \"$0\" \"$@\"", tokenmillBinary.path,
                             "train", "--config", config.path, "--data", source, "--out", run, "--steps", "4"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "\(stderr)")
        #expect(stderr.contains("warning: \(run)/metrics.jsonl: cannot write a metrics line: File too large (errno 27); "), "\(stderr)")
        #expect(stderr.contains("warning: 3 metrics lines lost (\(run)/metrics.jsonl)\nerror: \(run)/checkpoint.tmp/"), "\(stderr)")
        // What is left is whole lines: the part of the second line is gone.
        let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "\(lines)")
        #expect(lines.first.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil } == true)
    }

    @Test func standardErrorOnAFullDeviceIsExit1NotACrash() throws {
        let dir = try makeTemporaryDirectory("train-stderr-full")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (source, _) = try Self.tokenized(dir)
        let run = dir.appendingPathComponent("run").path
        let process = Process()
        process.executableURL = tokenmillBinary
        process.arguments = ["train", "--config", "tiny", "--data", source, "--out", run, "--steps", "2"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/full")
        try process.run()
        process.waitUntilExit()
        // The run goes on (its checkpoint and metrics are written); the lost messages make it exit 1.
        #expect(process.terminationReason == .exit && process.terminationStatus == 1)
        #expect(FileManager.default.fileExists(atPath: run + "/checkpoint/state.json"))
        #expect(((try? String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)) ?? "").contains("\"step\":2"))
    }

    @Test func metricsThatCannotBeOpenedAreAnError() throws {
        let dir = try makeTemporaryDirectory("train-metrics-open")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (source, _) = try Self.tokenized(dir)
        let run = dir.appendingPathComponent("run").path
        // A directory where the file should be.
        try FileManager.default.createDirectory(atPath: run + "/metrics.jsonl", withIntermediateDirectories: true)
        let r = try runTokenmill(["train", "--config", "tiny", "--data", source, "--out", run, "--steps", "1"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("error: \(run)/metrics.jsonl: cannot open for appending (Is a directory)\n"), "\(r.stderr)")
    }
}
