// The tokenize stage in-process: entries, end-of-text and FIM layout on real text, shards joined by
// ShardMerge equal to one run, and the resume identity.
import CorpusIO
import Foundation
import Packing
import Pipeline
import Testing
import TokenMillTestSupport
import Tokenization

@Suite struct TokenizeStageTests {
    @Test func everyDocumentBecomesOneEntryWithEndOfTextAndFIMKeepsTheText() throws {
        let f = try DatasetFixture("tokenize-stage")
        defer { f.remove() }
        let m = try f.tokenize("t") { $0.fim.rate = 0.5; $0.fim.spmRate = 0.5; $0.fim.seed = 11 }
        let stage = try TokenizeStage(tokenizer: f.tokenizer, tokenizerPath: f.tokenizerPath, options: { var o = TokenizeOptions(); o.fim.rate = 0.5; return o }())
        let eod = try #require(stage.eod)
        #expect(eod.token == "<｜end▁of▁sentence｜>")
        let texts = try CorpusReader(inputs: [f.corpus], options: ReadOptions(), warn: { _ in }).nextBatch().map { try decodeDocuments($0, options: ReadOptions()).documents.map(\.text) } ?? []
        let ds = try IndexedDatasetReader(prefix: f.dir + "/t")
        #expect(texts.count == 60 && ds.documentCount == 60 && m.counts.documents == 60)
        #expect(m.counts.fimPSM > 5 && m.counts.fimSPM > 5, "\(m.counts)")
        #expect(m.counts.tokens == ds.tokenCount)
        let (begin, hole, end) = (stage.fimTokens.begin, stage.fimTokens.hole, stage.fimTokens.end)
        var psm = 0, spm = 0
        for d in 0 ..< ds.documentCount {
            let ids = ds.document(d)
            #expect(ids.last == eod.id)
            let body = Array(ids.dropLast())
            guard let b = body.firstIndex(of: begin) else {
                #expect(try f.tokenizer.decode(body) == texts[d], "document \(d)")
                continue
            }
            // PSM: begin prefix hole suffix end middle; SPM: begin hole suffix end prefix middle.
            let h = try #require(body.firstIndex(of: hole)), e = try #require(body.firstIndex(of: end))
            #expect(b == 0 && h < e)
            let suffix = try f.tokenizer.decode(body[(h + 1) ..< e])
            if h == 1 {
                spm += 1
                #expect(try f.tokenizer.decode(body[(e + 1)...]) + suffix == texts[d], "SPM document \(d)")
            } else {
                psm += 1
                #expect(try f.tokenizer.decode(body[1 ..< h]) + f.tokenizer.decode(body[(e + 1)...]) + suffix == texts[d], "PSM document \(d)")
            }
        }
        #expect(psm == m.counts.fimPSM && spm == m.counts.fimSPM)
    }

    @Test func shardsJoinedByMergeEqualOneRun() throws {
        let f = try DatasetFixture("tokenize-shards")
        defer { f.remove() }
        func configure(_ o: inout TokenizeOptions) { o.fim.rate = 0.3; o.splitPunctuationNewline = 0.4; o.fim.seed = 5 }
        try f.tokenize("one", copies: 5, configure)
        for i in 0 ..< 3 { try f.tokenize("part\(i)", copies: 5) { configure(&$0); $0.shard = Shard(index: i, count: 3) } }
        let parts = (0 ..< 3).map { f.dir + "/part\($0)" }
        let result = try ShardMerge.run(shards: [parts[2], parts[0], parts[1]], output: f.dir + "/merged", version: "test", verify: true, warn: { _ in })
        #expect(result == .tokenized(shards: 3, documents: 300))
        for ext in [".bin", ".idx", ".json"] { #expect(try f.bytes("merged" + ext) == f.bytes("one" + ext), "\(ext) differs") }
        // Each shard read only its own whole files (five equal files: 2, 1, 2), and the ranges tile them.
        let shards = try parts.map { try #require(TokenizedDatasetManifest.read(prefix: $0)?.shard) }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: f.corpus)[.size] as? NSNumber).int64Value
        #expect(shards.map(\.files) == [0 ..< 2, 2 ..< 3, 3 ..< 5], "\(shards)")
        #expect(shards.map(\.inputBytes) == [2 * size, size, 2 * size])
    }

    @Test func theResumeIdentityIsAHashOfEveryOptionThatDecidesTheOutput() throws {
        let tokenizer = try Tokenizer.load(path: try tokenizerFixture("deepseek-coder/tokenizer.json"))
        func identity(inputs: [String] = ["a.jsonl"], hash: String = "h", _ configure: (inout TokenizeOptions) -> Void = { _ in }) throws -> String {
            var o = TokenizeOptions()
            o.fim.rate = 0.1
            configure(&o)
            return try TokenizeStage(tokenizer: tokenizer, tokenizerPath: "t", options: o).resumeIdentity(inputs: inputs, tokenizerSHA256: hash)
        }
        let base = try identity()
        #expect(base.count == 64 && base.allSatisfy(\.isHexDigit))
        // Threads, resume and the checkpoint interval do not change the output, so not the identity.
        #expect(try identity { $0.threads = 7; $0.resume = true; $0.checkpointEvery = 3 } == base)
        let changed = try [
            identity(inputs: ["b.jsonl"]), identity(inputs: ["a.jsonl", "a.jsonl"]), identity(hash: "g"),
            identity { $0.fim.rate = 0.2 }, identity { $0.fim.spmRate = 0.5 }, identity { $0.fim.seed = 1 },
            identity { $0.splitPunctuationNewline = 0.1 }, identity { $0.shard = Shard(index: 0, count: 2) },
            identity { $0.allowSpecial = true }, identity { $0.appendEOD = false }, identity { $0.dtype = .int32 },
            identity { $0.read.textField = "content" }, identity { $0.read.onError = .skip }, identity { $0.read.invalidUTF8 = .skip },
            identity { $0.read.textLayout = .textBlocks },
        ]
        #expect(Set(changed + [base]).count == changed.count + 1, "two option sets share an identity")
    }

    @Test func endOfTextAndFIMSentinelsThatAreNotTokensAreUsageErrors() throws {
        let tokenizer = try Tokenizer.load(path: try tokenizerFixture("deepseek-coder/tokenizer.json"))
        var o = TokenizeOptions()
        o.eodToken = "<|no such token|>"
        #expect(throws: StageError(.usage, "--eod-token <|no such token|> is not a single token of this tokenizer.")) {
            try TokenizeStage(tokenizer: tokenizer, tokenizerPath: "t", options: o)
        }
        o = TokenizeOptions()
        o.fim.rate = 0.1
        o.fimTokens = ["<a>", "<b>", "<c>"]
        #expect(throws: StageError(.usage, "--fim-tokens <a>,<b>,<c>: not all three are single tokens of this tokenizer.")) {
            try TokenizeStage(tokenizer: tokenizer, tokenizerPath: "t", options: o)
        }
    }
}
