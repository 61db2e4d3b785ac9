// The normalize stage: cleanups + a Unicode normalization form over a stream of documents, written as
// JSON Lines (zstd when the output is) in input order.
// Policy: a JSON record whose text did not change and had no invalid UTF-8 is copied byte for byte;
// others are re-serialized with the new text spliced in (every other field kept). Empty documents are
// dropped when the cleanups say so. The zstd frame of each batch is made on the worker, so the
// writer only appends. Costs: one ICU normalizer per worker thread (from a `WorkerPool`); pure-ASCII
// documents skip ICU.
import CorpusIO
import Normalization

/// Normalizes documents into JSON Lines.
public struct NormalizeStage: DocumentStage {
    public let form: NormalizationForm
    public let cleanups: Cleanups
    /// The text field's path, where the new text goes.
    public let textPath: [String]
    /// Set when the output is zstd: each batch is compressed on its worker.
    let frameEncoder: ZstdFrameEncoder?
    let normalizers: WorkerPool<TextNormalizer>

    /// What one batch produced.
    public struct Output: Sendable {
        /// The batch's JSON lines.
        public var bytes: [UInt8] = []
        /// `bytes` as a zstd frame, when the stage compresses.
        public var frame: [UInt8]?
        public var documentsOut = 0, changed = 0, droppedEmpty = 0, bytesOut = 0
        public init() {}
    }

    /// - Throws: `NormalizationError` when ICU cannot open `form`.
    public init(form: NormalizationForm, cleanups: Cleanups, textPath: [String], compress: Bool) throws {
        self.form = form
        self.cleanups = cleanups
        self.textPath = textPath
        frameEncoder = compress ? ZstdFrameEncoder() : nil
        normalizers = WorkerPool { try TextNormalizer(form: form, cleanups: cleanups) }
        normalizers.give(try normalizers.take())  // fail early if ICU cannot open the form
    }

    public func process(_ batch: DecodedBatch) throws -> Output {
        try normalizers.withWorker { normalizer in
            var result = Output()
            result.bytes.reserveCapacity(batch.recordBytes + batch.recordBytes / 8)
            for var doc in batch.documents {
                let changed = try normalizer.normalize(&doc.text)
                if changed { result.changed += 1 }
                if cleanups.dropEmpty && doc.text.isEmpty { result.droppedEmpty += 1; continue }
                result.documentsOut += 1
                result.bytesOut += doc.text.utf8.count
                if let record = doc.record, !changed, doc.repairs == 0 {
                    // Unchanged: the original record, byte for byte.
                    result.bytes.append(contentsOf: record)
                    result.bytes.append(0x0A)
                } else {
                    doc.appendJSONLine(to: &result.bytes, textPath: textPath)
                }
            }
            if let frameEncoder { result.frame = try frameEncoder.frame(result.bytes) }
            return result
        }
    }
}

/// The counts of a normalize run.
public struct NormalizeSummary: Sendable, Equatable {
    public var read = ReadTotals()
    public var documentsOut = 0, bytesOut = 0, changed = 0, droppedEmpty = 0
    public init() {}

    /// The one-line summary `tokenmill normalize` prints (without the time).
    public var line: String {
        var line = "normalize: \(formatCount(read.documents)) documents (\(formatBytes(Int64(read.bytes)))) in, \(formatCount(documentsOut)) out (\(formatBytes(Int64(bytesOut)))); \(formatCount(changed)) changed, \(formatCount(droppedEmpty)) dropped empty, \(formatCount(read.repairedDocuments)) repaired (\(formatCount(read.repairs)) invalid UTF-8 sequences)"
        if read.skipped.total > 0 { line += ", \(formatCount(read.skipped.total)) skipped (\(read.skipped.summary))" }
        return line
    }
}

extension NormalizeStage {
    /// Normalizes every document of `reader` into `output` (not committed: the caller commits or
    /// abandons it).
    public static func run(reader: CorpusReader, form: NormalizationForm, cleanups: Cleanups, output: OutputFile,
                           runner: DocumentRunner) throws -> NormalizeSummary {
        let stage = try NormalizeStage(form: form, cleanups: cleanups, textPath: reader.options.textPath, compress: output.isZstd)
        var summary = NormalizeSummary()
        summary.read = try runner.run(stage, reader: reader) { r in
            if let frame = r.frame { try output.writeFrames(frame, bytes: r.bytes.count) } else { try output.write(r.bytes) }
            summary.documentsOut += r.documentsOut; summary.bytesOut += r.bytesOut
            summary.changed += r.changed; summary.droppedEmpty += r.droppedEmpty
        }
        return summary
    }
}
