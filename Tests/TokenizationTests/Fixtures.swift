// Paths and loaders for the committed fixtures (tools/fixtures/tokenization, remade by
// tools/make-tokenizer-fixtures) and the shared real tokenizer files (../shared/tokenizers).
import Foundation
@testable import Tokenization

enum Fixtures {
    /// The package root, from this file's path.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0 ..< 3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let directory = root + "/tools/fixtures/tokenization"

    /// ../shared/tokenizers next to the package (or $TOKENMILL_SHARED_TOKENIZERS).
    static let sharedTokenizers: String = {
        if let env = ProcessInfo.processInfo.environment["TOKENMILL_SHARED_TOKENIZERS"] { return env }
        return (root as NSString).deletingLastPathComponent + "/shared/tokenizers"
    }()

    static func json(_ name: String) throws -> JSONCursor {
        let path = directory + "/" + name
        return JSONCursor(value: try JSONValue.parse(try readFile(path), path: path), path: "")
    }

    /// Tokenizers loaded once per test process.
    static let cache = TokenizerCache()
}

final class TokenizerCache: @unchecked Sendable {
    private let lock = NSLock()
    private var loaded: [String: Tokenizer] = [:]

    func get(_ path: String) throws -> Tokenizer {
        lock.lock(); defer { lock.unlock() }
        if let t = loaded[path] { return t }
        let t = try Tokenizer.load(path: path)
        loaded[path] = t
        return t
    }
}
