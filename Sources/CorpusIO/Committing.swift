// The tail every stage that writes a file shares: write to the temporary name, then commit (rename)
// when everything was written, or abandon (remove) it when anything failed, so a reader never sees
// half an output under the final name.
import Foundation

extension OutputFile {
    /// Runs `body`, which writes to this file; commits it when `body` returns and abandons it when
    /// `body` or the commit throws.
    public func committing<R>(_ body: () throws -> R) throws -> R {
        do {
            let result = try body()
            try commit()
            return result
        } catch {
            abandon()
            throw error
        }
    }
}

/// Writes `bytes` to `path` through a temporary name, renamed when complete (removed on failure): the
/// one small-file writer of manifests, stamps, trained tokenizers, word-count runs, the demo's records and
/// its report.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws {
    let file = try OutputFile(path: path, compress: false)
    try file.committing { try file.write(bytes) }
}
