// A validating JSON scanner for one JSON Lines record.
// Policy: it checks the whole record against RFC 8259 (strings without raw control characters, numbers
// in JSON's grammar, nesting at most `maxDepth` levels), and remembers where one value — named by a
// dotted path of object keys — starts and ends, without building a tree. Writers splice a new value
// into that span, so every other field passes through byte for byte. Duplicate keys: the last one wins,
// as in Python's json module.
// Cost: one pass over the bytes, no allocation unless a key has escapes. Strings are scanned by the
// JSON string codec (JSONString.swift).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let (end, escaped) = try scanJSONString(bytes, at: pos)
        pos = end
        return escaped
    }
}
