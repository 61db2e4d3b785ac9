// Errors of the corpus readers and writers. Each names the file and the line or byte offset, and where
// it helps, a hint on the fix, so the CLI can print it as one line.

/// Where in an input something was found: a file (or "<stdin>"), a 1-based line, a byte offset in the
/// decompressed stream.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var byteOffset: Int64?

    public init(path: String, line: Int? = nil, byteOffset: Int64? = nil) {
        self.path = path
        self.line = line
        self.byteOffset = byteOffset
    }

    public var description: String {
        var s = path
        if let line { s += ":\(line)" }
        if let byteOffset { s += (line == nil ? ": byte \(byteOffset)" : " (byte \(byteOffset))") }
        return s
    }
}

/// Why a document or a file could not be read.
public enum CorpusErrorKind: String, Sendable, CaseIterable {
    case io = "I/O error"
    case notJSON = "not JSON"
    case missingField = "missing text field"
    case notString = "text field is not a string"
    case tooDeep = "JSON nested too deeply"
    case invalidUTF8 = "invalid UTF-8"
    case compression = "corrupt compressed data"
    case truncated = "truncated compressed data"
    case unsupported = "unsupported format"
    case noInput = "no input"
}

/// A corpus error: what went wrong, where, and what to do about it.
public struct CorpusError: Error, Sendable, CustomStringConvertible {
    public var kind: CorpusErrorKind
    public var location: SourceLocation
    public var detail: String
    public var hint: String?

    public init(_ kind: CorpusErrorKind, at location: SourceLocation, _ detail: String, hint: String? = nil) {
        self.kind = kind
        self.location = location
        self.detail = detail
        self.hint = hint
    }

    public var description: String {
        var s = "\(location): \(detail)"
        if let hint { s += " (\(hint))" }
        return s
    }
}
