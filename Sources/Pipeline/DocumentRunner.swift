// The one parallel runner of the document stages: reader → decode + stage on `threads` workers →
// results in input order on the caller's thread (CorpusIO's `orderedParallelMap`: at most 2 × threads
// batches of about 1 MiB in flight, so memory is flat whatever the corpus size).
// The runner counts what it read (`ReadTotals`), passes every skipped record's error to `warn` in
// input order, and sends a progress event after each batch.
import CorpusIO

/// Runs document stages over a corpus.
public struct DocumentRunner {
    /// Worker threads (1 runs everything on the caller's thread).
    public var threads: Int
    /// Receives progress after each batch (documents and bytes so far).
    public var progress: ProgressReporter
    /// Receives "warning: skipped <error>" for every record skipped while reading, in input order.
    public var warn: (String) -> Void

    public init(threads: Int, progress: ProgressReporter = .silent, warn: @escaping (String) -> Void = { _ in }) {
        precondition(threads >= 1, "threads must be at least 1")
        self.threads = threads
        self.progress = progress
        self.warn = warn
    }

    /// Runs `stage` over every batch of `reader` and passes each result to `consume` in input order.
    /// Returns what was read.
    /// - Throws: the reader's, the stage's or `consume`'s first error.
    @discardableResult
    public func run<Stage: DocumentStage>(_ stage: Stage, reader: CorpusReader,
                                          consume: (Stage.Output) throws -> Void) throws -> ReadTotals {
        let options = reader.options
        var totals = ReadTotals()
        try orderedParallelMap(threads: threads, next: { try reader.nextBatch() }, transform: { batch in
            let decoded = try decodeDocuments(batch, options: options)
            // The documents stay on the worker: only the stage's result and the counts travel back.
            return (try stage.process(decoded), ReadTotals(decoded), decoded.skipErrors)
        }, consume: { (output: Stage.Output, counts: ReadTotals, skipErrors: [CorpusError]) in
            totals.add(counts)
            try consume(output)
            for e in skipErrors { warn("warning: skipped \(e)") }
            progress.update(documents: totals.documents, bytes: Int64(totals.bytes))
        })
        return totals
    }

    /// Runs a record stage over every batch of `reader`, passing each result to `consume` in input
    /// order; `consume` returns the records and bytes to add to the progress.
    public func run<Stage: RecordStage>(_ stage: Stage, reader: CorpusReader,
                                        consume: (Stage.Output) throws -> (records: Int, bytes: Int)) throws {
        var records = 0, bytes = 0
        try orderedParallelMap(threads: threads, next: { try reader.nextBatch() }, transform: stage.process, consume: { output in
            let counts = try consume(output)
            records += counts.records; bytes += counts.bytes
            progress.update(documents: records, bytes: Int64(bytes))
        })
    }
}
