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

@Test
func longPiecesUseTheHeapAndAgree() throws {
    let tk = try Fixtures.tokenizer("cl100k_base/cl100k_base.tiktoken")
    // A long piece goes through the heap merge; cutting it below the threshold uses the flat merge on
    // each part, so compare against the small-piece path on a piece that is short enough.
    let text = String(repeating: "abcdefgh", count: 11)  // 88 bytes: flat path
    let flat = try tk.encode(text)
    var model = tk.model
    var work = MergeWork()
    var out: [Int32] = []
    var bytes = Array(text.utf8)
    model.ignoreMerges = false
    bytes.withUnsafeBufferPointer { b in model.encodePieceLargeForTest(b.baseAddress!, b.count, into: &out, work: &work) }
    #expect(out.map(Int.init) == flat)
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
