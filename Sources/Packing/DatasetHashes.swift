// Content hashes of Megatron datasets. A manifest PREFIX.json (from `tokenize`, `pack`, `merge`) records
// the SHA-256 of the files it describes under "sha256", keyed by the suffix appended to the prefix:
//   "sha256": {".bin": "…", ".idx": "…"}                         tokenize, merge of tokenize shards
//   "sha256": {".bin": "…", ".idx": "…", "_valid.bin": "…", "_valid.idx": "…"}   pack with a validation split
// Readers (`train`, `merge`, `pack`, `inspect`, `megatron-args --prepare`) check them before using the data
// (Pipeline's `DatasetVerification`); a changed byte is an error naming the file. The manifests' writers
// (Pipeline/Manifests) call `compute` on the committed files (read back once after writing; libcrypto
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
}
