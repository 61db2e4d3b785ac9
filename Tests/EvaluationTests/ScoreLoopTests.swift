// The bpb document loop on real records with Pythia's tokenizer and a zero-weight model (every token
// costs ln V): documents counted in input order up to max-docs, empty ones counted and not scored,
// each scored document's tokens are the tokenizer's, and one per-document line per scored document.
import CorpusIO
import Evaluation
import Foundation
import Pipeline
import Testing
import TokenMillTestSupport
import Tokenization
import Training

@Suite struct ScoreLoopTests {
    @Test func scoresEveryDocumentUpToMaxDocs() throws {
        let tokenizer = try Tokenizer.load(path: try tokenizerFixture("pythia/tokenizer.json"))
        let dir = try makeTemporaryDirectory("score-loop")
        // Twelve real records with an empty document third.
        let source = CorpusReader(inputs: [packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path], options: ReadOptions(), warn: { _ in })
        var lines: [String] = []
        let batch = try #require(try source.nextBatch())
        for i in 0 ..< 11 { lines.append(String(decoding: batch.bytes[batch.starts[i] ..< batch.ends[i]], as: UTF8.self).trimmingCharacters(in: .newlines)) }
        lines.insert("{\"text\": \"\", \"meta\": {\"pile_set_name\": \"Empty\"}}", at: 2)
        let input = dir.appendingPathComponent("in.jsonl").path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: input))

        var config = ModelConfig.tiny
        config.vocabSize = tokenizer.vocabularySize
        let V = Double(config.vocabSize)
        let model = Model<Float>(config: config, B: 2, T: 16)   // zero weights: uniform predictions
        let eod = Int32(try #require(tokenizer.addedTokenID("<|endoftext|>")))
        var loop = BPBScoreLoop(scorer: BPBScorer(model: model, eod: eod, stride: 16), encoder: try tokenizer.makeEncoder(), normalizer: nil)
        loop.maxDocs = 10
        let perDocPath = dir.appendingPathComponent("per-doc.jsonl").path
        loop.perDocument = try OutputFile(path: perDocPath)
        let accumulator = BPBAccumulator()
        let read = try loop.run(reader: CorpusReader(inputs: [input], options: ReadOptions(), warn: { _ in }), into: accumulator,
                                progress: .silent, warn: { Issue.record("unexpected warning \($0)") })
        try loop.perDocument!.commit()

        var docs: [Document] = []
        try CorpusReader(inputs: [input], options: ReadOptions(), warn: { _ in }).forEachDocument { docs.append($0) }
        let scored = docs.prefix(10).filter { !$0.text.isEmpty }
        #expect(read == 10 && accumulator.scoredDocuments == 9 && accumulator.emptyDocuments == 1)
        let (subsets, overall) = accumulator.summarize(resamples: 0, seed: 0)
        let tokens = try scored.reduce(0) { $0 + (try tokenizer.encode($1.text)).count }
        #expect(overall.tokens == tokens && overall.bytes == scored.reduce(0) { $0 + $1.text.utf8.count })
        #expect(abs(overall.nll - Double(tokens) * log(V)) <= 1e-9 * overall.nll)
        #expect(subsets.first { $0.name == "Empty" }?.emptyDocuments == 1)
        let perDoc = try Data(contentsOf: URL(fileURLWithPath: perDocPath)).split(separator: 0x0A).map {
            try #require(JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
        }
        #expect(perDoc.map { $0["index"] as? Int } == [0, 1, 3, 4, 5, 6, 7, 8, 9])
        #expect(perDoc.map { $0["subset"] as? String } == scored.map { $0.field("meta.pile_set_name") })
    }
}
