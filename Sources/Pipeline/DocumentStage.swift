// The document stage: one method that turns a batch of decoded documents into a stage's result on a
// worker thread, and the small value types the runner keeps beside it (skip counters, totals).
// Policy: a stage sees only documents that decoded; records skipped while decoding (`--on-error skip`,
// `--invalid-utf8 skip`) are counted by reason in `SkipCounts` and reported by the runner, in input
// order, so every stage reports skips the same way. Per-thread state (an ICU normalizer, an encoder)
// comes from a `WorkerPool` the stage holds.
import CorpusIO

/// A step that maps each batch of documents to a result; the runner calls `process` on worker
/// threads (several batches at once) and hands the results back in input order.
public protocol DocumentStage: Sendable {
    associatedtype Output: Sendable
    /// Transforms one batch on a worker thread. Must not depend on other batches (results are merged
    /// in input order by the caller, which keeps outputs independent of the thread count).
    func process(_ batch: DecodedBatch) throws -> Output
}

/// A step that maps raw records (before they are decoded into documents, e.g. JSON lines of token
/// ids) to a result; the runner's other `run` takes it.
public protocol RecordStage: Sendable {
    associatedtype Output: Sendable
    func process(_ batch: RecordBatch) throws -> Output
}

/// Records skipped while reading, by reason (`CorpusErrorKind`).
public struct SkipCounts: Sendable, Equatable {
    public private(set) var byReason: [CorpusErrorKind: Int] = [:]
    public init() {}

    public mutating func add(_ kind: CorpusErrorKind, _ count: Int = 1) { byReason[kind, default: 0] += count }
    public mutating func merge(_ other: [CorpusErrorKind: Int]) { for (k, v) in other { add(k, v) } }

    /// All skipped records.
    public var total: Int { byReason.values.reduce(0, +) }

    /// "3 not-json, 1 invalid-utf8": the reasons sorted by name.
    public var summary: String {
        byReason.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
    }
}

/// What a run read: documents that decoded, their UTF-8 bytes, repairs and skips.
public struct ReadTotals: Sendable, Equatable {
    public var documents = 0
    public var bytes = 0
    /// Documents with invalid UTF-8 replaced, and the sequences replaced.
    public var repairedDocuments = 0, repairs = 0
    public var skipped = SkipCounts()
    public init() {}

    /// The counts of one decoded batch.
    public init(_ batch: DecodedBatch) {
        documents = batch.documents.count
        bytes = batch.documents.reduce(0) { $0 + $1.text.utf8.count }
        repairedDocuments = batch.repairedDocuments
        repairs = batch.repairs
        skipped.merge(batch.skipped)
    }

    public mutating func add(_ other: ReadTotals) {
        documents += other.documents
        bytes += other.bytes
        repairedDocuments += other.repairedDocuments
        repairs += other.repairs
        skipped.merge(other.skipped.byReason)
    }
}
