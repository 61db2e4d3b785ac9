import Foundation
import Testing
import TokenMillTestSupport
import Training

/// A 300-id tokenizer trained on the bundled test split and a zero-weight checkpoint (tiny, context 16)
/// whose distribution is uniform over 300 ids, made once for the suite.
private let fixture: (dir: URL, tokenizer: String, run: String) = {
    let dir = try! makeTemporaryDirectory("bpb")
    let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
    let tokenizer = dir.appendingPathComponent("tok.json").path
    let r = try! runTokenmill(["train-tokenizer", "--vocab-size", "300", "--special-tokens", "<|endoftext|>", "-o", tokenizer, corpus])
    precondition(r.status == 0, r.stderr)
    var config = RunConfig(model: .tiny, training: TrainingConfig())
    config.model.vocabSize = 300
    config.training.sequenceLength = 16
    let model = Model<Float>(config: config.model, B: 1, T: 16)   // parameters start at zero
    let run = dir.appendingPathComponent("run").path
    try! Checkpoint.save(run: run, config: config, model: model, optimizer: AdamW<Float>(count: model.parameterCount),
                         state: TrainerState())
    return (dir, tokenizer, run)
}()

private func json(_ r: CommandResult) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
}

private func jsonl(_ lines: [String]) -> Data { Data((lines.joined(separator: "\n") + "\n").utf8) }

@Suite(.serialized) struct BPBCLITests {
    let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path

    /// The uniform model: every subset's and the overall BPB is tokens · log2(300) / bytes, with the
    /// tokens `tokenmill encode` gives (no EOD counted) and the texts' UTF-8 bytes; any stride.
    @Test(arguments: ["16", "5"])
    func uniformModelMatchesTheClosedForm(stride: String) throws {
        let r = try runTokenmill(["bpb", "--run", fixture.run, "--tokenizer", fixture.tokenizer, "--json", "--max-docs", "40",
                                  "--stride", stride, "--resamples", "50", corpus])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try json(r)
        #expect(report["context"] as? Int == 16 && report["stride"] as? Int == Int(stride))
        #expect(report["normalization"] as? String == "none" && report["score_eod"] as? Bool == false)
        #expect((report["definition"] as? String)?.hasPrefix("bpb = ") == true)
        let rows = (report["subsets"] as! [[String: Any]]) + [report["overall"] as! [String: Any]]
        #expect(rows.count >= 3)
        for row in rows {
            let tokens = Double(row["tokens"] as! Int), bytes = Double(row["bytes"] as! Int), bpb = row["bpb"] as! Double
            let expected = tokens * log2(300) / bytes
            #expect(abs(bpb - expected) <= 1e-9 * expected, "\(row["name"]!)")
            #expect(abs((row["byte_perplexity"] as! Double) - pow(2, bpb)) <= 1e-9 * pow(2, bpb))
            let ci = row["bpb_ci95"] as! [Double]
            #expect(ci[0] <= bpb + 1e-9 && bpb - 1e-9 <= ci[1])
        }
        // Tokens and bytes as `encode` and the texts give them.
        let first40 = try runTokenmill(["encode", "--tokenizer", fixture.tokenizer, "--keep-text", corpus])
        let records = first40.stdoutString.split(separator: "\n").prefix(40).map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let overall = report["overall"] as! [String: Any]
        #expect(overall["tokens"] as? Int == records.reduce(0) { $0 + ($1["ids"] as! [Int]).count })
        #expect(overall["bytes"] as? Int == records.reduce(0) { $0 + ($1["text"] as! String).utf8.count })
        #expect(overall["documents"] as? Int == 40)
    }

    /// Bytes are the original text's, before NFKC; empty documents are counted and skipped; a missing
    /// subset name is `unknown`; --score-eod adds one token and one byte per document.
    @Test func bytesComeFromTheOriginalTextAndEmptyDocumentsAreSkipped() throws {
        let docs = ["{\"text\":\"ﬁne café ２０２４ ﬀ\",\"meta\":{\"pile_set_name\":\"B\"}}",
                    "{\"text\":\"\",\"meta\":{\"pile_set_name\":\"B\"}}",
                    "{\"text\":\"plain words here\"}",
                    "{\"text\":\"Ⅻ ㎏ ½\",\"meta\":{\"pile_set_name\":\"A\"}}"]
        let input = fixture.dir.appendingPathComponent("nfkc.jsonl")
        try jsonl(docs).write(to: input)
        let perDoc = fixture.dir.appendingPathComponent("perdoc.jsonl").path
        for eod in [false, true] {
            let r = try runTokenmill(["bpb", "--run", fixture.run, "--tokenizer", fixture.tokenizer, "--normalize", "nfkc", "--json",
                                      "--per-doc", perDoc, input.path] + (eod ? ["--score-eod"] : []))
            #expect(r.status == 0, "\(r.stderr)")
            let report = try json(r)
            #expect(report["normalization"] as? String == "nfkc")
            let subsets = report["subsets"] as! [[String: Any]]
            #expect(subsets.map { $0["name"] as! String } == ["A", "B", "unknown"])
            #expect(subsets[1]["empty_documents"] as? Int == 1 && subsets[1]["documents"] as? Int == 1)
            let lines = try String(contentsOfFile: perDoc, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            #expect(lines.map { $0["index"] as! Int } == [0, 2, 3])
            let texts = ["ﬁne café ２０２４ ﬀ", "plain words here", "Ⅻ ㎏ ½"]
            let extra = eod ? 1 : 0
            #expect(lines.map { $0["bytes"] as! Int } == texts.map { $0.utf8.count + extra })
            #expect("ﬁne café ２０２４ ﬀ".precomposedStringWithCompatibilityMapping.utf8.count != texts[0].utf8.count)
            // Uniform model: each document's NLL is tokens · ln 300; tokens are those of the NFKC text
            // (Foundation's NFKC agrees with ICU's on these characters).
            let nfkcTokens = try texts.map { t -> Int in
                let e = try runTokenmill(["encode", "--tokenizer", fixture.tokenizer], stdin: jsonl(["{\"text\":\(String(decoding: try JSONSerialization.data(withJSONObject: t.precomposedStringWithCompatibilityMapping, options: .fragmentsAllowed), as: UTF8.self))}"]))
                return ((try JSONSerialization.jsonObject(with: e.stdout) as! [String: Any])["ids"] as! [Int]).count
            }
            #expect(lines.map { $0["tokens"] as! Int } == nfkcTokens.map { $0 + extra })
            for l in lines {
                #expect(abs((l["nll_nats"] as! Double) - Double(l["tokens"] as! Int) * log(300)) < 1e-9 * (l["nll_nats"] as! Double))
            }
        }
    }

    @Test func theTableShowsEverySubsetAndTheBaselines() throws {
        let r = try runTokenmill(["bpb", "--run", fixture.run, "--tokenizer", fixture.tokenizer, "--baselines", "--max-docs", "12", corpus])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdoutString.split(separator: "\n")
        #expect(lines.contains { $0.contains("zstd-19 --long") && $0.contains("xz -9e") })
        #expect(lines.last?.hasPrefix("overall") == true)
        #expect(r.stderr.contains("bpb: 12 documents (0 empty)"))
        let j = try json(try runTokenmill(["bpb", "--run", fixture.run, "--tokenizer", fixture.tokenizer, "--baselines", "--json", "--max-docs", "12", corpus]))
        let b = (j["overall"] as! [String: Any])["baselines"] as! [String: Double]
        #expect(Set(b.keys) == ["zstd -19", "zstd -19 --long", "xz -9", "xz -9e"])
        #expect(b.values.allSatisfy { $0 > 0.5 && $0 < 8 })
    }

    @Test func badInputGivesOneLineErrors() throws {
        let base = ["bpb", "--run", fixture.run, "--tokenizer", fixture.tokenizer]
        // Vocabulary mismatch: a 512-id tokenizer for the 300-id model.
        let other = fixture.dir.appendingPathComponent("tok512.json").path
        _ = try runTokenmill(["train-tokenizer", "--vocab-size", "512", "--special-tokens", "<|endoftext|>", "-o", other, corpus])
        let mismatch = try runTokenmill(["bpb", "--run", fixture.run, "--tokenizer", other, corpus])
        #expect(mismatch.status == 1 && mismatch.stderr.contains("512") && mismatch.stderr.contains("300"))
        #expect(mismatch.stderr.split(separator: "\n").count == 1 && mismatch.stderr.hasPrefix("error: "))
        // Stride outside 1...T.
        #expect(try runTokenmill(base + ["--stride", "17", corpus]).status == 64)
        #expect(try runTokenmill(base + ["--stride", "0", corpus]).status == 64)
        #expect(try runTokenmill(["bpb", "--tokenizer", fixture.tokenizer, corpus]).status == 64)
        // No usable documents.
        let empty = try runTokenmill(base, stdin: jsonl(["{\"text\":\"\"}", "{\"text\":\"\"}"]))
        #expect(empty.status == 1 && empty.stderr.contains("no usable documents"))
        // A bad JSON line names the file and line.
        let bad = fixture.dir.appendingPathComponent("bad.jsonl")
        try jsonl(["{\"text\":\"fine\"}", "{\"text\": nope}"]).write(to: bad)
        let badRun = try runTokenmill(base + [bad.path])
        #expect(badRun.status == 1 && badRun.stderr.hasPrefix("error: \(bad.path):2"))
        // A truncated zstd file.
        let whole = try Data(contentsOf: URL(fileURLWithPath: corpus))
        let cut = fixture.dir.appendingPathComponent("cut.jsonl.zst")
        try whole.prefix(whole.count / 2).write(to: cut)
        let cutRun = try runTokenmill(base + [cut.path])
        #expect(cutRun.status == 1 && cutRun.stderr.hasPrefix("error: \(cut.path)"))
        // --per-doc is not left behind by a failed run.
        let perDoc = fixture.dir.appendingPathComponent("failed.jsonl").path
        _ = try runTokenmill(base + ["--per-doc", perDoc, bad.path])
        #expect(!FileManager.default.fileExists(atPath: perDoc))
    }
}
