// The decode stage: encode → decode gives back every record's text with its other fields, and a bad
// record is an error naming the file and line.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport
import Tokenization
@testable import Pipeline

@Suite struct DecodeStageTests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("decode-stage") }

    private func decode(_ path: String, tokenizer: Tokenizer, threads: Int, to out: String) throws -> DecodeStage.Output {
        var options = ReadOptions()
        options.textLayout = .jsonl
        let file = try OutputFile(path: out)
        let r = try DecodeStage(tokenizer: tokenizer).run(reader: smallBatchReader([path], options: options), output: file,
                                                          runner: DocumentRunner(threads: threads))
        try file.commit()
        return r
    }

    @Test func roundTripsRealRecords() throws {
        let tokenizer = try pythiaTokenizer()
        let input = try writeLines(try testCorpusRecords(30), to: dir, "in.jsonl")
        let ids = dir.appendingPathComponent("ids.jsonl").path
        let out = try OutputFile(path: ids)
        let encoded = try EncodeStage(tokenizer: tokenizer, textPath: ["text"]).run(reader: smallBatchReader([input]), output: out,
                                                                                    runner: DocumentRunner(threads: 2))
        try out.commit()
        let back = dir.appendingPathComponent("back.jsonl").path
        let r = try decode(ids, tokenizer: tokenizer, threads: 3, to: back)
        let before = try readDocuments([input]), after = try readDocuments([back])
        #expect(after.map(\.text) == before.map(\.text))
        #expect(after.map { $0.field("meta.pile_set_name") } == before.map { $0.field("meta.pile_set_name") })
        #expect(r.records == 30 && r.tokens == encoded.tokens && r.bytes == encoded.read.bytes)
    }

    @Test func badRecordsNameTheirLine() throws {
        let tokenizer = try pythiaTokenizer()
        let cases: [(String, String)] = [
            ("{\"ids\":[1,2]}\n{\"ids\":[1,\(tokenizer.vocabularySize + 5)]}\n", ":2: "),
            ("{\"ids\":[1]}\n\n{\"x\":[1]}\n", ":3: no field 'ids'"),
            ("{\"ids\":\"1\"}\n", ":1: field 'ids' is not an array"),
            ("{\"ids\":[1.5]}\n", ":1: field 'ids' holds a non-integer"),
            ("[1]\n", ":1: not a JSON object"),
        ]
        for (i, (text, message)) in cases.enumerated() {
            let path = dir.appendingPathComponent("bad\(i).jsonl").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            do {
                _ = try decode(path, tokenizer: tokenizer, threads: 1, to: dir.appendingPathComponent("o\(i).jsonl").path)
                Issue.record("case \(i) decoded")
            } catch let e as DecodeError {
                #expect("\(e)".hasPrefix(path + message), "case \(i): \(e)")
            }
        }
    }
}
