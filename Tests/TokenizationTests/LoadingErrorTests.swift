// Malformed or unsupported tokenizer files fail with a message naming the JSON path.
import struct CorpusIO.SplitMix64
import Foundation
import Testing
@testable import Tokenization

private func message(_ json: String) -> String {
    do { _ = try Tokenizer.fromHuggingFaceJSON(json); return "no error" } catch { return "\(error)" }
}

private let preByteLevel = #""pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}"#

@Test func refusesWordPiece() {
    let m = message(#"{"model":{"type":"WordPiece","vocab":{}},"# + preByteLevel + "}")
    #expect(m.contains("model.type") && m.contains("WordPiece"))
}

@Test func namesTheBadMerge() {
    let m = message(#"{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]},"# + preByteLevel + "}")
    #expect(m.contains("model.merges[0]") && m.contains("\"ab\""), "\(m)")
}

@Test func namesTheBadVocabValue() {
    let m = message(#"{"model":{"type":"BPE","vocab":{"a":"x"},"merges":[]},"# + preByteLevel + "}")
    #expect(m.contains("model.vocab.a"), "\(m)")
}

@Test func namesUnsupportedPreTokenizer() {
    let m = message(#"{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Metaspace"}]}}"#)
    #expect(m.contains("pre_tokenizer.pretokenizers[0].type"), "\(m)")
}

@Test func reportsSyntaxErrorOffset() {
    #expect(message(#"{"model": [}"#).contains("not valid JSON at byte"))
}

@Test func decodeRejectsUnknownIDs() throws {
    let t = try Tokenizer.fromHuggingFaceJSON(#"{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"# + preByteLevel + "}")
    #expect(try t.encode("abab") == [2, 2])
    #expect(throws: TokenizerError.self) { try t.decode([5]) }
}

@Test func base64DecoderAgreesWithFoundation() {
    let seed: UInt64 = 20_261_208
    var rng = SplitMix64(seed: seed)
    for n in 0 ..< 40 {
        let bytes = (0 ..< n).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        let text = Array(Data(bytes).base64EncodedString().utf8)
        #expect(decodeBase64(text) == bytes, "\(n) bytes, seed \(seed)")
    }
    #expect(decodeBase64(Array("YW=j".utf8)) == nil)
    #expect(decodeBase64(Array("Y*==".utf8)) == nil)
}

@Test func reportsBadStringEscapesAtTheirByteOffset() throws {
    #expect(message(#"{"model": "a\q"}"#).contains("not valid JSON at byte 13: invalid escape '\\q'"), "\(message(#"{"model": "a\q"}"#))")
    #expect(message(#"{"model": "a\u00"}"#).contains("not valid JSON at byte 12: invalid \\u escape"))
    // Raw control characters inside strings are read as before (the tokenizer reader lets them through).
    let value = try JSONValue.parse(Array("{\"k\": \"a\u{1}\\u00e9\\ud83d\\ude00\"}".utf8), path: "t.json")
    guard case .object(let members) = value, case .string(let s) = members.first?.1 else { Issue.record("not an object"); return }
    #expect(s == "a\u{1}é😀")
}
