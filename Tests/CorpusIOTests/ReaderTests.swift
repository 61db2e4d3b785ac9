import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

private func readAll(_ path: String, options: ReadOptions = ReadOptions(), batchBytes: Int = 1 << 20,
                     warnings: UnsafeMutablePointer<[String]>? = nil) throws -> [Document] {
    var docs: [Document] = []
    var warned: [String] = []
    let reader = CorpusReader(inputs: try expandInputs([path]), options: options, batchBytes: batchBytes, warn: { warned.append($0) })
    while let batch = try reader.nextBatch() { docs += try decodeDocuments(batch, options: options).documents }
    warnings?.pointee = warned
    return docs
}

private func jsonl(_ texts: [String]) -> [UInt8] {
    var out: [UInt8] = []
    for t in texts {
        Document(text: t, location: SourceLocation(path: "x")).appendJSONLine(to: &out, textPath: ["text"])
    }
    return out
}

@Suite struct ReaderTests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("corpusio") }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test func jsonLinesAcrossBatchBoundariesKeepOrderAndLineNumbers() throws {
        let texts = (0 ..< 5000).map { "document \($0) " + String(repeating: "é", count: $0 % 37) }
        var bytes = jsonl(texts)
        bytes.insert(contentsOf: Array("\n  \r\n".utf8), at: 0)  // blank lines are skipped, but counted
        let docs = try readAll(try file("a.jsonl", bytes), batchBytes: 4096)
        #expect(docs.map(\.text) == texts)
        #expect(docs.first?.location.line == 3)
        #expect(docs.last?.location.line == 5002)
    }

    @Test func lastLineWithoutNewlineAndCRLFEndings() throws {
        let docs = try readAll(try file("b.jsonl", Array("{\"text\":\"a\"}\r\n{\"text\":\"b\"}".utf8)))
        #expect(docs.map(\.text) == ["a", "b"])
    }

    @Test func otherFieldsPassThroughByteForByte() throws {
        let line = #"{"id": 7,  "text": "old", "meta": {"pile_set_name": "Github", "x": [1.50, true]}}"#
        var docs = try readAll(try file("c.jsonl", Array((line + "\n").utf8)))
        docs[0].text = "new \"text\"\n"
        var out: [UInt8] = []
        docs[0].appendJSONLine(to: &out, textPath: ["text"])
        #expect(String(decoding: out, as: UTF8.self) == #"{"id": 7,  "text": "new \"text\"\n", "meta": {"pile_set_name": "Github", "x": [1.50, true]}}"# + "\n")
        #expect(docs[0].field("meta.pile_set_name") == "Github")
        #expect(docs[0].field("id") == "7")
        #expect(docs[0].field("meta.missing") == nil)
    }

    @Test func dottedTextField() throws {
        var o = ReadOptions()
        o.textField = "content.body"
        let docs = try readAll(try file("d.jsonl", Array("{\"content\": {\"body\": \"deep\"}}\n".utf8)), options: o)
        #expect(docs.map(\.text) == ["deep"])
    }

    @Test func aSingleFiftyMegabyteLine() throws {
        let big = String(repeating: "0123456789abcdef", count: 50 * (1 << 20) / 16)
        let path = try file("big.jsonl", jsonl(["small", big, "after"]))
        let docs = try readAll(path)
        #expect(docs.count == 3)
        #expect(docs[1].text.utf8.count == 50 << 20)
        #expect(docs[2].text == "after")
    }

    @Test func textFilesAsOneDocumentOrBlankLineBlocks() throws {
        let text = "first para\nline two\n\n\n  \nsecond\r\n\r\nthird"
        let path = try file("t.txt", Array(text.utf8))
        #expect(try readAll(path).map(\.text) == [text])
        var o = ReadOptions()
        o.textLayout = .textBlocks
        let blocks = try readAll(path, options: o, batchBytes: 8)
        #expect(blocks.map(\.text) == ["first para\nline two", "second", "third"])
        #expect(blocks.map { $0.location.line! } == [1, 6, 8])
    }

    @Test func zstdWithSeveralFramesAndSkippableFrames() throws {
        let a = jsonl(["one", "two"]), b = jsonl(["three"])
        let bytes = zstdSkippableFrame([1, 2, 3]) + zstdFrame(a) + zstdSkippableFrame([], variant: 7) + zstdFrame(b)
        let docs = try readAll(try file("m.jsonl.zst", bytes))
        #expect(docs.map(\.text) == ["one", "two", "three"])
    }

    @Test func gzipWithSeveralMembers() throws {
        let url = dir.appendingPathComponent("g.jsonl.gz")
        writeGzip([jsonl(["one"]), jsonl(["two", "three"])], to: url)
        #expect(try readAll(url.path).map(\.text) == ["one", "two", "three"])
    }

    @Test func compressionComesFromMagicBytesNotTheName() throws {
        let url = dir.appendingPathComponent("wrong.jsonl.zst")
        writeGzip([jsonl(["gzip inside"])], to: url)
        var warnings: [String] = []
        #expect(try readAll(url.path, warnings: &warnings).map(\.text) == ["gzip inside"])
        #expect(warnings.count == 1 && warnings[0].contains("gzip data in a file named .zst"))
        // A zstd file without a telling name, JSON detected from the first byte.
        #expect(try readAll(try file("noext", zstdFrame(jsonl(["sniffed"])))).map(\.text) == ["sniffed"])
    }

    @Test func truncatedAndCorruptCompressedInputsFailWithOffsets() throws {
        let frame = zstdFrame(jsonl((0 ..< 200).map { "doc \($0) with some text to compress" }))
        let cut = try file("cut.jsonl.zst", Array(frame.prefix(frame.count / 2)))
        #expect { try readAll(cut) } throws: { ($0 as? CorpusError)?.kind == .truncated && "\($0)".contains("cut.jsonl.zst") }
        var corrupt = frame
        corrupt[corrupt.count / 2] ^= 0xFF
        corrupt[corrupt.count / 2 + 1] ^= 0xFF
        let bad = try file("bad.jsonl.zst", corrupt)
        #expect { try readAll(bad) } throws: { ($0 as? CorpusError)?.kind == .compression || ($0 as? CorpusError)?.kind == .truncated }
        let url = dir.appendingPathComponent("cut.jsonl.gz")
        writeGzip([jsonl((0 ..< 200).map { "doc \($0)" })], to: url)
        let gz = try Data(contentsOf: url)
        try gz.prefix(gz.count - 30).write(to: url)
        #expect { try readAll(url.path) } throws: { ($0 as? CorpusError)?.kind == .truncated }
    }

    @Test func otherCompressorsAreRefusedByName() throws {
        let xz = try file("x.jsonl.xz", [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])
        #expect { try readAll(xz) } throws: { "\($0)".contains("xz-compressed data is not supported") }
    }

    @Test func emptyFilesWarnAndYieldNothing() throws {
        var warnings: [String] = []
        #expect(try readAll(try file("empty.jsonl", []), warnings: &warnings).isEmpty)
        #expect(warnings.first?.contains("empty input") == true)
    }

    @Test func invalidUTF8IsReplacedAndCountedOrSkippedOrFatal() throws {
        let path = try file("u.txt", [0x61, 0xFF, 0x62, 0xE2, 0x82])
        let docs = try readAll(path)
        #expect(docs[0].text == "a\u{FFFD}b\u{FFFD}")
        #expect(docs[0].repairs == 2)
        var o = ReadOptions()
        o.invalidUTF8 = .fail
        #expect { try readAll(path, options: o) } throws: { "\($0)".contains("u.txt:1 (byte 1): invalid UTF-8 at byte 1") }
        o.invalidUTF8 = .skip
        let reader = CorpusReader(inputs: [path], options: o, warn: { _ in })
        let decoded = try decodeDocuments(try reader.nextBatch()!, options: o)
        #expect(decoded.documents.isEmpty && decoded.skipped[.invalidUTF8] == 1)
    }

    @Test func structureErrorsFailOrAreSkippedAndCounted() throws {
        let lines = ["{\"text\": \"ok\"}", "not json", "{\"body\": \"x\"}", "{\"text\": 5}", "{\"text\": \"fine\"}"]
        let path = try file("s.jsonl", Array(lines.joined(separator: "\n").utf8))
        #expect { try readAll(path) } throws: { "\($0)".hasPrefix("\(path):2 (byte 15): not JSON") }
        var o = ReadOptions()
        o.onError = .skip
        let reader = CorpusReader(inputs: [path], options: o, warn: { _ in })
        let decoded = try decodeDocuments(try reader.nextBatch()!, options: o)
        #expect(decoded.documents.map(\.text) == ["ok", "fine"])
        #expect(decoded.skipped == [.notJSON: 1, .missingField: 1, .notString: 1])
    }

    @Test func directoriesAndGlobsExpandSorted() throws {
        let sub = dir.appendingPathComponent("tree/sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        for name in ["tree/b.jsonl", "tree/a.txt", "tree/sub/c.jsonl.zst", "tree/.hidden.jsonl", "tree/notes.pdf"] {
            try Data().write(to: dir.appendingPathComponent(name))
        }
        let root = dir.appendingPathComponent("tree").path
        #expect(try expandInputs([root]) == ["\(root)/a.txt", "\(root)/b.jsonl", "\(root)/sub/c.jsonl.zst"])
        #expect(try expandInputs(["\(root)/*.jsonl"]) == ["\(root)/b.jsonl"])
        #expect(throws: CorpusError.self) { try expandInputs(["\(root)/*.none"]) }
        #expect(throws: CorpusError.self) { try expandInputs(["\(root)/missing.jsonl"]) }
        #expect(try expandInputs([]) == ["-"])
    }
}
