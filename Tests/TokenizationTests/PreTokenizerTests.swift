// The hand-written scanners split exactly as HF tokenizers' Oniguruma does with the presets' regexes
// (fixtures from tools/make-tokenizer-fixtures), and ICU runs the same regexes identically.
import Testing
@testable import Tokenization

struct PreTokenizerCase: Sendable, CustomStringConvertible {
    var preset: PreTokenizerPreset
    var cases: [(String, [String])]
    var description: String { preset.rawValue }
}

private func loadCases() throws -> [PreTokenizerCase] {
    let root = try Fixtures.json("pretokenize.json")
    return try root.members.compactMap { name, list in
        guard let preset = PreTokenizerPreset(rawValue: name) else { return nil }
        return PreTokenizerCase(preset: preset, cases: try list.array.map { pair in
            let p = try pair.array
            return (try p[0].string, try p[1].array.map { try $0.string })
        })
    }
}

private func pieces(_ preTokenizer: PreTokenizer, _ text: String) throws -> [String] {
    var buffer = Array(text.utf8)
    var out: [Range<Int>] = []
    try preTokenizer.run(&buffer, 0 ..< buffer.count, into: &out, state: PreTokenizerState(preTokenizer))
    return out.map { String(decoding: buffer[$0], as: UTF8.self) }
}

@Test(arguments: try! loadCases())
func scannerMatchesOniguruma(_ c: PreTokenizerCase) throws {
    let pre = PreTokenizer.preset(c.preset)
    var failures = 0
    for (text, expected) in c.cases {
        let got = try pieces(pre, text)
        if got != expected {
            failures += 1
            if failures <= 5 { Issue.record("\(c.preset.rawValue) \(text.debugDescription): got \(got) expected \(expected)") }
        }
    }
    #expect(failures == 0)
}

@Test(arguments: [PreTokenizerPreset.gpt2, .llama3, .qwen2, .o200k])
func icuRegexMatchesScanner(_ preset: PreTokenizerPreset) throws {
    let steps = try preset.patterns.enumerated().map { k, p in
        PreTokenizerStep.split(.regex(try ICURegexPattern(p, path: "test"), slot: k), .isolated, invert: false)
    }
    let icu = PreTokenizer(steps: steps, name: "icu")
    let scanner = PreTokenizer.preset(preset)
    for c in try loadCases() where c.preset == preset {
        for (text, _) in c.cases {
            #expect(try pieces(icu, text) == pieces(scanner, text), "\(text.debugDescription)")
        }
    }
}

@Test func whitespaceLookaheadExamples() throws {
    let cl = PreTokenizer.preset(.cl100k), llama = PreTokenizer.preset(.llama3)
    #expect(try pieces(cl, "a   b") == ["a", "  ", " b"])
    #expect(try pieces(cl, "a   ") == ["a", "   "])
    #expect(try pieces(llama, "a\n  ") == ["a", "\n", "  "])
    #expect(try pieces(cl, "a\n  ") == ["a", "\n  "])
    #expect(try pieces(cl, "1234567") == ["123", "456", "7"])
    #expect(try pieces(PreTokenizer.preset(.deepseekV3), "x東京") == ["x", "東京"])
    #expect(try pieces(PreTokenizer.preset(.deepseekV3), "a\u{0}\u{1}b") == ["a", "\u{0}", "\u{1}b"])
}

/// tiktoken's cl100k regex written verbatim into a tokenizer.json splits as Oniguruma reads it.
@Test func verbatimTiktokenPatternFollowsOniguruma() throws {
    guard let list = try Fixtures.json("pretokenize.json").optional("cl100k-verbatim-oniguruma") else { return }
    let kind = PreTokenizerPreset.scanner(forPattern: PreTokenizerPreset.cl100k.patterns[0])!
    #expect(kind == .cl100kOniguruma)
    let pre = PreTokenizer(steps: [.split(.scanner(kind), .isolated, invert: false)], name: "verbatim")
    for pair in try list.array {
        let p = try pair.array
        let text = try p[0].string
        let expected = try p[1].array.map { try $0.string }
        #expect(try pieces(pre, text) == expected, "\(text.debugDescription)")
    }
}
