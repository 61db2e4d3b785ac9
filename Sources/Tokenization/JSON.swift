// A small JSON reader and writer for tokenizer files: objects keep their key order, errors give the
// byte offset, and values are looked up with the JSON path kept for messages (`model.merges[12]`).
// Policy: numbers are kept as their text and read as Int or Double on demand; lone surrogate escapes
// become U+FFFD. Nesting deeper than 256 is an error.
// Cost: one pass; a 7 MB tokenizer.json parses in well under a second in release builds.
// Strings are escaped and unescaped by CorpusIO's JSON string codec.
import CorpusIO

/// A parsed JSON value.
public indirect enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// Parses UTF-8 JSON text.
    /// - Throws: `TokenizerError.invalid` with the byte offset of the syntax error.
    public static func parse(_ bytes: [UInt8], path: String) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes, file: path)
        return try bytes.withUnsafeBufferPointer { buf in
            parser.buf = buf
            parser.skipSpace()
            let v = try parser.value(depth: 0)
            parser.skipSpace()
            if parser.i != buf.count { throw parser.error("unexpected text after the JSON value") }
            return v
        }
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    let file: String
    var buf: UnsafeBufferPointer<UInt8> = UnsafeBufferPointer(start: nil, count: 0)
    var i = 0

    init(bytes: [UInt8], file: String) { self.bytes = bytes; self.file = file }

    func error(_ message: String) -> TokenizerError {
        .invalid(path: file, "not valid JSON at byte \(i): \(message)", hint: nil)
    }

    mutating func skipSpace() {
        while i < buf.count, buf[i] == 0x20 || buf[i] == 0x0A || buf[i] == 0x0D || buf[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 256 else { throw error("nested too deeply") }
        guard i < buf.count else { throw error("unexpected end of input") }
        switch buf[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, JSONValue)] = []
            skipSpace()
            if i < buf.count && buf[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try string()
                skipSpace()
                guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                i += 1
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < buf.count else { throw error("unexpected end of input") }
                if buf[i] == UInt8(ascii: ",") { i += 1; continue }
                if buf[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < buf.count && buf[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < buf.count else { throw error("unexpected end of input") }
                if buf[i] == UInt8(ascii: ",") { i += 1; continue }
                if buf[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            let start = i
            while i < buf.count, let c = Optional(buf[i]), (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { i += 1 }
            if i == start { throw error("unexpected character") }
            return .number(String(decoding: UnsafeBufferPointer(rebasing: buf[start ..< i]), as: UTF8.self))
        }
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= buf.count, Array(buf[i ..< i + w.count]) == w else { throw error("unexpected character") }
        i += w.count
    }

    /// A string token, scanned and decoded by CorpusIO's JSON string codec (raw control characters are
    /// let through, as before).
    mutating func string() throws -> String {
        let raw = UnsafeRawBufferPointer(buf)
        let start = i
        let scanned: (end: Int, hasEscapes: Bool)
        do { scanned = try scanJSONString(raw, at: start, allowRawControlCharacters: true) } catch {
            i = error.offset
            throw self.error(error.message)
        }
        i = scanned.end
        let token = UnsafeRawBufferPointer(rebasing: raw[start ..< scanned.end])
        if !scanned.hasEscapes { return String(decoding: UnsafeRawBufferPointer(rebasing: token[1 ..< token.count - 1]), as: UTF8.self) }
        return String(decoding: decodeJSONString(token).bytes, as: UTF8.self)
    }
}

/// A JSON value with its path, for lookups whose errors name where they failed.
struct JSONCursor {
    let value: JSONValue
    let path: String

    func invalid(_ message: String, hint: String? = nil) -> TokenizerError { .invalid(path: path, message, hint: hint) }

    /// The member `key` (nil when absent or null).
    func optional(_ key: String) throws -> JSONCursor? {
        guard case .object(let members) = value else { throw invalid("expected an object, found \(value.typeName)") }
        guard let v = members.first(where: { $0.0 == key })?.1 else { return nil }
        if case .null = v { return nil }
        return JSONCursor(value: v, path: path.isEmpty ? key : "\(path).\(key)")
    }

    func required(_ key: String) throws -> JSONCursor {
        guard let c = try optional(key) else { throw TokenizerError.invalid(path: path.isEmpty ? key : "\(path).\(key)", "missing", hint: nil) }
        return c
    }

    var string: String {
        get throws { guard case .string(let s) = value else { throw invalid("expected a string, found \(value.typeName)") }; return s }
    }
    var int: Int {
        get throws {
            guard case .number(let t) = value, let n = Int(t) else { throw invalid("expected an integer, found \(value.typeName)") }
            return n
        }
    }
    var bool: Bool {
        get throws { guard case .bool(let b) = value else { throw invalid("expected true or false, found \(value.typeName)") }; return b }
    }
    var array: [JSONCursor] {
        get throws {
            guard case .array(let items) = value else { throw invalid("expected an array, found \(value.typeName)") }
            return items.enumerated().map { JSONCursor(value: $1, path: "\(path)[\($0)]") }
        }
    }
    var members: [(String, JSONCursor)] {
        get throws {
            guard case .object(let m) = value else { throw invalid("expected an object, found \(value.typeName)") }
            return m.map { ($0.0, JSONCursor(value: $0.1, path: "\(path).\($0.0)")) }
        }
    }

    func bool(_ key: String, default d: Bool) throws -> Bool { try optional(key)?.bool ?? d }
}

/// Serializes a value compactly (used to carry post_processor/decoder through unchanged).
public func appendJSON(_ v: JSONValue, to out: inout [UInt8]) {
    switch v {
    case .null: out.append(contentsOf: Array("null".utf8))
    case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
    case .number(let t): out.append(contentsOf: Array(t.utf8))
    case .string(let s): appendJSONString(s, to: &out)
    case .array(let items):
        out.append(UInt8(ascii: "["))
        for (k, x) in items.enumerated() { if k > 0 { out.append(UInt8(ascii: ",")) }; appendJSON(x, to: &out) }
        out.append(UInt8(ascii: "]"))
    case .object(let members):
        out.append(UInt8(ascii: "{"))
        for (k, (key, x)) in members.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSON(x, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}
