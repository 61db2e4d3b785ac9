// Every tokenizer file under Tests/Fixtures/tokenizers encodes the fixture strings to exactly the ids the
// reference library gave (HF tokenizers for tokenizer.json and vocab.json + merges.txt, tiktoken for
// .tiktoken), and decode(encode(x)) == x.
import Foundation
import Testing
import CorpusIO
import TokenMillTestSupport
@testable import Tokenization

struct EncodeCase: Sendable, CustomStringConvertible {
    var name: String
    var file: String
    var kind: String
    var cases: [(String, [Int])]
    var description: String { name }
}

private func loadEncodeCases() -> [EncodeCase] {
    // A fixture that does not load gives no cases; encodeFixtureCoversEveryTokenizer then fails.
    guard let root = try? Fixtures.json("encode.json"), let members = try? root.members else { return [] }
    return members.compactMap { name, c in
        guard let file = try? c.required("file").string, let kind = try? c.required("kind").string,
              let list = try? c.required("cases").array else { return nil }
        let cases = list.compactMap { pair -> (String, [Int])? in
            guard let p = try? pair.array, let t = try? p[0].string, let ids = try? p[1].array.map({ try $0.int }) else { return nil }
            return (t, ids)
        }
        return EncodeCase(name: name, file: file, kind: kind, cases: cases)
    }
}

/// The parity cases exist for every committed tokenizer file (so the parameterized test cannot pass by
/// running on nothing).
@Test func encodeFixtureCoversEveryTokenizer() throws {
    let cases = loadEncodeCases()
    #expect(Set(cases.map(\.file)) == ["cl100k_base/cl100k_base.tiktoken", "deepseek-coder/tokenizer.json",
                                        "gpt2/r50k_base.tiktoken", "gpt2/vocab.json", "o200k_base/o200k_base.tiktoken",
                                        "olmo2/tokenizer.json", "pythia/tokenizer.json"])
    #expect(cases.allSatisfy { $0.cases.count >= 200 })
}

@Test(arguments: loadEncodeCases())
func sharedTokenizerParity(_ c: EncodeCase) throws {
    let tokenizer = try Fixtures.tokenizer(c.file)
    let encoder = try tokenizer.makeEncoder()
    var failures = 0
    for (text, expected) in c.cases {
        let got = try encoder.encode(text, allowSpecial: c.kind == "hf").map(Int.init)
        if got != expected {
            failures += 1
            if failures <= 5 { Issue.record("\(c.name) \(text.debugDescription): got \(got) expected \(expected)") }
        }
        // Round trip, except where HF's own decoding is not the identity (added tokens matched in
        // normalized text, e.g. NFC).
        if c.kind != "hf" || tokenizer.normalizers.isEmpty {
            #expect(try tokenizer.decode(got) == text)
        }
    }
    #expect(failures == 0, "\(c.name): \(failures) of \(c.cases.count) strings differ")
}

@Test
func gpt2VocabAndTiktokenAgree() throws {
    let hf = try Fixtures.tokenizer("gpt2/vocab.json")
    let tk = try Fixtures.tokenizer("gpt2/r50k_base.tiktoken")
    for text in ["Hello world", "  x\n\n", String(repeating: "ab", count: 500), "🤖 ünïcödé 123456"] {
        #expect(try hf.encode(text) == tk.encode(text))
    }
}

@Test
func randomBytesRoundTrip() throws {
    let tk = try Fixtures.tokenizer("cl100k_base/cl100k_base.tiktoken")
    var rng = SplitMix64(seed: 20_261_204)
    let encoder = try tk.makeEncoder()
    for n in [1, 2, 7, 50, 300, 2000] {
        let bytes = (0 ..< n).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        #expect(try tk.decodeBytes(encoder.encode(bytes: bytes)) == bytes)
    }
}

/// Pieces longer than `BPEModel.smallPieceLimit` go through the long-piece (rank-bucket) merge: on such
/// pieces it gives the flat merge's ids (the flat merge is run on them directly), `encode` gives the
/// same, and on the fixture's long single-piece strings both equal tiktoken's ids.
@Test
func longPiecesUseTheLongPieceMergeAndAgree() throws {
    let tk = try Fixtures.tokenizer("cl100k_base/cl100k_base.tiktoken")
    let encoder = try tk.makeEncoder()
    let seed: UInt64 = 20_261_205
    var rng = SplitMix64(seed: seed)
    let letters = Array("abcdefghijklmnopqrstuvwxyz".utf8)
    var pieces: [[UInt8]] = [Array(String(repeating: "abcdefgh", count: 13).utf8), Array(repeating: UInt8(ascii: "a"), count: 1000),
                             Array(String(repeating: "ab", count: 300).utf8)]
    for n in [BPEModel.smallPieceLimit + 1, 200, 1500, 5000] { pieces.append((0 ..< n).map { _ in letters.randomElement(using: &rng)! }) }
    for n in [97, 500, 3000] { pieces.append((0 ..< n).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }) }  // not UTF-8: model only
    var work = MergeWork()
    for (k, bytes) in pieces.enumerated() {
        #expect(bytes.count > BPEModel.smallPieceLimit)
        var large: [Int32] = [], flat: [Int32] = []
        bytes.withUnsafeBufferPointer { b in
            tk.model.encodePieceLargeForTest(b.baseAddress!, b.count, into: &large, work: &work)
            tk.model.encodePieceFlatForTest(b.baseAddress!, b.count, into: &flat, work: &work)
        }
        #expect(large == flat, "piece \(k) (\(bytes.count) bytes, seed \(seed)): long-piece and flat merges differ")
        #expect(large.count < bytes.count, "piece \(k): no merge happened")
        #expect(try tk.decodeBytes(large) == bytes)
        // Letters only: one cl100k pre-token, so `encode` runs the long-piece merge on the whole piece.
        if bytes.allSatisfy({ letters.contains($0) }) {
            #expect(try encoder.encode(bytes: bytes) == large, "piece \(k) (seed \(seed)): encode differs from the long-piece merge")
        }
    }
    // tiktoken's ids for the fixture strings that are one long piece ("a" × 300, "ab" × 200).
    let cl100k = try #require(loadEncodeCases().first { $0.file == "cl100k_base/cl100k_base.tiktoken" })
    let long = cl100k.cases.filter { $0.0.utf8.count > BPEModel.smallPieceLimit && $0.0.allSatisfy { $0 == "a" || $0 == "b" } }
    #expect(long.count >= 2)
    for (text, expected) in long {
        var large: [Int32] = []
        Array(text.utf8).withUnsafeBufferPointer { tk.model.encodePieceLargeForTest($0.baseAddress!, $0.count, into: &large, work: &work) }
        #expect(large.map(Int.init) == expected, "\(text.prefix(8))… × \(text.count)")
    }
}

/// Merges whose ranks are not in the order their parts are made (HF allows it: here (x, ab) and
/// (ab, a) rank before (a, b)): merging (a, b) makes a lower-ranked pair, which the long-piece merge
/// must take before the rest of (a, b)'s bucket, as the flat merge does ("abab…" → aba b aba b …,
/// not ab ab ab ab …).
@Test
func nonMonotoneRanksAgreeOnLongPieces() throws {
    let vocab: [(bytes: [UInt8], id: Int)] = ["a", "b", "x", "ab", "xab", "abab", "xabx", "aba"].enumerated().map { (Array($0.element.utf8), $0.offset) }
    let merges: [([UInt8], [UInt8])] = [("x", "ab"), ("ab", "a"), ("ab", "ab"), ("a", "b"), ("xab", "x")].map { (Array($0.0.utf8), Array($0.1.utf8)) }
    let model = try BPEModel(vocab: vocab, merges: merges, ignoreMerges: false)
    let seed: UInt64 = 20_261_211
    var rng = SplitMix64(seed: seed)
    var texts = [String(repeating: "xab", count: 40), String(repeating: "abx", count: 40), String(repeating: "ab", count: 60)]
    for _ in 0 ..< 20 { texts.append((0 ..< 120).map { _ in ["a", "b", "x", "ab", "xab"].randomElement(using: &rng)! }.joined()) }
    var work = MergeWork()
    for (k, text) in texts.enumerated() {
        let bytes = Array(text.utf8)
        #expect(bytes.count > BPEModel.smallPieceLimit)
        var large: [Int32] = [], flat: [Int32] = []
        bytes.withUnsafeBufferPointer { b in
            model.encodePieceLargeForTest(b.baseAddress!, b.count, into: &large, work: &work)
            model.encodePieceFlatForTest(b.baseAddress!, b.count, into: &flat, work: &work)
        }
        #expect(large == flat, "text \(k) (seed \(seed)): \(text.prefix(30))…")
    }
    var ids: [Int32] = []
    Array(String(repeating: "xab", count: 40).utf8).withUnsafeBufferPointer { model.encodePieceLargeForTest($0.baseAddress!, $0.count, into: &ids, work: &work) }
    #expect(ids == [Int32](repeating: 4, count: 40))
    ids = []
    Array(String(repeating: "ab", count: 60).utf8).withUnsafeBufferPointer { model.encodePieceLargeForTest($0.baseAddress!, $0.count, into: &ids, work: &work) }
    #expect(ids == Array([[Int32]](repeating: [7, 1], count: 30).joined()))  // aba b, repeated
}

@Test
func specialTokensOnlyWhenAllowed() throws {
    let tk = try Fixtures.tokenizer("cl100k_base/cl100k_base.tiktoken")
    #expect(try tk.encode("a<|endoftext|>b", allowSpecial: true) == [64, 100257, 65])
    // tiktoken 0.14's encode_ordinary: the special token's text is ordinary text, in pieces.
    #expect(try tk.encode("a<|endoftext|>b", allowSpecial: false) == [64, 27, 91, 8862, 728, 428, 91, 29, 65])
}

@Test
func batchEqualsOneByOne() throws {
    let tk = try Fixtures.tokenizer("gpt2/r50k_base.tiktoken")
    let texts = (0 ..< 50).map { "document \($0): " + String(repeating: "word\($0 % 7) ", count: $0) }
    let batch = try tk.encodeBatch(texts, threads: 2)
    #expect(batch == (try texts.map { try tk.encode($0) }))
}
