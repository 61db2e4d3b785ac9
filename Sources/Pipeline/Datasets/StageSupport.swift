// What the dataset stages (tokenize, pack, merge) share: the shard a run takes, their error type, and
// the check of a dataset against the SHA-256 its manifest records.
import CorpusIO
import Foundation
import Packing

/// `--shard I/N`: part I (0-based) of N.
public struct Shard: Equatable, Sendable, Codable {
    public var index: Int
    public var count: Int
    public init(index: Int, count: Int) { self.index = index; self.count = count }

    /// Parses "I/N" (0 ≤ I < N).
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        self.init(index: i, count: n)
    }

    /// Buffers `[I·B/N, (I+1)·B/N)` of `B` for shard I/N; all of them without a shard.
    public static func range(_ buffers: Int, _ shard: Shard?) -> Range<Int> {
        guard let shard else { return 0 ..< buffers }
        return buffers * shard.index / shard.count ..< buffers * (shard.index + 1) / shard.count
    }
}

/// A dataset stage's failure: `usage` when an option does not fit the data (the CLI exits 64), `data`
/// when the data is wrong or inconsistent (exit 1). The message names the file where there is one.
public struct StageError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable { case usage, data }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
}

/// What checking a dataset against its manifest found.
public enum DatasetVerification: Equatable, Sendable {
    /// Every recorded file matched.
    case verified
    /// The manifest records no hashes (written before TokenMill recorded them): the manifest's path.
    case notRecorded(manifest: String)
    /// There is no manifest, so nothing was recorded.
    case noManifest

    /// Checks the dataset `prefix` (.bin/.idx) against the hashes its manifest records. A PREFIX_valid
    /// without a manifest of its own is checked against its pack's (PREFIX.json's "_valid.*" entries).
    /// - Throws: `RecordedHashError` naming the first file that is missing or differs; `ManifestError`.
    public static func check(prefix: String) throws -> DatasetVerification {
        var manifestPrefix = prefix, suffixes = [".bin", ".idx"]
        var manifest = try DatasetManifest.read(prefix: prefix)
        if manifest == nil, prefix.hasSuffix("_valid"), case .packed(let parent)? = try DatasetManifest.read(prefix: String(prefix.dropLast(6))) {
            manifestPrefix = String(prefix.dropLast(6))
            suffixes = ["_valid.bin", "_valid.idx"]
            manifest = .packed(parent)
        }
        guard let manifest else { return .noManifest }
        return try check(prefix: manifestPrefix, recorded: manifest.sha256, suffixes: suffixes)
    }

    /// Checks `prefix + suffix` for each of `suffixes` that `recorded` (a manifest's "sha256") holds.
    public static func check(prefix: String, recorded: [String: String]?, suffixes: [String]? = nil) throws -> DatasetVerification {
        guard let recorded else { return .notRecorded(manifest: prefix + ".json") }
        _ = try verifyRecordedSHA256(recorded, field: DatasetHashes.key, recordPath: prefix + ".json",
                                     consequence: "the file changed after its manifest was written (--no-verify skips this check)",
                                     resolve: { suffix in suffixes?.contains(suffix) ?? true ? prefix + suffix : nil })
        return .verified
    }
}
