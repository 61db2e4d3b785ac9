// Token-boundary randomization: punctuation + line-break pre-tokens are split with the given
// probability, deterministically per seed and text (or per document key), and decoding still gives
// the text back. The share split is measured from the ids themselves (is there a token boundary
// between the punctuation and the line breaks?), not from the encoder's own counter.
import Testing
@testable import Tokenization

@Test func splitsPunctuationNewlineTokens() throws {
    let texts = ["Hello!\n", "a.\n\nb", "x \"?\r\n"]
    let tok = try Tokenizer.fromHuggingFaceJSON(#"{"model":{"type":"BPE","vocab":{"!":0,"Ċ":1,"!Ċ":2,"a":3,".":4,"ĊĊ":5,".ĊĊ":6,"b":7,"H":8,"e":9,"l":10,"o":11,"x":12,"Ġ":13,"\"":14,"?":15,"č":16},"merges":["! Ċ","Ċ Ċ",". ĊĊ"]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]}}"#)
    #expect(tok.preTokenizer.name == "llama3")
    let plain = try tok.makeEncoder()
    let always = try tok.makeEncoder()
    always.splitPunctuationNewline = 1
    #expect(try plain.encode("Hello!\n") == [8, 9, 10, 10, 11, 2])
    #expect(try always.encode("Hello!\n") == [8, 9, 10, 10, 11, 0, 1])
    #expect(try always.encode("a.\n\nb") == [3, 4, 5, 7])
    let half1 = try tok.makeEncoder(), half2 = try tok.makeEncoder()
    half1.splitPunctuationNewline = 0.5; half1.seed = 7
    half2.splitPunctuationNewline = 0.5; half2.seed = 7
    for t in texts {
        let a = try half1.encode(t), b = try half2.encode(t)
        #expect(a == b)
        #expect(try tok.decode(a) == t)
    }
}

/// Lines of words ending in punctuation (sometimes after a space) and one or two line breaks, with
/// some lines ending in a bare line break (not eligible) — many eligible pre-tokens under deepseek-v3.
private func generatedDocuments(count: Int, seed: UInt64) -> [String] {
    var rng = SeededGenerator(seed: seed)
    let words = ["alpha", "beta", "gamma", "x", "print(a)", "foo", "bar", "数据", "42"]
    let ends = [".", "!", "?", ";", ":", ",", ")", "\"", "...", "});", "—", "»"]
    let breaks = ["\n", "\n\n", "\r\n", "\n\n\n"]
    return (0 ..< count).map { _ in
        (0 ..< Int.random(in: 5 ... 30, using: &rng)).map { _ in
            let line = (0 ..< Int.random(in: 1 ... 6, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ")
            let end = Int.random(in: 0 ..< 10, using: &rng) == 0 ? "" : (Bool.random(using: &rng) ? " " : "") + ends.randomElement(using: &rng)!
            return line + end + breaks.randomElement(using: &rng)!
        }.joined()
    }
}

/// A deepseek-v3 BPE trained on the documents, large enough that every punctuation + line-break
/// pre-token is one token (checked below at rate 0).
private let boundaryFixture: (tokenizer: Tokenizer, documents: [String]) = {
    let documents = generatedDocuments(count: 400, seed: 9)
    var config = BPETrainerConfig()
    config.preset = .deepseekV3
    let counter = try! WordCounter(config: config)
    for d in documents { try! counter.add(d) }
    let result = try! BPETrainer.train(counter.take(), vocabSize: 256 + 600, specialTokens: [])
    return (try! result.tokenizer(vocabSize: 256 + 600, preset: .deepseekV3, normalization: .none), documents)
}()

/// Eligible pre-tokens of `text` (an optional space, then Unicode punctuation or symbols, then CR/LF)
/// and whether the ids put a token boundary between the punctuation and the line breaks. Decided from
/// the pre-tokens and the tokens' bytes, independently of the encoder's randomization code.
private func boundaryCuts(_ encoder: TokenEncoder, _ text: String, ids: [Int32]) throws -> (eligible: Int, split: Int) {
    var boundaries = Set<Int>()
    var offset = 0
    for id in ids {
        offset += encoder.tokenizer.tokenBytes(Int(id))!.count
        boundaries.insert(offset)
    }
    var eligible = 0, split = 0, start = 0
    for piece in try encoder.preTokenize(text) {
        defer { start += piece.count }
        var cut = piece.count
        while cut > 0 && (piece[cut - 1] == 0x0A || piece[cut - 1] == 0x0D) { cut -= 1 }
        guard cut < piece.count, cut > 0 else { continue }
        let head = String(decoding: piece[(piece[0] == 0x20 ? 1 : 0) ..< cut], as: UTF8.self)
        let punctuation: Set<Unicode.GeneralCategory> = [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                                                         .initialPunctuation, .finalPunctuation, .otherPunctuation,
                                                         .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol]
        guard !head.isEmpty, head.unicodeScalars.allSatisfy({ punctuation.contains($0.properties.generalCategory) }) else { continue }
        eligible += 1
        if boundaries.contains(start + cut) { split += 1 }
    }
    #expect(start == text.utf8.count)
    return (eligible, split)
}

@Test(arguments: [0.0, 0.1, 0.5, 1.0])
func theShareSplitFollowsTheRate(rate: Double) throws {
    let (tok, documents) = boundaryFixture
    let encoder = try tok.makeEncoder()
    encoder.splitPunctuationNewline = rate
    encoder.seed = 3
    var eligible = 0, split = 0
    for (k, d) in documents.enumerated() {
        encoder.startDocument(key: UInt64(k))
        let ids = try encoder.encode(d)
        #expect(try tok.decode(ids) == d)  // splitting changes the ids, never the text
        let cuts = try boundaryCuts(encoder, d, ids: ids)
        eligible += cuts.eligible
        split += cuts.split
    }
    #expect(eligible > 5000, "only \(eligible) eligible pre-tokens")
    #expect(encoder.randomizationCandidates == eligible)
    #expect(encoder.randomizedSplits == split)
    let n = Double(eligible), mean = n * rate, sigma = (n * rate * (1 - rate)).squareRoot()
    if rate == 0 { #expect(split == 0) } else if rate == 1 { #expect(split == eligible) } else {
        #expect(abs(Double(split) - mean) <= 4.5 * sigma, "split \(split) of \(eligible) at rate \(rate): expected \(mean) ± \(4.5 * sigma)")
    }
}

@Test func keyedDecisionsDependOnTheKeyNotTheEncoder() throws {
    let (tok, documents) = boundaryFixture
    func encodeAll(keys: [UInt64], seed: UInt64) throws -> [[Int32]] {
        let e = try tok.makeEncoder()
        e.splitPunctuationNewline = 0.5
        e.seed = seed
        return try zip(keys, documents.prefix(keys.count)).map { key, d in e.startDocument(key: key); return try e.encode(d) }
    }
    let keys = (0 ..< 50).map(UInt64.init)
    let a = try encodeAll(keys: keys, seed: 3)
    // The same keys in another order (another thread's encoder, another batch) give the same ids.
    let e = try tok.makeEncoder()
    e.splitPunctuationNewline = 0.5
    e.seed = 3
    for k in keys.reversed() {
        e.startDocument(key: k)
        #expect(try e.encode(documents[Int(k)]) == a[Int(k)])
    }
    // Another seed or other keys give other choices; rate 0 with a key is the plain encoding.
    #expect(try encodeAll(keys: keys, seed: 4) != a)
    #expect(try encodeAll(keys: keys.map { $0 + 1000 }, seed: 3) != a)
    let plain = try tok.makeEncoder()
    plain.startDocument(key: 1)
    #expect(try plain.encode(documents[1]) == tok.makeEncoder().encode(documents[1]))
}
