// The normalize stage on real records: each output text is the normalizer's output for its input,
// unchanged records are copied byte for byte, the bytes do not depend on the thread count or on
// compression, and empty documents are dropped and counted.
import CorpusIO
import Foundation
import Normalization
import Testing
import TokenMillTestSupport
@testable import Pipeline

@Suite struct NormalizeStageTests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("normalize-stage") }

    private func normalize(_ inputs: [String], to name: String, form: NormalizationForm = .nfkc, cleanups: Cleanups = Cleanups(),
                           threads: Int) throws -> (NormalizeSummary, String) {
        let path = dir.appendingPathComponent(name).path
        let out = try OutputFile(path: path)
        let summary = try NormalizeStage.run(reader: smallBatchReader(inputs), form: form, cleanups: cleanups, output: out,
                                             runner: DocumentRunner(threads: threads))
        try out.commit()
        return (summary, path)
    }

    @Test func matchesTheNormalizerDocumentByDocument() throws {
        let records = try testCorpusRecords(120)
        let input = try writeLines(records, to: dir, "in.jsonl")
        let (summary, path) = try normalize([input], to: "out.jsonl", threads: 3)
        let before = try readDocuments([input]), after = try readDocuments([path])
        let normalizer = try TextNormalizer(form: .nfkc)
        var expected: [String] = []
        var changed = 0
        for d in before {
            var t = d.text
            if try normalizer.normalize(&t) { changed += 1 }
            if !t.isEmpty { expected.append(t) }
        }
        #expect(after.map(\.text) == expected)
        #expect(summary.read.documents == 120 && summary.documentsOut == expected.count && summary.changed == changed)
        #expect(changed > 0 && changed < 120)   // the slice has both kinds
        // Unchanged records are the input lines, byte for byte; other fields survive re-serialization.
        let lines = try Data(contentsOf: URL(fileURLWithPath: path)).split(separator: 0x0A).map(Array.init)
        for (i, d) in before.enumerated() where d.text == after[i].text {
            #expect(lines[i] == records[i], "record \(i)")
        }
        for (i, d) in after.enumerated() { #expect(d.field("meta.pile_set_name") == before[i].field("meta.pile_set_name")) }
        #expect(summary.line.hasPrefix("normalize: 120 documents ("))
    }

    @Test func bytesDoNotDependOnThreadsOrCompression() throws {
        let inputs = try writeShards(try testCorpusRecords(80), to: dir, "in", shards: 10)
        let (_, one) = try normalize(inputs, to: "one.jsonl", form: .nfd, threads: 1)
        let (_, four) = try normalize(inputs, to: "four.jsonl", form: .nfd, threads: 4)
        let (_, zst) = try normalize(inputs, to: "four.jsonl.zst", form: .nfd, threads: 4)
        let a = try Data(contentsOf: URL(fileURLWithPath: one)), b = try Data(contentsOf: URL(fileURLWithPath: four))
        #expect(a == b)
        let compressed = try Data(contentsOf: URL(fileURLWithPath: zst))
        #expect(compressed.prefix(4) == Data([0x28, 0xB5, 0x2F, 0xFD]))   // zstd frames, one per batch
        let fromZstd = try readDocuments([zst]).map(\.text), fromPlain = try readDocuments([one]).map(\.text)
        #expect(fromZstd == fromPlain)
    }

    @Test func emptyDocumentsAreDroppedAndCounted() throws {
        let text = "{\"text\":\"\\ufeff\\u0001\"}\n{\"text\":\"a\\r\\nb\"}\n{\"text\":\"\"}\n"
        let input = dir.appendingPathComponent("e.jsonl").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: input))
        let (summary, path) = try normalize([input], to: "e.out.jsonl", threads: 2)
        let texts = try readDocuments([path]).map(\.text)
        #expect(texts == ["a\nb"])
        #expect(summary.droppedEmpty == 2 && summary.documentsOut == 1 && summary.changed == 2)
        var keep = Cleanups()
        keep.dropEmpty = false
        let (kept, path2) = try normalize([input], to: "e2.out.jsonl", cleanups: keep, threads: 1)
        let keptTexts = try readDocuments([path2]).map(\.text)
        #expect(kept.documentsOut == 3 && keptTexts == ["", "a\nb", ""])
    }
}
