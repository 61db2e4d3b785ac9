// The JSON string codec: what it writes for every control character, that reading inverts writing
// (surrogate pairs included), and where it reports a bad token.
import CorpusIO
import Foundation
import Testing

private func encodeBytes(_ s: String, _ style: JSONControlEscapes = .short) -> String {
    var out: [UInt8] = []
    appendJSONString(s, to: &out, controlEscapes: style)
    return String(decoding: out, as: UTF8.self)
}

private func decode(_ token: String) throws -> (String, Int) {
    let bytes = Array(token.utf8)
    let r = try bytes.withUnsafeBytes { try decodeJSONString(checking: $0) }
    return (String(decoding: r.bytes, as: UTF8.self), r.loneSurrogates)
}

private func syntaxError(_ token: String, allowRawControlCharacters: Bool = false) -> JSONSyntaxError? {
    let bytes = Array(token.utf8)
    do {
        _ = try bytes.withUnsafeBytes { try scanJSONString($0, at: 0, allowRawControlCharacters: allowRawControlCharacters) }
        return nil
    } catch let e as JSONSyntaxError { return e } catch { return nil }
}

@Suite struct JSONStringTests {
    /// Each control character alone: the short spellings, lowercase \u00XX for the rest, and the same
    /// bytes Foundation's JSONSerialization writes (the safetensors header used it before the codec).
    @Test(arguments: 0 ..< 0x20)
    func everyControlCharacterIsEscapedAsFoundationDoes(code: Int) throws {
        let s = String(Unicode.Scalar(UInt8(code)))
        let short: [Int: String] = [0x08: #""\b""#, 0x09: #""\t""#, 0x0A: #""\n""#, 0x0C: #""\f""#, 0x0D: #""\r""#]
        let expected = short[code] ?? "\"\\u00" + (code < 16 ? "0" : "") + String(code, radix: 16) + "\""
        #expect(encodeJSONString(s) == expected)
        let foundation = try JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        #expect("[" + encodeJSONString(s) + "]" == String(decoding: foundation, as: UTF8.self))
        #expect(try decode(encodeJSONString(s)) == (s, 0))
        #expect(try decode(encodeJSONString(s, controlEscapes: .unicode)) == (s, 0))
    }

    @Test func unicodeStyleSpellsBackspaceAndFormFeedAsEscapes() {
        #expect(encodeBytes("a\u{8}b\u{c}c\n\t\r\u{1}", .unicode) == #""a\u0008b\u000cc\n\t\r\u0001""#)
        #expect(encodeBytes("a\u{8}b\u{c}c\n\t\r\u{1}") == #""a\bb\fc\n\t\r\u0001""#)
    }

    @Test func quotesBackslashesAndNonASCIIPassThroughAsRawUTF8() throws {
        #expect(encodeJSONString("say \"hi\" \\ / é 中 😀 \u{7f} \u{2028}") == "\"say \\\"hi\\\" \\\\ / é 中 😀 \u{7f} \u{2028}\"")
        #expect(try decode(#""\/\u002f""#) == ("//", 0))
        #expect(try decode(#""\u00e9\u4E2D""#) == ("é中", 0))
    }

    @Test func surrogatePairsDecodeAndLoneSurrogatesAreCounted() throws {
        #expect(try decode(#""\ud83d\ude00!""#) == ("😀!", 0))
        #expect(try decode(#""\uD834\uDD1E""#) == ("𝄞", 0))
        #expect(try decode(#""x\ud800y""#) == ("x\u{FFFD}y", 1))
        #expect(try decode(#""\ude00\ud83d""#) == ("\u{FFFD}\u{FFFD}", 2))
        // A high surrogate before an escape that is not a low surrogate: that escape is read on its own.
        #expect(try decode(#""\ud83d\u0041\n""#) == ("\u{FFFD}A\n", 1))
    }

    @Test func randomStringsRoundTripInBothStyles() throws {
        let seed: UInt64 = 20_261_204
        var rng = SplitMix64(seed: seed)
        var pool: [Unicode.Scalar] = (0 ..< 0x20).map { Unicode.Scalar(UInt8($0)) }
        pool += ["a", "z", "\"", "\\", "/", "\u{7f}", "é", "中", "😀", "𝄞", "\u{2028}", "\u{FFFD}", "u", "0"]
        for trial in 0 ..< 500 {
            var scalars = String.UnicodeScalarView()
            for _ in 0 ..< Int.random(in: 0 ..< 40, using: &rng) { scalars.append(pool.randomElement(using: &rng)!) }
            let text = String(scalars)
            for style in [JSONControlEscapes.short, .unicode] {
                let token = encodeBytes(text, style)
                #expect(try decode(token) == (text, 0), "trial \(trial), seed \(seed): \(text.debugDescription) → \(token)")
                let foundation = try JSONSerialization.jsonObject(with: Data(token.utf8), options: [.fragmentsAllowed]) as? String
                #expect(foundation == text, "trial \(trial), seed \(seed): \(token)")
            }
        }
    }

    /// Offsets are byte offsets in the scanned buffer: the escape letter for an unknown escape, the
    /// backslash for a short \u, the character for a raw control byte, the end for an unterminated string.
    @Test(arguments: [(String, Int, String)]([
        (#""ab\q""#, 4, "invalid escape '\\q'"),
        (#""é\x""#, 4, "invalid escape '\\x'"),
        (#""\u12""#, 1, "invalid \\u escape"),
        (#""ok\u00zz""#, 3, "invalid \\u escape"),
        (#""ok\u00"#, 3, "invalid \\u escape"),
        ("\"abc", 4, "unterminated string"),
        ("\"a\\", 3, "unterminated string"),
        ("\"0123456789abcdef", 17, "unterminated string"),
        ("\"a\u{1}b\"", 2, "control character 0x1"),
        ("\"abcdefghij\u{0}\"", 11, "a NUL byte"),
    ]))
    func invalidTokensFailAtTheirByteOffset(token: String, offset: Int, message: String) {
        let e = syntaxError(token)
        #expect(e?.offset == offset, "\(token.debugDescription): \(e.map { "\($0.offset) \($0.message)" } ?? "no error")")
        #expect(e?.message.contains(message) == true, "\(e?.message ?? "no error")")
    }

    @Test func rawControlCharactersPassWhenAllowed() throws {
        #expect(syntaxError("\"a\u{1}\tb\"", allowRawControlCharacters: true) == nil)
        let bytes = Array("xx\"a\\tb\" tail".utf8)
        let (end, escaped) = try bytes.withUnsafeBytes { try scanJSONString($0, at: 2) }
        #expect(end == 8 && escaped)
    }

    @Test func checkingDecoderRejectsWhatIsNotOneString() {
        for (token, offset) in [("", 0), ("x", 0), (#""a" "#, 3), (#""a""b""#, 3)] {
            do { _ = try decode(token); Issue.record("\(token.debugDescription) was accepted") } catch { #expect((error as? JSONSyntaxError)?.offset == offset, "\(token.debugDescription)") }
        }
    }
}
