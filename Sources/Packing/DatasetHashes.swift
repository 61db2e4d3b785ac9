// Content hashes of Megatron datasets. A manifest PREFIX.json (from `tokenize`, `pack`, `merge`) records
// the SHA-256 of the files it describes under "sha256", keyed by the suffix appended to the prefix:
//   "sha256": {".bin": "…", ".idx": "…"}                         tokenize, merge of tokenize shards
//   "sha256": {".bin": "…", ".idx": "…", "_valid.bin": "…", "_valid.idx": "…"}   pack with a validation split
// Readers (`train`, `merge`, `pack`, `inspect`, `megatron-args --prepare`) check them before using the data; a changed byte is an error
// naming the file. The hashes are of the committed files (read back once after writing; libcrypto
// hashes at about 1.3 GB/s, so this costs a fraction of the time it took to write them).
import CorpusIO
import Foundation

public enum DatasetHashes {
    /// The manifest key holding the hashes.
    public static let key = "sha256"

    /// The SHA-256 of `prefix + suffix` for every suffix.
    public static func compute(prefix: String, suffixes: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for s in suffixes { out[s] = try sha256(ofFile: prefix + s) }
        return out
    }

    /// `manifest` (a JSON object's text ending in "}" and a newline) with "sha256": `hashes` as its last field.
    public static func inserting(_ hashes: [String: String], into manifest: String) -> String {
        let fields = hashes.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        guard let close = manifest.range(of: "\n}", options: .backwards) else {
            preconditionFailure("a manifest's text ends with \"\\n}\": \(manifest.suffix(40))")
        }
        return manifest[..<close.lowerBound] + ",\n  \"\(key)\": {\(fields)}" + manifest[close.lowerBound...]
    }

    /// What `verify` found.
    public enum Outcome: Equatable, Sendable {
        /// Every recorded file matched (the paths checked).
        case verified([String])
        /// The manifest records no hashes (written before TokenMill recorded them).
        case notRecorded
    }

    /// Checks the files `manifest` (read from `manifestPath`, describing `prefix`) records hashes of;
    /// with `suffixes`, only those that are recorded. Throws a `RecordedHashError` naming the first file
    /// that is missing or whose SHA-256 differs.
    public static func verify(prefix: String, manifest: [String: Any], manifestPath: String, suffixes: [String]? = nil) throws -> Outcome {
        guard let recorded = manifest[key] as? [String: Any] else { return .notRecorded }
        return .verified(try verifyRecordedSHA256(
            recorded, field: key, recordPath: manifestPath,
            consequence: "the file changed after its manifest was written (--no-verify skips this check)",
            resolve: { suffix in suffixes?.contains(suffix) ?? true ? prefix + suffix : nil }))
    }
}
