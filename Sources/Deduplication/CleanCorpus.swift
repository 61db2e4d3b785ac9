// Cleaning a training corpus: dedup (sign, cluster), then one final pass that drops
// duplicates, checks each kept document against the test sets' n-grams, and writes what stays.
// This is what `tokenmill dedup`, `tokenmill decontaminate` and `tokenmill prepare` call (the demo runs the
// first two as stages); the CLI turns the report into the corpus's X.cleaning.json (Pipeline's
// `CleaningRecord`), which `train` copies into the run's data.json.
// Policy: positions everywhere are input positions of the training stream (0-based); decontamination
// checks the documents dedup keeps (a removed duplicate's survivor is checked in its place). Outputs are
// written to temporary names and renamed when complete (OutputFile). Kept JSON records are written byte
// for byte as read; plain-text documents become `{"text": …}` lines.
// Memory: see Deduplicator.swift (sort buffer + union-find of duplicates) and Decontaminator.swift (the
// test n-gram table); the final pass holds 2 × threads batches of about 1 MiB.

import CorpusIO
import Foundation

/// What to do and with which parameters.
public struct CleaningOptions: Sendable {
    /// Remove exact and near duplicates.
    public var dedup = true
    /// Also near duplicates (MinHash); off leaves exact duplicates only.
    public var nearDuplicates = true
    public var minhash = MinHashConfig()
    /// Memory for each external sort's buffer, in bytes.
    public var sortMemoryBytes = 256 << 20
    /// Test files to decontaminate against (none: no decontamination).
    public var testFiles: [String] = []
    public var decontamination = DecontaminationConfig()
    /// Remove contaminated training documents (true) or only report them (false).
    public var removeContaminated = true
    /// Ignore a test n-gram that more than this many training documents contain (shared boilerplate),
    /// at the cost of one more pass over the training input; nil ignores none.
    public var maxTrainingDocumentsPerNGram: Int? = nil
    public var threads = 1
    public init() {}
}

/// The counts of a cleaning run, for a summary line and the cleaned corpus's record.
public struct CleaningReport: Sendable {
    public var documents = 0
    public var bytes: Int64 = 0
    public var kept = 0
    /// Nil when dedup did not run.
    public var dedup: DedupResult?
    public var testFiles: [String] = []
    /// SHA-256 of each test file, as read (what `bpb` compares its test files with).
    public var testFileHashes: [String] = []
    public var testDocuments = 0
    public var shortTestDocuments = 0
    public var testNGramTableBytes = 0
    public var ngram = 13
    /// Training documents sharing an n-gram with a test document (among those dedup kept).
    public var contaminatedTraining = 0
    public var contaminatedRemoved = 0
    public var contaminatedTests: [ContaminatedTestDocument] = []
    /// Test n-grams ignored as too common in the training data (`maxTrainingDocumentsPerNGram`).
    public var ignoredNGrams = 0
    public var maxTrainingDocumentsPerNGram: Int?
    public var skipped: [CorpusErrorKind: Int] = [:]
}

/// Cleans the documents `open()` reads (called once per pass: one, plus one with dedup, plus one with
/// `maxTrainingDocumentsPerNGram`).
/// - Parameters:
///   - signatures: signature files written by earlier `--shard` runs over the same input (nil: sign here).
///   - output: the kept documents (.jsonl or .jsonl.zst; nil writes nothing, "-" is stdout).
///   - removedOutput: JSON lines, one per removed duplicate (`RemovedDocument.jsonLine`).
///   - contaminationOutput: JSON lines, one per test document hit (`ContaminatedTestDocument.jsonLine`).
///   - workDirectory: an existing scratch directory for signatures and sort runs.
///   - openTest: opens a reader over one test file.
///   - onKept: receives each kept document and its input position, in input order, on the calling
///     thread (a pipeline can feed its next stage from here instead of, or besides, `output`).
public func cleanCorpus(open: () throws -> CorpusReader, openTest: (String) throws -> CorpusReader,
                        output: String?, removedOutput: String?, contaminationOutput: String?,
                        signatures: [String]? = nil, workDirectory: String, options: CleaningOptions,
                        warn: @escaping (String) -> Void, progress: @escaping (String, Int, Int64) -> Void = { _, _, _ in },
                        onKept: ((Document, Int) throws -> Void)? = nil) throws -> CleaningReport {
    var report = CleaningReport()
    // 1. Dedup: sign (unless given) and cluster.
    var filter = DedupFilter(removedPositions: [])
    if options.dedup {
        var files = signatures ?? []
        if signatures == nil {
            let path = "\(workDirectory)/\(SignatureShard.whole.fileName)"
            _ = try writeSignatures(documents: PositionedDocuments(reader: try open(), warn: { _ in }), config: options.minhash,
                                    shard: .whole, path: path, threads: options.threads,
                                    progress: { progress("sign", $0, $1) })
            files = [path]
        }
        let result = try clusterSignatures(files: files, workDirectory: workDirectory,
                                           memoryRecords: max(2, options.sortMemoryBytes / 2 / MemoryLayout<KeyedPosition>.stride),
                                           nearDuplicates: options.nearDuplicates)
        filter = DedupFilter(removedPositions: result.removed.map(\.position))
        report.dedup = result
        if let removedOutput {
            let out = try OutputFile(path: removedOutput)
            try out.committing {
                var buffer: [UInt8] = []
                for r in result.removed {
                    buffer.append(contentsOf: r.jsonLine.utf8)
                    if buffer.count >= 1 << 20 { try out.write(buffer); buffer.removeAll(keepingCapacity: true) }
                }
                try out.write(buffer)
            }
        }
    }
    // 2. The test side.
    let decontaminator = options.testFiles.isEmpty ? nil
        : try Decontaminator(testFiles: options.testFiles, config: options.decontamination, open: openTest, warn: warn)
    let shared = decontaminator.map { SharedDecontaminator($0) }
    let words = WorkerPool { try WordHasher(normalizeNumbers: false) }
    // 2b. With a limit: count the training documents holding each shared n-gram; ignore the common ones.
    // subtle: only documents dedup keeps count, so the limit means the same whether dedup runs here or
    // ran before (the demo's decontaminate stage reads dedup's output; prepare does both in one call).
    if let limit = options.maxTrainingDocumentsPerNGram, let shared {
        var documentsPerNGram: [UInt64: Int] = [:]
        var counted = filter
        let counting = PositionedDocuments(reader: try open(), warn: { _ in })
        try orderedParallelMap(threads: options.threads, next: { try counting.next() }, transform: { batch -> (Int, [[UInt64]]) in
            (batch.firstPosition, try words.withWorker { w in try batch.documents.map { try shared.value.sharedNGrams(in: $0.text, words: w) } })
        }, consume: { (first, grams) in
            for (i, doc) in grams.enumerated() where counted.keeps(first + i) { for g in doc { documentsPerNGram[g, default: 0] += 1 } }
            progress("count", counting.documents, counting.bytes)
        })
        shared.value.ignore(Set(documentsPerNGram.filter { $0.value > limit }.keys))
        report.maxTrainingDocumentsPerNGram = limit
        report.ignoredNGrams = shared.value.ignored.count
    }
    // 3. The final pass: drop duplicates, check and drop contaminated documents, write the rest.
    let documents = PositionedDocuments(reader: try open(), warn: warn)
    let textPath = documents.readerOptions.textPath
    let out = try output.map { try OutputFile(path: $0) }
    do {
        try orderedParallelMap(threads: options.threads, next: { try documents.next() }, transform: { batch -> (PositionedBatch, [[UInt64]]) in
            guard let shared else { return (batch, []) }
            let grams = try words.withWorker { w in try batch.documents.map { try shared.value.sharedNGrams(in: $0.text, words: w) } }
            return (batch, grams)
        }, consume: { (batch, grams) in
            var bytes: [UInt8] = []
            for (i, doc) in batch.documents.enumerated() {
                let position = batch.firstPosition + i
                guard filter.keeps(position) else { continue }
                if let decontaminator, decontaminator.record(position: position, grams: grams[i]), options.removeContaminated {
                    report.contaminatedRemoved += 1
                    continue
                }
                report.kept += 1
                try onKept?(doc, position)
                if let record = doc.record { bytes.append(contentsOf: record); bytes.append(0x0A) } else { doc.appendJSONLine(to: &bytes, textPath: textPath) }
            }
            try out?.write(bytes)
            progress("write", documents.documents, documents.bytes)
        })
        if let dedup = report.dedup, dedup.documents != documents.documents {
            throw DeduplicationError(path: signatures?.first ?? workDirectory, "the signatures cover \(dedup.documents) documents but the input has \(documents.documents) (signed from other inputs or options?)")
        }
        try out?.commit()
    } catch { out?.abandon(); throw error }
    report.documents = documents.documents
    report.bytes = documents.bytes
    report.skipped = documents.skipped
    // 4. Which test documents were hit, and by which training documents.
    if let decontaminator {
        report.testFiles = options.testFiles
        report.testFileHashes = try options.testFiles.map { try sha256(ofFile: $0) }
        report.ngram = options.decontamination.ngram
        report.testDocuments = decontaminator.testDocuments
        report.shortTestDocuments = decontaminator.shortTestDocuments
        report.testNGramTableBytes = decontaminator.set.bytes
        report.contaminatedTraining = decontaminator.contaminatedTraining
        report.contaminatedTests = try decontaminator.attribute(open: openTest)
        if let contaminationOutput {
            let out = try OutputFile(path: contaminationOutput)
            try out.committing { try out.write(Array(report.contaminatedTests.map(\.jsonLine).joined().utf8)) }
        }
    }
    return report
}

/// Read-only sharing of the test table across worker threads (lookups only; `record` stays on the
/// consuming thread).
private final class SharedDecontaminator: @unchecked Sendable {
    let value: Decontaminator
    init(_ value: Decontaminator) { self.value = value }
}
