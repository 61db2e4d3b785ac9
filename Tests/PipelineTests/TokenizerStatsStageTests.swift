// The tokenizer-stats stage: the tallies equal encoding each document alone, the groups add up, the
// use counts add up to the tokens, and the longest tokens are the vocabulary's longest.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport
import Tokenization
@testable import Pipeline

@Suite struct TokenizerStatsStageTests {
    @Test func talliesMatchEncodingEachDocument() throws {
        let tokenizer = try pythiaTokenizer()
        let dir = try makeTemporaryDirectory("tokenizer-stats-stage")
        let input = try writeLines(try testCorpusRecords(40), to: dir, "in.jsonl")
        let report = try TokenizerStatsReport(tokenizer: tokenizer, name: "pythia", reader: smallBatchReader([input]),
                                              by: "meta.pile_set_name", allowSpecial: false, runner: DocumentRunner(threads: 3))
        var usage = [Int](repeating: 0, count: tokenizer.vocabularySize)
        var bytes = 0
        let docs = try readDocuments([input])
        for d in docs {
            for id in try tokenizer.encode(d.text) { usage[id] += 1 }
            bytes += d.text.utf8.count
        }
        #expect(report.usage == usage)
        #expect(report.overall.tokens == usage.reduce(0, +) && report.overall.bytes == bytes && report.overall.documents == 40)
        var sum = TokenTally()
        for g in report.groups.values { sum.add(g) }
        #expect(sum == report.overall)
        let longest = report.longest(5)
        let lengths = (0 ..< tokenizer.vocabularySize).compactMap { tokenizer.tokenBytes($0)?.count }.sorted(by: >)
        #expect(longest.map(\.bytes) == Array(lengths.prefix(5)))
        let json = try #require(JSONSerialization.jsonObject(with: Data(try report.json(longest: 3).utf8)) as? [String: Any])
        #expect(json["vocabulary_used"] as? Int == usage.filter { $0 > 0 }.count)
        #expect((json["longest"] as? [Any])?.count == 3 && json["tokenizer"] as? String == "pythia")
        let text = report.text(longest: 2)
        #expect(text.contains("bytes/token: \(report.overall.ratio)") && text.contains("by meta.pile_set_name:"))
    }
}
