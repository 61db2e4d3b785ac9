// The tail every stage that writes a file shares: write to the temporary name, then commit (rename)
// when everything was written, or abandon (remove) it when anything failed, so a reader never sees
// half an output under the final name.
import CorpusIO

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
