// The one JSON string codec: every JSON reader and writer in TokenMill escapes and unescapes strings here.
// Policy (RFC 8259 §7): a writer escapes `"` and `\`, writes \n \t \r (and by default \b \f) short and
// every other control character as \u00XX in lowercase hex, and passes everything else through as raw
// UTF-8 (Python's `ensure_ascii=False`, serde_json and Foundation's `.withoutEscapingSlashes` write the
// same bytes). A reader first scans a token (finding its end, checking every escape and, unless allowed,
// rejecting raw control characters), then decodes it; a lone surrogate escape decodes to U+FFFD (UTF-8
// cannot hold it) and is counted.
// Cost: scanning skips eight bytes at a time while none is a quote, a backslash or a control byte;
// decoding copies runs between backslashes with memchr, and a token without escapes is one copy.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a writer spells backspace (U+0008) and form feed (U+000C).
public enum JSONControlEscapes: Sendable {
    /// `\b` and `\f`, as Python's json, serde_json and Foundation write them (the default).
    case short
    /// `\u0008` and `\u000c`: the spelling of `tokenmill encode --keep-text` for a plain-text document's
    /// `"text"`, kept so its output stays as it was.
    case unicode
}

// MARK: - Writing

/// Appends `text` (UTF-8) as a JSON string token, quotes included.
/// - Complexity: O(n); runs without characters to escape are copied in one go.
public func appendJSONString(_ text: UnsafeRawBufferPointer, to out: inout [UInt8], controlEscapes: JSONControlEscapes = .short) {
    out.append(UInt8(ascii: "\""))
    var runStart = 0
    for i in 0 ..< text.count {
        let b = text[i]
        if b >= 0x20 && b != 0x22 && b != 0x5C { continue }
        if runStart < i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[runStart ..< i])) }
        runStart = i + 1
        out.append(0x5C)
        switch b {
        case 0x22: out.append(0x22)
        case 0x5C: out.append(0x5C)
        case 0x0A: out.append(UInt8(ascii: "n"))
        case 0x09: out.append(UInt8(ascii: "t"))
        case 0x0D: out.append(UInt8(ascii: "r"))
        case 0x08 where controlEscapes == .short: out.append(UInt8(ascii: "b"))
        case 0x0C where controlEscapes == .short: out.append(UInt8(ascii: "f"))
        default:
            let hexDigits: StaticString = "0123456789abcdef"
            out.append(UInt8(ascii: "u")); out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "0"))
            out.append(hexDigits.utf8Start[Int(b >> 4)]); out.append(hexDigits.utf8Start[Int(b & 15)])
        }
    }
    if runStart < text.count { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[runStart...])) }
    out.append(UInt8(ascii: "\""))
}

/// Appends `text` as a JSON string token, quotes included.
public func appendJSONString(_ text: String, to out: inout [UInt8], controlEscapes: JSONControlEscapes = .short) {
    var text = text
    text.withUTF8 { appendJSONString(UnsafeRawBufferPointer($0), to: &out, controlEscapes: controlEscapes) }
}

/// `text` as a JSON string token, quotes included: `encodeJSONString("a\"b")` is `"a\"b"` with the quote escaped.
public func encodeJSONString(_ text: String, controlEscapes: JSONControlEscapes = .short) -> String {
    var out: [UInt8] = []
    appendJSONString(text, to: &out, controlEscapes: controlEscapes)
    return String(decoding: out, as: UTF8.self)
}

// MARK: - Reading

/// Finds the end of the JSON string token that starts at `start` (a quote) in `bytes`, checking its
/// escapes and, unless `allowRawControlCharacters`, that it holds no raw control character.
/// - Returns: the index just past the closing quote, and whether the token has escapes (when not, its
///   body is already its UTF-8 value).
/// - Throws: `JSONSyntaxError` at the byte offset (in `bytes`) of the bad escape or character, or at the
///   end for an unterminated string.
/// - Complexity: O(n) in the token's length.
public func scanJSONString(_ bytes: UnsafeRawBufferPointer, at start: Int, allowRawControlCharacters: Bool = false) throws(JSONSyntaxError) -> (end: Int, hasEscapes: Bool) {
    precondition(start < bytes.count && bytes[start] == UInt8(ascii: "\""), "a JSON string token starts with a quote")
    var pos = start + 1
    var escaped = false
    while pos < bytes.count {
        // Fast path: skip eight bytes at a time while none is a quote, a backslash or a control byte.
        while pos + 8 <= bytes.count {
            let w = ByteScan.word(bytes, pos)
            if ByteScan.hasByteLess(w, than: 0x20) || ByteScan.hasByte(w, 0x22) || ByteScan.hasByte(w, 0x5C) { break }
            pos += 8
        }
        guard pos < bytes.count else { break }
        let b = bytes[pos]
        if b == UInt8(ascii: "\"") { return (pos + 1, escaped) }
        if b == UInt8(ascii: "\\") {
            escaped = true
            guard pos + 1 < bytes.count else { pos += 1; break }
            switch bytes[pos + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                 UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                pos += 2
            case UInt8(ascii: "u"):
                guard pos + 6 <= bytes.count, (2 ..< 6).allSatisfy({ hexValue(bytes[pos + $0]) != nil }) else {
                    throw JSONSyntaxError(offset: pos, message: "invalid \\u escape: four hex digits must follow")
                }
                pos += 6
            default:
                throw JSONSyntaxError(offset: pos + 1, message: "invalid escape '\\\(Character(Unicode.Scalar(bytes[pos + 1])))'")
            }
            continue
        }
        if b < 0x20 && !allowRawControlCharacters {
            throw JSONSyntaxError(offset: pos, message: "\(b == 0 ? "a NUL byte" : "control character 0x" + String(b, radix: 16)) inside a string (must be escaped)")
        }
        pos += 1
    }
    throw JSONSyntaxError(offset: pos, message: "unterminated string")
}

@inline(__always) func hexValue(_ b: UInt8) -> UInt32? {
    switch b {
    case 0x30...0x39: return UInt32(b - 0x30)
    case 0x41...0x46: return UInt32(b - 0x41 + 10)
    case 0x61...0x66: return UInt32(b - 0x61 + 10)
    default: return nil
    }
}

/// Decodes a JSON string token (with its quotes) that `scanJSONString` accepted, to UTF-8 bytes.
/// A lone surrogate escape becomes U+FFFD and is counted; a high surrogate followed by an escape that
/// is not a low surrogate leaves that escape to be decoded on its own.
/// - Complexity: O(n); one copy when the string has no escapes.
public func decodeJSONString(_ token: UnsafeRawBufferPointer) -> (bytes: [UInt8], loneSurrogates: Int) {
    let body = UnsafeRawBufferPointer(rebasing: token[1 ..< token.count - 1])
    guard let base = body.baseAddress, memchr(base, 0x5C, body.count) != nil else { return (Array(body), 0) }
    var out = [UInt8]()
    out.reserveCapacity(body.count)
    var lone = 0
    var i = 0
    func hex4(_ at: Int) -> UInt32 {
        (hexValue(body[at])! << 12) | (hexValue(body[at + 1])! << 8) | (hexValue(body[at + 2])! << 4) | hexValue(body[at + 3])!
    }
    while i < body.count {
        // Copy the run up to the next backslash in one go.
        guard let hit = memchr(base + i, 0x5C, body.count - i) else {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[i...]))
            break
        }
        let slash = base.distance(to: UnsafeRawPointer(hit))
        if slash > i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[i ..< slash])) }
        i = slash
        let e = body[i + 1]
        i += 2
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var cp = hex4(i)
            i += 4
            if cp >= 0xD800 && cp < 0xDC00 {
                if i + 6 <= body.count, body[i] == 0x5C, body[i + 1] == UInt8(ascii: "u"), case let lo = hex4(i + 2), lo >= 0xDC00 && lo < 0xE000 {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    i += 6
                } else { cp = 0xFFFD; lone += 1 }
            } else if cp >= 0xDC00 && cp < 0xE000 { cp = 0xFFFD; lone += 1 }
            appendUTF8(Unicode.Scalar(cp)!, to: &out)
        default: out.append(e)  // \" \\ \/
        }
    }
    return (out, lone)
}

/// Scans and decodes `token`, which must be exactly one JSON string token (quotes included).
/// - Throws: `JSONSyntaxError` with the byte offset in `token` of the first problem.
public func decodeJSONString(checking token: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> (bytes: [UInt8], loneSurrogates: Int) {
    guard token.count > 0, token[0] == UInt8(ascii: "\"") else {
        throw JSONSyntaxError(offset: 0, message: token.isEmpty ? "empty input, expected a string" : "expected a string, found \(describeByte(token[0]))")
    }
    let (end, _) = try scanJSONString(token, at: 0)
    guard end == token.count else { throw JSONSyntaxError(offset: end, message: "extra data after the string: \(describeByte(token[end]))") }
    return decodeJSONString(token)
}

@inline(__always) func appendUTF8(_ s: Unicode.Scalar, to out: inout [UInt8]) {
    let v = s.value
    if v < 0x80 { out.append(UInt8(v)) }
    else if v < 0x800 { out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F)) }
    else if v < 0x10000 {
        out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | (v >> 6) & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
    } else {
        out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | (v >> 12) & 0x3F))
        out.append(UInt8(0x80 | (v >> 6) & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
    }
}
