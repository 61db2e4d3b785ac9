import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

private let fixture = packageRoot.appendingPathComponent("Tests/TokenMillCLITests/Fixtures/demo-report")

/// Copies the fixture demo directory (the files `tokenmill demo` writes, hand-made and small) to a fresh
/// temporary directory.
private func fixtureCopy() throws -> URL {
    let dir = try makeTemporaryDirectory("demo-report")
    for name in ["demo.json", "tokenizer-stats.json", "train.packed.json", "bpb.json", "run"] {
        try FileManager.default.copyItem(at: fixture.appendingPathComponent(name), to: dir.appendingPathComponent(name))
    }
    return dir
}

private func json(_ url: URL) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}

/// The body of `<figure id="ID"> … </figure>` in `html`.
private func figure(_ id: String, in html: String) -> Substring? {
    guard let start = html.range(of: "<figure id=\"\(id)\"") else { return nil }
    guard let end = html.range(of: "</figure>", range: start.upperBound ..< html.endIndex) else { return nil }
    return html[start.lowerBound ..< end.upperBound]
}

@Suite struct ReportCLITests {
    @Test func reportHasEveryFigureWithTheFixtureNumbers() throws {
        let dir = try fixtureCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runTokenmill(["report", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "report: wrote \(dir.path)/report.html and report.json\n")
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!html.contains("https://"))
        for id in ["fig-tokenizer", "fig-packing", "fig-loss", "fig-experts", "fig-bias", "fig-bpb"] {
            let body = try #require(figure(id, in: html), "\(id) missing")
            #expect(body.contains("<svg"), "\(id) has no SVG")
        }
        // Tokenizer: one bar per subset plus overall; Pile-CC (4.00) sorted first.
        let tok = try #require(figure("fig-tokenizer", in: html))
        #expect(tok.components(separatedBy: "class=\"bar\"").count - 1 == 3)
        #expect(tok.range(of: "Pile-CC")!.lowerBound < tok.range(of: "Github")!.lowerBound)
        // Loss: the main head, MTP and validation series; heat map: 2 layers × 4 experts × 4 steps.
        let loss = try #require(figure("fig-loss", in: html))
        #expect(loss.components(separatedBy: "class=\"series\"").count - 1 == 3)
        #expect(loss.components(separatedBy: "<circle").count - 1 == 2 + 1)  // two validation dots + the legend's
        let experts = try #require(figure("fig-experts", in: html))
        #expect(experts.components(separatedBy: "class=\"cell\"").count - 1 == 2 * 4 * 4)
        #expect(experts.contains("MoE layer 1"))
        // BPB: model + zstd -19 --long + xz -9e for 2 subsets and overall.
        let bpb = try #require(figure("fig-bpb", in: html))
        #expect(bpb.components(separatedBy: "class=\"bar\"").count - 1 == 3 * 3)
        #expect(bpb.contains("zstd -19 --long") && bpb.contains("xz -9e"))
        #expect(html.contains("<td><b>1.417</b></td>"))

        let report = try json(dir.appendingPathComponent("report.json"))
        let tokenizer = report["tokenizer"] as! [String: Any]
        #expect((tokenizer["overall"] as! [String: Any])["bytes_per_token"] as? Double == 3.0)
        let packing = (report["packing"] as! [String: Any])["strategies"] as! [String: [String: Any]]
        #expect(packing["best-fit"]?["truncated_share"] as? Double == 0.1)
        #expect(packing["concat"]?["truncated_share"] as? Double == 0.8)
        let training = report["training"] as! [String: Any]
        #expect((training["loss"] as! [Any]).count == 4)
        let validation = training["validation"] as! [[String: Any]]
        #expect(validation.map { $0["tokens"] as? Double } == [1280, 2560])
        let layers = training["expert_load"] as! [[String: Any]]
        #expect(layers.count == 2)
        #expect((layers[0]["loads"] as! [[Int]])[0] == [40, 10, 5, 1])
        #expect((layers[1]["bias_max"] as! [Double]).last == 0.04)
        let overall = (report["bpb"] as! [String: Any])["overall"] as! [String: Any]
        #expect(overall["bpb"] as? Double == 1.4167)
        #expect(abs((overall["baselines"] as! [String: Double])["xz -9e"]! - 2.19) < 1e-12)
        #expect((report["stages"] as! [[String: Any]]).map { $0["reused"] as? Bool } == [false, true])

        // Deterministic: a second rendering is byte-identical.
        let first = try Data(contentsOf: dir.appendingPathComponent("report.html"))
        #expect(try runTokenmill(["report", dir.path]).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("report.html")) == first)
    }

    @Test func withoutPerExpertLoadsTheHeatMapShowsMaxOverMin() throws {
        let dir = try fixtureCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let metrics = dir.appendingPathComponent("run/metrics.jsonl")
        let stripped = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").map { line -> String in
            var o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if var loads = o["expert_load"] as? [[String: Any]] {
                for i in loads.indices { loads[i]["loads"] = nil }
                o["expert_load"] = loads
            }
            return String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
        }
        try (stripped.joined(separator: "\n") + "\n").write(to: metrics, atomically: true, encoding: .utf8)
        #expect(try runTokenmill(["report", dir.path]).status == 0)
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        let experts = try #require(figure("fig-experts", in: html))
        #expect(experts.contains("max / min"))
        #expect(experts.components(separatedBy: "class=\"cell\"").count - 1 == 2 * 4)
    }

    @Test func missingFilesLeaveNotesAndBadFilesAreErrors() throws {
        let dir = try fixtureCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("bpb.json"))
        let r = try runTokenmill(["report", dir.path])
        #expect(r.status == 0)
        #expect(r.stderr.contains("without bpb (missing: bpb.json is missing)"))
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(figure("fig-bpb", in: html)?.contains("No bits per byte yet: bpb.json is missing") == true)

        let metrics = dir.appendingPathComponent("run/metrics.jsonl")
        let handle = try FileHandle(forWritingTo: metrics)
        handle.seekToEndOfFile()
        handle.write(Data("{\"step\": 25, \"loss\": \n".utf8))
        try handle.close()
        let bad = try runTokenmill(["report", dir.path])
        #expect(bad.status == 1)
        #expect(bad.stderr == "error: \(dir.path)/run/metrics.jsonl:7: not a JSON object\n")

        let none = try runTokenmill(["report", dir.appendingPathComponent("nothing").path])
        #expect(none.status == 1)
        #expect(none.stderr == "error: \(dir.appendingPathComponent("nothing").path): not a directory\n")
    }
}

@Suite struct DemoCLITests {
    /// A small corpus: the first documents of the bundled splits, with planted copies and a planted
    /// overlap with the test split in the training split (`PlantedCorpus`).
    @discardableResult
    private func smallCorpus(in dir: URL) throws -> (URL, PlantedCorpus) {
        let corpus = dir.appendingPathComponent("corpus")
        let planted = try PlantedCorpus(train: firstBundledLines("train", 120), test: firstBundledLines("test", 20))
        try planted.write(to: corpus)
        return (corpus, planted)
    }

    @Test func secondRunReusesEveryStageAndAChangedOptionRedoesItsStages() throws {
        let dir = try makeTemporaryDirectory("demo")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (corpus, planted) = try smallCorpus(in: dir)
        let out = dir.appendingPathComponent("out")
        let args = ["demo", "--preset", "tiny", "--vocab-size", "300", "--minutes", "0.05", "--corpus", corpus.path, "--out", out.path, "--threads", "2"]
        let first = try runTokenmill(args)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(!first.stderr.contains("reused"))
        let outputs = ["tokenizer.json", "tokenizer-stats.json", "train.bin", "train.idx", "train.packed.bin", "train.packed.json",
                       "run/metrics.jsonl", "run/checkpoint/model.safetensors"]
        let before = try outputs.map { try Data(contentsOf: out.appendingPathComponent($0)) }
        // The train stage's key holds the preset's resolved settings, so a build whose preset differs
        // retrains rather than reusing the run.
        let trainKey = try #require(try json(out.appendingPathComponent(".stages/train.json"))["key_text"] as? String)
        #expect(trainKey.contains("\"embedding_lr_scale\":1") && trainKey.contains("\"head_lr_scale\":1")
                && trainKey.contains("\"router_lr_scale\":1"), "\(trainKey)")
        // The report holds the real run's figures: tokenizer-stats --json per subset, both packing
        // strategies, logged training steps with the expert load per MoE layer.
        let report = try json(out.appendingPathComponent("report.json"))
        let tokenizer = try #require(report["tokenizer"] as? [String: Any])
        #expect(((tokenizer["subsets"] as? [Any])?.count ?? 0) >= 2)
        #expect(((tokenizer["overall"] as? [String: Any])?["bytes_per_token"] as? Double ?? 0) > 1)
        #expect(((report["packing"] as? [String: Any])?["strategies"] as? [String: Any])?.keys.sorted() == ["best-fit", "concat"])
        let training = try #require(report["training"] as? [String: Any])
        #expect(((training["loss"] as? [Any])?.count ?? 0) >= 2)
        #expect(((training["expert_load"] as? [Any])?.count ?? 0) >= 1)

        // Dedup removed the planted copies and decontamination the planted overlap (its positions are
        // those of dedup's output, which it reads); the run, bpb and the report say so.
        let removed = try jsonLines(out.appendingPathComponent("dedup-removed.jsonl").path)
        #expect(removed.contains { $0["position"] as? Int == planted.exact && $0["survivor"] as? Int == 3 && $0["match"] as? String == "exact" }, "\(removed)")
        #expect(removed.contains { $0["position"] as? Int == planted.near && $0["match"] as? String == "near" }, "\(removed)")
        let shifted = planted.contaminated - removed.filter { ($0["position"] as? Int ?? .max) < planted.contaminated }.count
        let hits = try jsonLines(out.appendingPathComponent("contamination.jsonl").path)
        #expect(hits.contains { $0["test_position"] as? Int == planted.testPosition && ($0["training_positions"] as? [Int])?.contains(shifted) == true }, "\(hits)")
        let cleaning = try #require(try json(out.appendingPathComponent("demo.json"))["cleaning"] as? [String: Any])
        #expect(cleaning["bpb_test_decontaminated"] as? Bool == true && cleaning["bpb_test"] as? String == corpus.appendingPathComponent("test.jsonl.zst").path)
        let cleaned = try #require(cleaning["record"] as? [String: Any])
        #expect(cleaned["documents_in"] as? Int == planted.train.count)
        #expect((cleaned["dedup"] as? [String: Any])?["exact_removed"] as? Int ?? 0 >= 1)
        #expect((cleaned["decontamination"] as? [String: Any])?["training_removed"] as? Int ?? 0 >= 1)
        let dataRecord = try json(out.appendingPathComponent("run/checkpoint/data.json"))
        #expect((dataRecord["cleaning"] as? [[String: Any]])?.first?["documents_kept"] as? Int == cleaned["documents_kept"] as? Int)
        let bpbLog = try String(contentsOf: out.appendingPathComponent("logs/bpb.log"), encoding: .utf8)
        #expect(bpbLog.contains("note: \(corpus.appendingPathComponent("test.jsonl.zst").path) was among the decontamination targets"), "\(bpbLog)")
        #expect((report["clean_data"] as? [String: Any])?["bpb_test_decontaminated"] as? Bool == true)
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<h2>1. Clean data</h2>") && html.contains("which was among the decontamination targets"))

        let second = try runTokenmill(args)
        #expect(second.status == 0, "\(second.stderr)")
        let lines = second.stderr.split(separator: "\n")
        for stage in ["normalize-train", "normalize-test", "dedup", "decontaminate", "train-tokenizer", "tokenizer-stats", "tokenize", "pack", "train", "bpb"] {
            #expect(lines.contains { $0.contains("] \(stage) ") && $0.contains(" reused ") }, "\(stage) not reused: \(second.stderr)")
        }
        #expect(try outputs.map { try Data(contentsOf: out.appendingPathComponent($0)) } == before)
        let record = try json(out.appendingPathComponent("demo.json"))
        #expect((record["stages"] as! [[String: Any]]).filter { $0["reused"] as? Bool == true }.count == 10)

        // A different vocabulary redoes the tokenizer and what depends on it, not the normalization.
        let third = try runTokenmill(args.map { $0 == "300" ? "320" : $0 })
        #expect(third.status == 0, "\(third.stderr)")
        let redone = third.stderr.split(separator: "\n").filter { $0.hasPrefix("[") && !$0.contains(" reused ") }.map { $0.split(separator: " ")[1] }
        #expect(redone.prefix(5) == ["train-tokenizer", "tokenizer-stats", "tokenize", "pack", "train"])
        #expect(third.stderr.contains("normalize-train  reused"))
        #expect(third.stderr.split(separator: "\n").contains { $0.contains("] dedup ") && $0.contains(" reused ") }, "\(third.stderr)")

        // A decontamination setting redoes that stage (and what follows when its output changed), not dedup.
        let fourth = try runTokenmill(args.map { $0 == "300" ? "320" : $0 } + ["--max-ngram-documents", "0"])
        #expect(fourth.status == 0, "\(fourth.stderr)")
        let fourthLines = fourth.stderr.split(separator: "\n")
        #expect(fourthLines.contains { $0.contains("] decontaminate ") && !$0.contains(" reused ") }, "\(fourth.stderr)")
        #expect(fourthLines.contains { $0.contains("] dedup ") && $0.contains(" reused ") }, "\(fourth.stderr)")

        // Without decontamination bpb warns, and the report says the test file was not among the targets.
        let fifth = try runTokenmill(args + ["--no-decontaminate"])
        #expect(fifth.status == 0, "\(fifth.stderr)")
        #expect(!fifth.stderr.contains("] decontaminate "))
        let warned = try String(contentsOf: out.appendingPathComponent("logs/bpb.log"), encoding: .utf8)
        #expect(warned.contains("warning: \(corpus.appendingPathComponent("test.jsonl.zst").path) was not among the decontamination targets"), "\(warned)")
        #expect(try json(out.appendingPathComponent("report.json"))["clean_data"].flatMap { ($0 as? [String: Any])?["bpb_test_decontaminated"] as? Bool } == false)
    }

    @Test func aStageLogOnAFullDeviceIsAnError() throws {
        let dir = try makeTemporaryDirectory("demo-log-full")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try smallCorpus(in: dir).0
        let out = dir.appendingPathComponent("out")
        let logs = out.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        // Every write to /dev/full fails with ENOSPC; the first stage's log goes there.
        let log = logs.appendingPathComponent("normalize-train.log").path
        try FileManager.default.createSymbolicLink(atPath: log, withDestinationPath: "/dev/full")
        let r = try runTokenmill(["demo", "--preset", "tiny", "--vocab-size", "300", "--minutes", "0.05", "--corpus", corpus.path,
                                  "--out", out.path, "--threads", "2"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.hasSuffix("error: \(log): cannot write the stage's log (No space left on device)\n"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("report.json").path))
    }

    @Test func aMissingCorpusIsAClearError() throws {
        let dir = try makeTemporaryDirectory("demo")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runTokenmill(["demo", "--corpus", dir.path, "--out", dir.appendingPathComponent("out").path])
        #expect(r.status == 64)
        #expect(r.stderr == "error: --corpus \(dir.path): needs train.jsonl.zst and test.jsonl.zst in that directory.\n")
        // A copy of the executable outside the package, run elsewhere, finds no corpus.
        let copy = dir.appendingPathComponent("tokenmill")
        try FileManager.default.copyItem(at: tokenmillBinary, to: copy)
        let process = Process()
        process.executableURL = copy
        process.arguments = ["demo", "--out", dir.appendingPathComponent("out").path]
        process.currentDirectoryURL = dir
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(message.hasPrefix("error: the bundled corpus (corpora/train.jsonl.zst and corpora/test.jsonl.zst) was not found in ./corpora or above the executable"))
    }
}
