// A validating JSON scanner for one JSON Lines record.
// Policy: it checks the whole record against RFC 8259 (strings without raw control characters, numbers
// in JSON's grammar, nesting at most `maxDepth` levels), and remembers where one value — named by a
// dotted path of object keys — starts and ends, without building a tree. Writers splice a new value
// into that span, so every other field passes through byte for byte. Duplicate keys: the last one wins,
// as in Python's json module.
// Cost: one pass over the bytes, no allocation unless a key has escapes.

/// What kind of JSON value a span holds.
public enum JSONValueKind: String, Sendable {
    case string, number, object, array, bool = "boolean", null
}

/// A JSON syntax error at a byte offset in the record.
public struct JSONSyntaxError: Error, Sendable {
    public var offset: Int
    public var message: String
    public var tooDeep = false
}

/// Scans `record` and finds the value at `path` (object keys, outermost first).
/// - Returns: the value's byte range (a string's includes its quotes) and kind, or nil when absent.
/// - Throws: `JSONSyntaxError` when the record is not one valid JSON object.
/// - Complexity: O(n) in the record's length.
public func scanJSONRecord(_ record: UnsafeRawBufferPointer, path: [String], maxDepth: Int = 512) throws -> (range: Range<Int>, kind: JSONValueKind)? {
    var scanner = JSONScanner(bytes: record, path: path.map { Array($0.utf8) }, maxDepth: maxDepth)
    scanner.skipWhitespace()
    guard scanner.pos < record.count, record[scanner.pos] == UInt8(ascii: "{") else {
        if scanner.pos >= record.count { throw JSONSyntaxError(offset: scanner.pos, message: "empty record") }
        throw JSONSyntaxError(offset: scanner.pos, message: "a record must be a JSON object, found \(describeByte(record[scanner.pos]))")
    }
    try scanner.value(depth: 0, pathIndex: 0)
    scanner.skipWhitespace()
    if scanner.pos != record.count {
        throw JSONSyntaxError(offset: scanner.pos, message: "extra data after the JSON object: \(describeByte(record[scanner.pos]))")
    }
    return scanner.found
}

func describeByte(_ b: UInt8) -> String {
    if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
    if b == 0 { return "a NUL byte" }
    return "byte 0x" + String(b, radix: 16, uppercase: true)
}

struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    let path: [[UInt8]]
    let maxDepth: Int
    var pos = 0
    var found: (range: Range<Int>, kind: JSONValueKind)?

    init(bytes: UnsafeRawBufferPointer, path: [[UInt8]], maxDepth: Int) {
        self.bytes = bytes
        self.path = path
        self.maxDepth = maxDepth
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < bytes.count {
            let b = bytes[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { break }
        }
    }

    func fail(_ message: String) -> JSONSyntaxError { JSONSyntaxError(offset: pos, message: message) }

    func unexpected(_ expected: String) -> JSONSyntaxError {
        if pos >= bytes.count { return fail("unexpected end of record, expected \(expected)") }
        return fail("expected \(expected), found \(describeByte(bytes[pos]))")
    }

    /// Parses one value. `pathIndex` is the index in `path` an object here would be matched against
    /// (nil when this value is off the path).
    mutating func value(depth: Int, pathIndex: Int?) throws {
        guard pos < bytes.count else { throw unexpected("a value") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            if depth >= maxDepth { var e = fail("JSON nested deeper than \(maxDepth) levels"); e.tooDeep = true; throw e }
            try object(depth: depth + 1, pathIndex: pathIndex)
        case UInt8(ascii: "["):
            if depth >= maxDepth { var e = fail("JSON nested deeper than \(maxDepth) levels"); e.tooDeep = true; throw e }
            pos += 1
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
            while true {
                try value(depth: depth + 1, pathIndex: nil)
                skipWhitespace()
                guard pos < bytes.count else { throw unexpected("',' or ']'") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; skipWhitespace(); continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
                throw unexpected("',' or ']'")
            }
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw unexpected("a value")
        }
    }

    mutating func object(depth: Int, pathIndex: Int?) throws {
        pos += 1
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
        while true {
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw unexpected("a string key") }
            let keyStart = pos
            let hasEscape = try string()
            var next: Int? = nil
            var isTarget = false
            if let i = pathIndex, keyEquals(keyStart + 1 ..< pos - 1, path[i], hasEscape: hasEscape) {
                if i == path.count - 1 { isTarget = true } else { next = i + 1 }
            }
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw unexpected("':' after an object key") }
            pos += 1
            skipWhitespace()
            let valueStart = pos
            let kind = pos < bytes.count ? kindOf(bytes[pos]) : .null
            try value(depth: depth, pathIndex: next)
            if isTarget { found = (valueStart ..< pos, kind) }
            skipWhitespace()
            guard pos < bytes.count else { throw unexpected("',' or '}'") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; skipWhitespace(); continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
            throw unexpected("',' or '}'")
        }
    }

    func kindOf(_ b: UInt8) -> JSONValueKind {
        switch b {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        default: return .number
        }
    }

    func keyEquals(_ range: Range<Int>, _ key: [UInt8], hasEscape: Bool) -> Bool {
        if !hasEscape {
            guard range.count == key.count else { return false }
            for (i, b) in zip(range, key) where bytes[i] != b { return false }
            return true
        }
        let decoded = decodeJSONString(UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound - 1 ..< range.upperBound + 1]))
        return decoded.bytes == key
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let w = UnsafeRawBufferPointer(start: word.utf8Start, count: n)
        guard pos + n <= bytes.count, memcmp(bytes.baseAddress! + pos, w.baseAddress!, n) == 0 else {
            throw unexpected("a value")
        }
        pos += n
    }

    mutating func number() throws {
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("invalid number") }
        if bytes[pos] == UInt8(ascii: "0") { pos += 1 } else { while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 } }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("invalid number: a digit must follow '.'") }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("invalid number: a digit must follow the exponent") }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
    }

    @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// Skips a string starting at `pos` (a quote). Returns whether it contains escapes.
    @discardableResult
    mutating func string() throws -> Bool {
        pos += 1
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
            if b == UInt8(ascii: "\"") { pos += 1; return escaped }
            if b == UInt8(ascii: "\\") {
                escaped = true
                guard pos + 1 < bytes.count else { pos += 1; break }
                switch bytes[pos + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    pos += 2
                case UInt8(ascii: "u"):
                    guard pos + 6 <= bytes.count, (2..<6).allSatisfy({ hexValue(bytes[pos + $0]) != nil }) else {
                        throw fail("invalid \\u escape: four hex digits must follow")
                    }
                    pos += 6
                default:
                    pos += 1
                    throw fail("invalid escape '\\\(Character(Unicode.Scalar(bytes[pos])))'")
                }
                continue
            }
            if b < 0x20 { throw fail("\(b == 0 ? "a NUL byte" : "control character 0x" + String(b, radix: 16)) inside a string (must be escaped)") }
            pos += 1
        }
        throw fail("unterminated string")
    }
}

@inline(__always) func hexValue(_ b: UInt8) -> UInt32? {
    switch b {
    case 0x30...0x39: return UInt32(b - 0x30)
    case 0x41...0x46: return UInt32(b - 0x41 + 10)
    case 0x61...0x66: return UInt32(b - 0x61 + 10)
    default: return nil
    }
}

/// Decodes a JSON string token (with its quotes; already validated by the scanner) to UTF-8 bytes.
/// Lone surrogate escapes become U+FFFD and are counted.
/// - Complexity: O(n); one copy when the string has no escapes.
public func decodeJSONString(_ token: UnsafeRawBufferPointer) -> (bytes: [UInt8], loneSurrogates: Int) {
    let body = UnsafeRawBufferPointer(rebasing: token[1 ..< token.count - 1])
    guard memchr(body.baseAddress!, 0x5C, body.count) != nil else { return (Array(body), 0) }
    var out = [UInt8]()
    out.reserveCapacity(body.count)
    var lone = 0
    var i = 0
    let base = body.baseAddress!
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
                if i + 6 <= body.count, body[i] == 0x5C, body[i + 1] == UInt8(ascii: "u") {
                    let lo = hex4(i + 2)
                    if lo >= 0xDC00 && lo < 0xE000 {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                    } else { cp = 0xFFFD; lone += 1 }
                } else { cp = 0xFFFD; lone += 1 }
            } else if cp >= 0xDC00 && cp < 0xE000 { cp = 0xFFFD; lone += 1 }
            appendUTF8(Unicode.Scalar(cp)!, to: &out)
        default: out.append(e)  // \" \\ \/
        }
    }
    return (out, lone)
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

/// Appends `text` as a JSON string token: quotes, `"` and `\` escaped, control characters as \n, \t,
/// \r, \b, \f or \u00XX; everything else as raw UTF-8 (like Python's `ensure_ascii=False`).
public func appendJSONString(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    var runStart = 0
    let hexDigits = Array("0123456789abcdef".utf8)
    for i in 0 ..< text.count {
        let b = text[i]
        if b >= 0x20 && b != 0x22 && b != 0x5C { continue }
        if runStart < i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[runStart ..< i])) }
        runStart = i + 1
        switch b {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
        case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
        case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
        case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
        default:
            out.append(contentsOf: Array("\\u00".utf8))
            out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 15)])
        }
    }
    if runStart < text.count { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[runStart...])) }
    out.append(UInt8(ascii: "\""))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
