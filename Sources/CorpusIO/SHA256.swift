// SHA-256 (FIPS 180-4), for the manifests that record which tokenizer and inputs produced a dataset and
// for the demo's stage cache. Computed by libcrypto through the CCrypto shim.
// Performance notes: a portable Swift implementation ran at about 200 MB/s; libcrypto uses the CPU's SHA
// extensions or AVX2 where present (tools/bench-sha256 prints both rates and sha256sum's).

import CCrypto
import Foundation

/// An incremental SHA-256 over libcrypto. A reference type: copies share one running hash.
public final class SHA256 {
    private let context: UnsafeMutableRawPointer

    public init() {
        guard let context = CCrypto_sha256_new() else { fatalError("libcrypto could not allocate a SHA-256 context") }
        self.context = context
    }

    deinit { CCrypto_sha256_free(context) }

    /// Feeds `bytes` (contiguous collections are hashed in place).
    public func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        var ok = false
        if bytes.withContiguousStorageIfAvailable({ b in ok = CCrypto_sha256_update(context, b.baseAddress, b.count) == 1 }) == nil {
            ok = Array(bytes).withUnsafeBufferPointer { CCrypto_sha256_update(context, $0.baseAddress, $0.count) == 1 }
        }
        precondition(ok, "libcrypto's SHA-256 update failed")
    }

    /// Feeds raw bytes.
    public func update(_ buffer: UnsafeRawBufferPointer) {
        precondition(CCrypto_sha256_update(context, buffer.baseAddress, buffer.count) == 1, "libcrypto's SHA-256 update failed")
    }

    /// The 32-byte digest; the hash then starts over on an empty message.
    public func digest() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        precondition(CCrypto_sha256_final(context, &digest) == 1, "libcrypto's SHA-256 final failed")
        return digest
    }

    /// The digest as 64 lowercase hex characters; the hash then starts over on an empty message.
    public func hexDigest() -> String {
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: digest().flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 0xF)]] }, as: UTF8.self)
    }
}

/// The SHA-256 of a file's bytes, streamed through a 1 MiB buffer.
public func sha256(ofFile path: String) throws -> String {
    let source = try FileByteSource(path: path)
    let hasher = SHA256()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
    defer { buffer.deallocate() }
    while true {
        let n = try source.read(into: buffer)
        if n == 0 { break }
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
    }
    return hasher.hexDigest()
}

/// A file that is missing, or whose bytes differ from the SHA-256 a record (a dataset manifest, a
/// checkpoint's state.json) holds for it.
public struct RecordedHashError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
    public init(path: String, message: String) { self.path = path; self.message = message }
}

/// Checks the files a record lists (`recorded`: name → SHA-256 hex, the record's field `field` in
/// `recordPath`) in name order. `resolve` maps a name to its file's path, nil to skip it, or throws for
/// a name the record may not hold. `consequence` ends the mismatch message ("the checkpoint is
/// corrupt").
/// - Returns: the paths checked.
/// - Throws: `RecordedHashError` naming the first file that is missing or differs.
public func verifyRecordedSHA256(_ recorded: [String: Any], field: String, recordPath: String, consequence: String,
                                 resolve: (String) throws -> String?) throws -> [String] {
    var checked: [String] = []
    for (name, value) in recorded.sorted(by: { $0.key < $1.key }) {
        guard let path = try resolve(name) else { continue }
        guard let expected = value as? String else {
            throw RecordedHashError(path: recordPath, message: "\(field).\(name) is not a SHA-256 string")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw RecordedHashError(path: path, message: "missing, but \(recordPath) records its SHA-256")
        }
        let actual = try sha256(ofFile: path)
        if actual != expected {
            throw RecordedHashError(path: path, message: "SHA-256 \(actual.prefix(16))… differs from \(expected.prefix(16))… recorded in \(recordPath); \(consequence)")
        }
        checked.append(path)
    }
    return checked
}
