// Errors of the tokenizer library. Each names where the problem is — a JSON path like
// `model.merges[12]`, a file and line, a token — and, where it helps, what to do about it.

/// What went wrong while loading, saving, encoding, decoding or training.
public enum TokenizerError: Error, Sendable, CustomStringConvertible {
    /// A value in a tokenizer file is wrong; `path` is a JSON path or `file:line`.
    case invalid(path: String, String, hint: String?)
    /// The file describes something this library does not implement (WordPiece, Unigram, ...).
    case unsupported(path: String, String)
    /// A token id outside the vocabulary, met while decoding.
    case unknownID(Int, vocabularySize: Int)
    /// Bad settings (vocabulary too small, unknown preset, ...).
    case usage(String)
    /// An I/O failure.
    case io(path: String, String)

    public var description: String {
        switch self {
        case let .invalid(path, message, hint): return "\(path): \(message)" + (hint.map { " (\($0))" } ?? "")
        case let .unsupported(path, message): return "\(path): \(message)"
        case let .unknownID(id, n): return "token id \(id) is out of range (the vocabulary has ids 0..<\(n))"
        case let .usage(message): return message
        case let .io(path, message): return "\(path): \(message)"
        }
    }
}
