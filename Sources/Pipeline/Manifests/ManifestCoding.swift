// Reading and writing the JSON records TokenMill leaves beside its outputs (manifests, sidecars, the
// training-data record, demo stage stamps). Each record is one `Codable` type, read here with errors
// that name the file and the field, and written in one place by its type.
// Policy: manifests are outputs, so their bytes never change between versions. Two layouts exist:
//   - one line per top-level field, nested values inline with ", " and ": " (`ManifestLines`): the
//     tokenize and pack manifests, written by hand since their first version;
//   - Foundation's pretty printer with sorted keys (`JSONEncoder` with `.prettyPrinted, .sortedKeys`):
//     the normalized-corpus sidecar and the training-data record (with `.withoutEscapingSlashes`), demo
//     stamps (slashes escaped).
// Inline objects that Foundation wrote compactly (a manifest's "normalization", a pack's "tokenizer")
// are still written by `JSONEncoder` with `.sortedKeys` (and so escape "/" as "\/", as they always did).
import CorpusIO
import Foundation

/// A record that cannot be read: the file, the field (a dotted path, `[i]` for array items) and what is wrong.
public struct ManifestError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var field: String?
    public var message: String

    public init(path: String, field: String?, _ message: String) {
        self.path = path; self.field = field; self.message = message
    }

    public var description: String { "\(path): " + (field.map { "\($0): " } ?? "") + message }
}

/// Decodes `T` from the JSON `data` read from `path`, turning `DecodingError` into a `ManifestError`
/// that names the field.
public func decodeManifest<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws(ManifestError) -> T {
    func field(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String? {
        var out = ""
        for key in codingPath + (last.map { [$0] } ?? []) {
            if let i = key.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
        }
        return out.isEmpty ? nil : out
    }
    do {
        if let formatted = T.self as? any FormattedRecord.Type {
            let found = try JSONDecoder().decode(FormatField.self, from: data).format
            guard found == formatted.format else {
                throw ManifestError(path: path, field: "format", "is \(encodeJSONString(found)), expected \(encodeJSONString(formatted.format))")
            }
        }
        return try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.keyNotFound(key, context) {
        throw ManifestError(path: path, field: field(context.codingPath, key), "missing")
    } catch let DecodingError.valueNotFound(type, context) {
        throw ManifestError(path: path, field: field(context.codingPath), "is null, expected \(describe(type))")
    } catch let DecodingError.typeMismatch(type, context) {
        throw ManifestError(path: path, field: field(context.codingPath), "expected \(describe(type))")
    } catch let DecodingError.dataCorrupted(context) {
        if context.codingPath.isEmpty { throw ManifestError(path: path, field: nil, "not valid JSON") }
        throw ManifestError(path: path, field: field(context.codingPath), context.debugDescription)
    } catch let e as ManifestError {
        throw e
    } catch {
        throw ManifestError(path: path, field: nil, "\(error)")
    }
}

/// Reads `path` and decodes `T`; nil when the file does not exist.
public func readManifest<T: Decodable>(_ type: T.Type, path: String) throws(ManifestError) -> T? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return try decodeManifest(T.self, from: data, path: path)
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    case is Int.Type, is UInt64.Type, is Int32.Type: return "an integer"
    case is Double.Type: return "a number"
    default:
        let name = "\(type)"
        if name.hasPrefix("Array") { return "an array" }
        if name.hasPrefix("Dictionary") { return "an object" }
        return "an object"
    }
}

/// A record whose JSON names its kind in a "format" field; `decodeManifest` checks it first.
public protocol FormattedRecord: Decodable {
    static var format: String { get }
}

/// Only the "format" field of a record.
struct FormatField: Decodable { var format: String }

/// An optional field written as null when nil, and read as nil when null or absent (synthesized
/// Codable omits nil optionals; these records have always spelled "unknown" as null).
@propertyWrapper
public struct ExplicitNull<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
    public var wrappedValue: Value?
    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? nil : try c.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// An absent `ExplicitNull` field reads as nil (synthesized decoding calls this overload).
    public func decode<Value>(_ type: ExplicitNull<Value>.Type, forKey key: Key) throws -> ExplicitNull<Value> {
        try decodeIfPresent(type, forKey: key) ?? ExplicitNull(wrappedValue: nil)
    }
}

/// A JSON value written inline on one line: objects and arrays separated by ", ", keys by ": ",
/// numbers as Swift prints them (`0.1`, `0.0`), strings by CorpusIO's JSON string codec.
public indirect enum InlineJSON: Sendable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case array([InlineJSON])
    case object([(String, InlineJSON)])
    /// Text written as is (already JSON).
    case verbatim(String)

    public static func int(_ v: Int) -> InlineJSON { .number(String(v)) }
    public static func double(_ v: Double) -> InlineJSON { .number("\(v)") }
    public static func optional(_ v: String?) -> InlineJSON { v.map { .string($0) } ?? .null }
    /// `value` as Foundation writes it compactly with sorted keys.
    public static func foundationCompact<T: Encodable>(_ value: T?) -> InlineJSON {
        guard let value else { return .null }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return .verbatim(String(decoding: try! encoder.encode(value), as: UTF8.self))
    }

    public var text: String {
        switch self {
        case .string(let s): return encodeJSONString(s)
        case .number(let t), .verbatim(let t): return t
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .object(let members): return "{" + members.map { encodeJSONString($0.0) + ": " + $0.1.text }.joined(separator: ", ") + "}"
        }
    }
}

/// A manifest in the hand-written layout: "{", one `"key": value` line per field indented by two
/// spaces, "}" and a newline.
public struct ManifestLines {
    private var lines: [String] = []
    public init() {}
    public mutating func add(_ key: String, _ value: InlineJSON) { lines.append("  " + encodeJSONString(key) + ": " + value.text) }
    public var text: String { "{\n" + lines.joined(separator: ",\n") + "\n}\n" }
}

/// `value` in Foundation's pretty layout with sorted keys and a final newline; "/" is escaped as "\/"
/// only with `escapingSlashes` (the demo's stamps always were).
public func prettyJSON<T: Encodable>(_ value: T, escapingSlashes: Bool = false) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = escapingSlashes ? [.prettyPrinted, .sortedKeys] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try! encoder.encode(value) + Data("\n".utf8)
}


/// `"sha256": {".bin": "…", ".idx": "…"}` as DatasetHashes records it, keys sorted.
func hashesJSON(_ hashes: [String: String]) -> InlineJSON {
    .object(hashes.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
}

/// A sidecar manifest written beside a corpus file X (X + `suffix`) that holds X's size when written: a
/// sidecar whose size no longer matches its file is ignored (the file was replaced without it).
public protocol CorpusSidecar: FormattedRecord, Encodable {
    static var suffix: String { get }
    var bytes: Int { get set }
}

extension CorpusSidecar {
    /// The sidecar's path for the corpus file `output`.
    public static func path(for output: String) -> String { output + suffix }

    /// Writes `sidecar` for the finished corpus file `output` (its size taken now), atomically.
    public static func write(_ sidecar: Self, output: String) throws {
        var sidecar = sidecar
        sidecar.bytes = fileSize(output) ?? 0
        try writeFileAtomically(Array(prettyJSON(sidecar)), to: path(for: output))
    }

    /// The sidecar of the corpus file `corpus` when there is one that still matches its size (nil
    /// otherwise, as for stdin). Throws `ManifestError` when it is there but malformed.
    public static func read(ofCorpusFile corpus: String) throws(ManifestError) -> Self? {
        guard corpus != "-", let sidecar = try readManifest(Self.self, path: path(for: corpus)),
              let size = fileSize(corpus), sidecar.bytes == size else { return nil }
        return sidecar
    }
}

private func fileSize(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
}
