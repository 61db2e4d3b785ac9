// Split's five behaviours, `invert`, literal and regex patterns, and Digits, against HF
// pre_tokenize_str (fixture splits.json from tools/make-tokenizer-fixtures).
import Testing
@testable import Tokenization

@Test func splitBehavioursMatchHuggingFace() throws {
    let names = ["removed": SplitBehavior.removed, "isolated": .isolated, "merged_with_previous": .mergedWithPrevious,
                 "merged_with_next": .mergedWithNext, "contiguous": .contiguous]
    for item in try Fixtures.json("splits.json").array {
        let step: PreTokenizerStep
        if try item.required("type").string == "Digits" {
            step = .split(.numeric, try item.required("individual").bool ? .isolated : .contiguous, invert: false)
        } else {
            let pattern = try item.required("pattern").string
            let kind: SplitPattern = try item.required("kind").string == "String"
                ? .literal(Array(pattern.utf8)) : .regex(try ICURegexPattern(pattern, path: "test"), slot: 0)
            step = .split(kind, names[try item.required("behavior").string]!, invert: try item.required("invert").bool)
        }
        let pre = PreTokenizer(steps: [step], name: "test")
        let state = PreTokenizerState(pre)
        for c in try item.required("cases").array {
            let pair = try c.array
            var buffer = Array(try pair[0].string.utf8)
            var out: [Range<Int>] = []
            try pre.run(&buffer, 0 ..< buffer.count, into: &out, state: state)
            let got = out.map { String(decoding: buffer[$0], as: UTF8.self) }
            let expected = try pair[1].array.map { try $0.string }
            let text = try pair[0].string
            #expect(got == expected, "\(item.path) \(text.debugDescription)")
        }
    }
}
