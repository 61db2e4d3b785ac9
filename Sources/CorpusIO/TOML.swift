// A small, strict reader for the part of TOML 1.0 that config files use (`prepare`'s, and `train`'s
// --config file, whose TOML decodes into the same `RunConfig` as its JSON), written here instead of
// depending on a TOML package: LebJe/TOMLKit 0.6.0 builds here, but it wraps the C++ toml++ library,
// which added about 47 s (debug) and 58 s (release) of CPU time to a from-scratch build (measured on
// this 2-core machine) for a config of ten lines.
//
// Accepted: comments; tables `[name]` and `[a.b]`; key/value pairs with bare, "quoted" or 'literal'
// keys, dotted keys included; values that are basic strings "…" (escapes \b \t \n \f \r \" \\ \uXXXX
// \UXXXXXXXX), literal strings '…', 64-bit integers (decimal, `_` between digits), floats (decimal,
// with a fraction and/or an exponent), booleans, arrays (over several lines, trailing comma allowed) and
// inline tables `{k = v, …}`. Refused with an error naming the line: multi-line strings, dates and
// times, hexadecimal/octal/binary integers, inf and nan, arrays of tables `[[…]]`, duplicate keys and
// tables defined twice. Numbers come out as NSNumber, booleans as Bool, tables as [String: Any], like
// JSONSerialization's output, so one validator serves both config formats (`readConfigObject`).
// It lives in CorpusIO, the library every other one builds on, so that Training's run config and the
// pipeline's configs read TOML alike.
import Foundation

/// A config file that cannot be read: its path, the 1-based line when known (TOML syntax), and what is
/// wrong.
public struct ConfigFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var line: Int?
    public var message: String
    public init(path: String, line: Int? = nil, message: String) { self.path = path; self.line = line; self.message = message }
    public var description: String { line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)" }
}

/// Parses a TOML document (the subset above) into a dictionary; `path` names the file in errors.
/// - Complexity: O(n) in the document's bytes.
public func parseTOML(_ text: [UInt8], path: String) throws -> [String: Any] {
    var parser = TOMLParser(bytes: text)
    do { return try parser.document().dictionary } catch let e as TOMLSyntaxError {
        throw ConfigFileError(path: path, line: e.line, message: e.message)
    }
}

/// Whether a config file is TOML: by the extension (.toml or .json), else by the content (JSON starts
/// with '{').
public func isTOMLConfig(_ data: Data, path: String) -> Bool {
    let lower = path.lowercased()
    if lower.hasSuffix(".toml") { return true }
    if lower.hasSuffix(".json") { return false }
    return data.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) } != UInt8(ascii: "{")
}

/// A config file's top-level object, read as TOML or JSON (`isTOMLConfig`): numbers as NSNumber, tables
/// as [String: Any], whichever the format.
public func readConfigObject(_ data: Data, path: String) throws -> [String: Any] {
    if isTOMLConfig(data, path: path) { return try parseTOML(Array(data), path: path) }
    guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw ConfigFileError(path: path, message: "not a JSON object")
    }
    return root
}

/// A TOML syntax error at a 1-based line, inside the parser (`parseTOML` adds the path).
private struct TOMLSyntaxError: Error {
    var line: Int
    var message: String
}

/// A table under construction: `explicit` once a `[header]` defined it, `sealed` for inline tables.
private final class TOMLTable {
    var entries: [String: Any] = [:]
    var explicit = false
    var sealed = false
    var dictionary: [String: Any] { entries.mapValues { ($0 as? TOMLTable)?.dictionary ?? (($0 as? [Any]).map(TOMLTable.plain) ?? $0) } }
    static func plain(_ array: [Any]) -> [Any] {
        array.map { ($0 as? TOMLTable)?.dictionary ?? (($0 as? [Any]).map(plain) ?? $0) }
    }

    /// The table `keys` name below this one (whose own path is `tablePath`), created with its parents
    /// where missing: the walk of both `[a.b]` headers and dotted keys `a.b.c = …`.
    /// - Throws: at `line`, naming the full path of a key that is already a value or an inline table.
    func descend(_ keys: ArraySlice<String>, named tablePath: [String], line: Int) throws(TOMLSyntaxError) -> TOMLTable {
        var table = self
        for (k, key) in keys.enumerated() {
            switch table.entries[key] {
            case nil:
                let sub = TOMLTable()
                table.entries[key] = sub
                table = sub
            case let sub as TOMLTable where !sub.sealed:
                table = sub
            default:
                let name = (tablePath + keys.prefix(k + 1)).joined(separator: ".")
                throw TOMLSyntaxError(line: line, message: "'\(name)' is already a value, not a table")
            }
        }
        return table
    }
}

private struct TOMLParser {
    let bytes: [UInt8]
    var i = 0
    var line = 1

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ message: String) -> TOMLSyntaxError { TOMLSyntaxError(line: line, message: message) }
    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    /// Describes the byte at the cursor for an error message.
    var here: String {
        guard let c = peek else { return "the end of the file" }
        if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") { return "the end of the line" }
        if c < 0x80 && c >= 0x20 { return "'\(Character(Unicode.Scalar(c)))'" }
        return String(format: "byte 0x%02x", c)
    }

    mutating func skipSpaces() { while let c = peek, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 } }

    /// Spaces, comments and newlines (inside arrays).
    mutating func skipBlank() throws {
        while true {
            skipSpaces()
            if peek == UInt8(ascii: "#") { skipComment() }
            if try newline() { continue }
            return
        }
    }

    mutating func skipComment() { while let c = peek, c != UInt8(ascii: "\n") { i += 1 } }

    /// Consumes "\n" or "\r\n"; false when the cursor is elsewhere.
    mutating func newline() throws -> Bool {
        if peek == UInt8(ascii: "\r") {
            guard i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\n") else { throw fail("a carriage return must be followed by a newline") }
            i += 1
        }
        guard peek == UInt8(ascii: "\n") else { return false }
        i += 1; line += 1
        return true
    }

    /// 1. Lines: blank, comment, `[table]` or `key = value`, each ending the line.
    mutating func document() throws -> TOMLTable {
        let root = TOMLTable()
        var current = root
        var currentPath: [String] = []
        while !atEnd {
            skipSpaces()
            if try newline() { continue }
            if peek == UInt8(ascii: "#") { skipComment(); continue }
            if atEnd { break }
            if peek == UInt8(ascii: "[") {
                (current, currentPath) = try header(root)
            } else {
                let keyLine = line
                let path = try keyPath()
                skipSpaces()
                guard peek == UInt8(ascii: "=") else { throw fail("expected '=' after the key '\(path.joined(separator: "."))', found \(here)") }
                i += 1
                skipSpaces()
                let v = try value()
                try assign(v, to: path, in: current, named: currentPath, line: keyLine)
            }
            skipSpaces()
            if peek == UInt8(ascii: "#") { skipComment() }
            if !atEnd, !(try newline()) { throw fail("expected the end of the line, found \(here)") }
        }
        return root
    }

    /// 2. `[a.b]`: the table it names, created (with its parents) if needed.
    mutating func header(_ root: TOMLTable) throws -> (TOMLTable, [String]) {
        i += 1
        if peek == UInt8(ascii: "[") { throw fail("arrays of tables ([[…]]) are not supported") }
        skipSpaces()
        let path = try keyPath()
        skipSpaces()
        guard peek == UInt8(ascii: "]") else { throw fail("expected ']' to close the table header, found \(here)") }
        i += 1
        let table = try root.descend(path[...], named: [], line: line)
        if table.explicit { throw fail("table [\(path.joined(separator: "."))] is defined twice") }
        table.explicit = true
        return (table, path)
    }

    /// Stores `v` under a dotted key path below `table` (whose own path, for messages, is `tablePath`).
    func assign(_ v: Any, to path: [String], in table: TOMLTable, named tablePath: [String] = [], line keyLine: Int) throws {
        let t = try table.descend(path.dropLast(), named: tablePath, line: keyLine)
        let last = path.last!
        guard t.entries[last] == nil else { throw TOMLSyntaxError(line: keyLine, message: "duplicate key '\((tablePath + path).joined(separator: "."))'") }
        t.entries[last] = v
    }

    /// 3. Keys: bare (A-Z a-z 0-9 _ -), "basic" or 'literal', joined by dots.
    mutating func keyPath() throws -> [String] {
        var path: [String] = []
        while true {
            skipSpaces()
            if peek == UInt8(ascii: "\"") { path.append(try basicString()) }
            else if peek == UInt8(ascii: "'") { path.append(try literalString()) }
            else {
                let start = i
                while let c = peek, isBareKey(c) { i += 1 }
                guard i > start else { throw fail("expected a key, found \(here)") }
                path.append(String(decoding: bytes[start ..< i], as: UTF8.self))
            }
            skipSpaces()
            guard peek == UInt8(ascii: ".") else { return path }
            i += 1
        }
    }

    func isBareKey(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    /// 4. Values.
    mutating func value() throws -> Any {
        guard let c = peek else { throw fail("expected a value, found the end of the file") }
        switch c {
        case UInt8(ascii: "\""): return try basicString()
        case UInt8(ascii: "'"): return try literalString()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "{"): return try inlineTable()
        default: break
        }
        let start = i
        while let c = peek, isBareKey(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") { i += 1 }
        let token = String(decoding: bytes[start ..< i], as: UTF8.self)
        if token.isEmpty { throw fail("expected a value, found \(here)") }
        if token == "true" { return true }
        if token == "false" { return false }
        return try number(token)
    }

    func number(_ token: String) throws -> NSNumber {
        let unsigned = token.first == "+" || token.first == "-" ? String(token.dropFirst()) : token
        if ["inf", "nan"].contains(unsigned) { throw fail("\(token): inf and nan are not supported") }
        if unsigned.hasPrefix("0x") || unsigned.hasPrefix("0o") || unsigned.hasPrefix("0b") {
            throw fail("\(token): hexadecimal, octal and binary integers are not supported; write it in decimal")
        }
        if token.contains(":") || (token.count >= 10 && token.dropFirst(4).first == "-") {
            throw fail("\(token): dates and times are not supported")
        }
        let chars = Array(unsigned)
        for (k, ch) in chars.enumerated() where ch == "_" {
            guard k > 0, k + 1 < chars.count, chars[k - 1].isASCII && chars[k - 1].isNumber, chars[k + 1].isASCII && chars[k + 1].isNumber else {
                throw fail("\(token): '_' must sit between two digits")
            }
        }
        let plain = token.replacingOccurrences(of: "_", with: "")
        let digits = unsigned.replacingOccurrences(of: "_", with: "")
        let integerPart = digits.prefix { $0.isASCII && $0.isNumber }
        guard !integerPart.isEmpty else { throw fail("\(token) is not a value (strings need quotes)") }
        if integerPart.count > 1 && integerPart.first == "0" { throw fail("\(token): leading zeros are not allowed") }
        if integerPart.count == digits.count {
            guard let v = Int64(plain) else { throw fail("\(token): out of range for a 64-bit integer") }
            return NSNumber(value: v)
        }
        // A float: digits, then '.' and digits and/or an exponent.
        var rest = digits.dropFirst(integerPart.count)
        if rest.first == "." {
            rest = rest.dropFirst()
            let fraction = rest.prefix { $0.isASCII && $0.isNumber }
            guard !fraction.isEmpty else { throw fail("\(token): a '.' needs digits after it") }
            rest = rest.dropFirst(fraction.count)
        }
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
            let exponent = rest.prefix { $0.isASCII && $0.isNumber }
            guard !exponent.isEmpty else { throw fail("\(token): an exponent needs digits") }
            rest = rest.dropFirst(exponent.count)
        }
        guard rest.isEmpty, let v = Double(plain), v.isFinite else { throw fail("\(token) is not a value (strings need quotes)") }
        return NSNumber(value: v)
    }

    mutating func array() throws -> [Any] {
        i += 1
        let opened = line
        var items: [Any] = []
        while true {
            try skipBlank()
            if atEnd { throw TOMLSyntaxError(line: opened, message: "unterminated array (no closing ']')") }
            if peek == UInt8(ascii: "]") { i += 1; return items }
            items.append(try value())
            try skipBlank()
            if atEnd { throw TOMLSyntaxError(line: opened, message: "unterminated array (no closing ']')") }
            if peek == UInt8(ascii: ",") { i += 1; continue }
            guard peek == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in the array, found \(here)") }
        }
    }

    mutating func inlineTable() throws -> TOMLTable {
        i += 1
        let table = TOMLTable()
        skipSpaces()
        if peek == UInt8(ascii: "}") { i += 1; table.sealed = true; return table }
        while true {
            let path = try keyPath()
            skipSpaces()
            guard peek == UInt8(ascii: "=") else { throw fail("expected '=' after the key '\(path.joined(separator: "."))', found \(here)") }
            i += 1
            skipSpaces()
            try assign(try value(), to: path, in: table, line: line)
            skipSpaces()
            if peek == UInt8(ascii: ",") { i += 1; skipSpaces(); continue }
            guard peek == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in the inline table (which must fit on one line), found \(here)") }
            i += 1
            table.sealed = true
            return table
        }
    }

    /// "…" with escapes, on one line.
    mutating func basicString() throws -> String {
        i += 1
        if i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\""), bytes[i + 1] == UInt8(ascii: "\"") {
            throw fail("multi-line strings (\"\"\"…\"\"\") are not supported")
        }
        var out: [UInt8] = []
        while true {
            guard let c = peek, c != UInt8(ascii: "\n"), c != UInt8(ascii: "\r") else { throw fail("unterminated string") }
            i += 1
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 && c != UInt8(ascii: "\t") || c == 0x7F { throw fail(String(format: "control character 0x%02x in a string; escape it", c)) }
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            guard let e = peek else { throw fail("unterminated string") }
            i += 1
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let n = e == UInt8(ascii: "u") ? 4 : 8
                guard i + n <= bytes.count, let code = UInt32(String(decoding: bytes[i ..< i + n], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(code) else { throw fail("\\\(Character(Unicode.Scalar(e))) needs \(n) hex digits of a Unicode scalar") }
                i += n
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw fail("unknown escape '\\\(Character(Unicode.Scalar(e)))' in a string")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        return s
    }

    /// '…' taken as is, on one line.
    mutating func literalString() throws -> String {
        i += 1
        if i + 1 < bytes.count, bytes[i] == UInt8(ascii: "'"), bytes[i + 1] == UInt8(ascii: "'") {
            throw fail("multi-line strings ('''…''') are not supported")
        }
        let start = i
        while true {
            guard let c = peek, c != UInt8(ascii: "\n"), c != UInt8(ascii: "\r") else { throw fail("unterminated string") }
            if c == UInt8(ascii: "'") { break }
            i += 1
        }
        defer { i += 1 }
        guard let s = String(validating: bytes[start ..< i], as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        return s
    }
}
