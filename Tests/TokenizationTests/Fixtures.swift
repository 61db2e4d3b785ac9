// Paths and loaders for the committed fixtures (tools/fixtures/tokenization, remade by
// tools/make-tokenizer-fixtures) and the real tokenizer files committed under Tests/Fixtures/tokenizers.
import Foundation
@testable import Tokenization
import TokenMillTestSupport

enum Fixtures {
    /// The package root, from this file's path.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0 ..< 3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let directory = root + "/tools/fixtures/tokenization"

    /// A real tokenizer file ("pythia/tokenizer.json"), decompressed from Tests/Fixtures/tokenizers.
    static func tokenizer(_ relative: String) throws -> Tokenizer {
        try cache.get(try tokenizerFixture(relative))
    }

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
