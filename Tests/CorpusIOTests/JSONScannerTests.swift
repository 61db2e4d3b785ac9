import CorpusIO
import Foundation
import Testing

private func scan(_ s: String, _ path: [String] = ["text"]) throws -> (String, JSONValueKind)? {
    let bytes = Array(s.utf8)
    return try bytes.withUnsafeBytes { raw in
        guard let (range, kind) = try scanJSONRecord(raw, path: path) else { return nil }
        return (String(decoding: raw[range], as: UTF8.self), kind)
    }
}

private func syntaxError(_ s: String) -> JSONSyntaxError? {
    do { _ = try scan(s); return nil } catch let e as JSONSyntaxError { return e } catch { return nil }
}

@Suite struct JSONScannerTests {
    @Test func findsTopLevelAndNestedFields() throws {
        #expect(try scan(#"{"text": "hi", "meta": {"pile_set_name": "Github"}}"#)! == (#""hi""#, .string))
        #expect(try scan(#"{"meta": {"pile_set_name": "Github"}, "text": "x"}"#, ["meta", "pile_set_name"])! == (#""Github""#, .string))
        #expect(try scan(#"{"a": {"b": {"c": 12.5e-3}}}"#, ["a", "b", "c"])! == ("12.5e-3", .number))
        #expect(try scan(#"{"a": [1, {"text": "no"}], "b": null}"#) == nil)  // inside arrays is off the path
        #expect(try scan(#"{"text": null}"#)! == ("null", .null))
        #expect(try scan(#"{"text": ["a"]}"#)! == (#"["a"]"#, .array))
    }

    @Test func lastDuplicateKeyWinsLikePython() throws {
        #expect(try scan(#"{"text": "first", "text": "second"}"#)! == (#""second""#, .string))
    }

    @Test func keysWithEscapesMatch() throws {
        #expect(try scan(#"{"t\u0065xt": "escaped key"}"#)! == (#""escaped key""#, .string))
    }

    @Test(arguments: [(String, String)]([
        (#"{"text": "a"} x"#, "extra data"),
        (#"{"text": "a""#, "unexpected end"),
        (#"{"text" "a"}"#, "expected ':'"),
        (#"{"text": 'a'}"#, "expected a value"),
        (#"{"text": "a\q"}"#, "invalid escape"),
        (#"{"text": "\u12"}"#, #"invalid \u escape"#),
        (#"{"text": 01}"#, "expected ',' or '}'"),
        (#"{"text": 1.}"#, "invalid number"),
        (#"{"text": tru}"#, "expected a value"),
        (#"["text"]"#, "must be a JSON object"),
        ("{\"text\": \"a\u{01}b\"}", "control character"),
        ("{\"text\": \"a\u{00}b\"}", "NUL byte"),
        (#"{"text": "unterminated}"#, "unterminated string"),
    ]))
    func rejectsInvalidJSONWithOffsets(input: String, message: String) {
        let e = syntaxError(input)
        #expect(e != nil)
        #expect(e?.message.contains(message) == true, "\(e?.message ?? "no error")")
    }

    @Test func rejectsDeepNestingWithoutRecursingForever() {
        let deep = #"{"text": "x", "a": "# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        let e = syntaxError(deep)
        #expect(e?.tooDeep == true)
        #expect(e?.offset == 19 + 511)  // the record object is level 1, the 511th bracket is level 512
    }

    @Test func decodesEscapesAndSurrogates() {
        func decode(_ token: String) -> (String, Int) {
            let r = Array(token.utf8).withUnsafeBytes { decodeJSONString($0) }
            return (String(decoding: r.bytes, as: UTF8.self), r.loneSurrogates)
        }
        #expect(decode(#""a\"b\\c\/d\b\f\n\r\t""#) == ("a\"b\\c/d\u{8}\u{c}\n\r\t", 0))
        #expect(decode(#""\u00e9\u4e2d\ud83d\ude00""#) == ("é中😀", 0))
        #expect(decode(#""x\ud800y""#) == ("x\u{FFFD}y", 1))
        #expect(decode(#""\udc00\ud800""#) == ("\u{FFFD}\u{FFFD}", 2))
    }

    @Test func encodedStringsRoundTripThroughFoundation() throws {
        let seed: UInt64 = 20_261_207
        var rng = SplitMix64(seed: seed)
        let pool: [Unicode.Scalar] = ["a", "\"", "\\", "\n", "\t", "\u{0}", "\u{1f}", "\u{7f}", "é", "中", "😀", "\u{2028}", "/"]
        for _ in 0 ..< 200 {
            var s = String.UnicodeScalarView()
            for _ in 0 ..< Int.random(in: 0 ..< 20, using: &rng) { s.append(pool.randomElement(using: &rng)!) }
            let text = String(s)
            var out: [UInt8] = []
            var t = text
            t.withUTF8 { appendJSONString(UnsafeRawBufferPointer($0), to: &out) }
            let decoded = try JSONSerialization.jsonObject(with: Data(out), options: [.fragmentsAllowed]) as? String
            #expect(decoded == text, "\(text.debugDescription) (seed \(seed))")
        }
    }
}
