// The encode stage on real records with a real tokenizer (Pythia's): each line's ids are the
// tokenizer's, the other fields are kept byte for byte, the text member goes unless kept, and the
// bytes do not depend on the thread count; plus the JSON string literal of plain text, checked on
// seeded random strings.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport
import Tokenization
@testable import Pipeline

func pythiaTokenizer() throws -> Tokenizer { try Tokenizer.load(path: try tokenizerFixture("pythia/tokenizer.json"), preset: nil) }

private func encode(_ inputs: [String], tokenizer: Tokenizer, keepText: Bool = false, threads: Int, to path: String,
                    options: ReadOptions = ReadOptions()) throws -> EncodeSummary {
    let out = try OutputFile(path: path)
    let stage = EncodeStage(tokenizer: tokenizer, textPath: options.textPath, keepText: keepText)
    let summary = try stage.run(reader: smallBatchReader(inputs, options: options), output: out, runner: DocumentRunner(threads: threads))
    try out.commit()
    return summary
}

private func jsonLines(_ path: String) throws -> [[String: Any]] {
    try Data(contentsOf: URL(fileURLWithPath: path)).split(separator: 0x0A).map {
        try #require(JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
    }
}

@Suite struct EncodeStageTests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("encode-stage") }

    @Test func idsAreTheTokenizersAndOtherFieldsStay() throws {
        let tokenizer = try pythiaTokenizer()
        let inputs = try writeShards(try testCorpusRecords(40), to: dir, "in", shards: 8)
        let docs = try readDocuments(inputs)
        let one = dir.appendingPathComponent("one.jsonl").path, three = dir.appendingPathComponent("three.jsonl").path
        let summary = try encode(inputs, tokenizer: tokenizer, threads: 1, to: one)
        _ = try encode(inputs, tokenizer: tokenizer, threads: 3, to: three)
        let bytesOne = try Data(contentsOf: URL(fileURLWithPath: one)), bytesThree = try Data(contentsOf: URL(fileURLWithPath: three))
        #expect(bytesOne == bytesThree)
        let lines = try jsonLines(one)
        #expect(lines.count == 40)
        var tokens = 0
        for (doc, line) in zip(docs, lines) {
            let ids = try tokenizer.encode(doc.text)
            #expect(line["ids"] as? [Int] == ids)
            #expect(line["text"] == nil)
            #expect((line["meta"] as? [String: String])?["pile_set_name"] == doc.field("meta.pile_set_name"))
            tokens += ids.count
        }
        #expect(summary.tokens == tokens && summary.read.documents == 40)
        #expect(summary.line.hasPrefix("encode: 40 documents, ") && summary.line.contains("\(formatCount(tokens)) tokens"))
        let kept = dir.appendingPathComponent("kept.jsonl").path
        _ = try encode(inputs, tokenizer: tokenizer, keepText: true, threads: 2, to: kept)
        let keptTexts = try jsonLines(kept).map { $0["text"] as? String }
        #expect(keptTexts == docs.map(\.text))
    }

    @Test func membersAreRemovedWhereverTheTextIs() {
        func remove(_ json: String, value: String) -> String {
            let bytes = Array(json.utf8)
            let start = json.utf8.distance(from: json.utf8.startIndex, to: json.range(of: value)!.lowerBound)
            return String(decoding: removingMember(bytes, valueSpan: start ..< start + value.utf8.count), as: UTF8.self)
        }
        #expect(remove("{\"text\": \"x\", \"a\": 1}", value: "\"x\"") == "{ \"a\": 1}")   // the space after the comma stays
        #expect(remove("{\"a\": 1, \"text\":\"x\"}", value: "\"x\"") == "{\"a\": 1}")
        #expect(remove("{\"a\": 1, \"text\" : \"x\", \"b\": [2]}", value: "\"x\"") == "{\"a\": 1, \"b\": [2]}")
        #expect(remove("{\"te\\\"xt\": \"x\"}", value: "\"x\"") == "{}")
    }

    @Test func plainTextLinesParseBackOnRandomStrings() throws {
        let seed: UInt64 = 20_261_204
        var rng = SplitMix64(seed: seed)
        let alphabet: [Unicode.Scalar] = (0 ..< 0x20).map { Unicode.Scalar($0)! } + ["\"", "\\", "/", "a", "é", "€", "😀", "\u{7F}", "\u{2028}"]
        for i in 0 ..< 300 {
            var s = ""
            for _ in 0 ..< Int(rng.next() % 24) { s.unicodeScalars.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
            var line: [UInt8] = []
            appendIDsLine(Document(text: s, location: SourceLocation(path: "x.txt")), ids: [7], keepText: true, textPath: ["text"], to: &line)
            let parsed = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            #expect(parsed?["text"] as? String == s && parsed?["ids"] as? [Int] == [7], "seed \(seed), string \(i): \(s.debugDescription)")
            #expect(!line.dropLast().contains { $0 < 0x20 }, "seed \(seed), string \(i)")
            // \b and \f are written as \u escapes, as encode always wrote them.
            #expect(s.contains("\u{8}") == String(decoding: line, as: UTF8.self).contains("\\u0008"), "seed \(seed), string \(i)")
        }
    }

    @Test func plainTextGetsIDsAndOptionallyItsText() throws {
        let tokenizer = try pythiaTokenizer()
        let txt = dir.appendingPathComponent("p.txt")
        try Data("tab\there \"q\"\n\u{1}end".utf8).write(to: txt)
        let path = dir.appendingPathComponent("p.jsonl").path
        _ = try encode([txt.path], tokenizer: tokenizer, keepText: true, threads: 1, to: path)
        let line = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        let ids = try tokenizer.encode("tab\there \"q\"\n\u{1}end")
        #expect(line == "{\"ids\":[\(ids.map(String.init).joined(separator: ","))],\"text\":\"tab\\there \\\"q\\\"\\n\\u0001end\"}\n")
    }
}
