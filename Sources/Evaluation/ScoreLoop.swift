// The bpb document loop: documents → (normalization) → tokens → `BPBScorer` → per-document scores in
// the accumulator, the optional per-document JSON lines and the compression baselines' spill files.
// Policy: sequential on the caller's thread (the scorer batches windows across documents and the
// model's forward is the cost; encoding is a few percent of it). Documents are numbered in input order,
// empty ones included; an empty text or one without tokens is counted as empty and not scored.
// `maxDocs` stops reading after that many documents. Memory: the read buffers, the tokens of the
// documents whose windows are in flight, and 64 KiB of per-document lines before each write.
import CorpusIO
import Normalization
import Pipeline
import Tokenization

/// Reads, encodes and scores documents for `tokenmill bpb`.
public struct BPBScoreLoop {
    public let scorer: BPBScorer
    public let encoder: TokenEncoder
    /// Applied to each document's text before encoding (the bytes counted stay the original's).
    public let normalizer: TextNormalizer?
    /// The dotted path of the field naming a document's subset ("unknown" when missing).
    public var subsetField = "meta.pile_set_name"
    public var maxDocs: Int?
    /// Receives each scored document's original text by subset.
    public var compressors: CompressionBaselines?
    /// Receives one JSON line per scored document: subset, index, bytes, tokens, nll_nats, bpb.
    public var perDocument: OutputFile?

    public init(scorer: BPBScorer, encoder: TokenEncoder, normalizer: TextNormalizer?) {
        self.scorer = scorer
        self.encoder = encoder
        self.normalizer = normalizer
    }

    /// Scores every document of `reader` (up to `maxDocs`) into `accumulator`; returns the documents read.
    public func run(reader: CorpusReader, into accumulator: BPBAccumulator, progress: ProgressReporter,
                    warn: (String) -> Void) throws -> Int {
        var meta: [Int: (subset: String, bytes: Int)] = [:]   // waits here until the document is scored
        var documents = 0, bytesRead: Int64 = 0
        var perDocLines: [UInt8] = []
        func collect() throws {
            for s in scorer.takeCompleted() {
                let m = meta.removeValue(forKey: s.id)!
                let bytes = bpbDenominatorBytes(textBytes: m.bytes, scoreEOD: scorer.scoreEOD)
                accumulator.add(subset: m.subset, bytes: bytes, tokens: s.tokens, nll: s.nll)
                if let perDocument {
                    perDocLines.append(contentsOf: "{\"subset\": \(encodeJSONString(m.subset)), \"index\": \(s.id), \"bytes\": \(bytes), \"tokens\": \(s.tokens), \"nll_nats\": \(s.nll), \"bpb\": \(bitsPerByte(nll: s.nll, bytes: bytes))}\n".utf8)
                    if perDocLines.count >= 1 << 16 { try perDocument.write(perDocLines); perDocLines.removeAll(keepingCapacity: true) }
                }
            }
        }
        reading: while let batch = try reader.nextBatch() {
            let decoded = try decodeDocuments(batch, options: reader.options)
            for e in decoded.skipErrors { warn("warning: skipped \(e)") }
            for doc in decoded.documents {
                if let maxDocs, documents >= maxDocs { break reading }
                let index = documents
                documents += 1
                let subset = doc.field(subsetField) ?? "unknown"
                let bytes = doc.text.utf8.count
                bytesRead += Int64(bytes)
                var text = doc.text
                if let normalizer { _ = try normalizer.normalize(&text) }
                let ids = text.isEmpty ? [] : try encoder.encode(text)
                if bytes == 0 || ids.isEmpty { accumulator.addEmpty(subset: subset); continue }
                try compressors?.append(subset: subset, text: doc.text)
                meta[index] = (subset, bytes)
                scorer.add(id: index, tokens: ids)
                try collect()
                progress.update(documents: documents, bytes: bytesRead)
            }
        }
        scorer.finish()
        try collect()
        if let perDocument, !perDocLines.isEmpty { try perDocument.write(perDocLines) }
        return documents
    }
}

/// A bpb run that cannot give a figure (no document with text).
public struct BPBError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The figures of a bpb run.
public struct BPBResult {
    public var subsets: [SubsetReport]
    public var overall: SubsetReport
    /// Documents read (empty ones included) and the loop's seconds.
    public var documentsRead: Int
    public var seconds: Double
    public var tokensScored: Int, forwards: Int, batch: Int, context: Int

    /// The summary line of `tokenmill bpb`.
    public var line: String {
        String(format: "bpb: %@ documents (%@ empty), %@, %@ tokens in %d subsets; overall %.4f bits/byte; %@ tokens/s (%d forwards of %d×%d); %.2f s",
               formatCount(overall.documents), formatCount(overall.emptyDocuments), formatBytes(Int64(overall.bytes)),
               formatCount(overall.tokens), subsets.count, overall.bpb,
               formatCount(Int(Double(tokensScored) / max(seconds, 1e-9))), forwards, batch, context, seconds)
    }
}

extension BPBScoreLoop {
    /// Scores `reader` (committing `perDocument` when done), then summarizes: subsets sorted by name
    /// with `resamples` bootstrap resamples seeded by `seed`, and the compression baselines when
    /// `compressors` is set (their progress lines go to `warn` when `progress` is shown).
    /// - Throws: `BPBError` naming `inputs` when no document had text; the reader's, the model's or a
    ///   writer's errors.
    public func evaluate(reader: CorpusReader, inputs: String, resamples: Int, seed: UInt64, progress: ProgressReporter,
                         warn: (String) -> Void) throws -> BPBResult {
        let accumulator = BPBAccumulator()
        let documents: Int
        do {
            defer { progress.finish() }
            documents = try perDocument.map { out in try out.committing { try run(reader: reader, into: accumulator, progress: progress, warn: warn) } }
                ?? run(reader: reader, into: accumulator, progress: progress, warn: warn)
        }
        let seconds = progress.elapsed
        guard accumulator.scoredDocuments > 0 else {
            throw BPBError(description: "\(inputs): no usable documents (\(documents) read, \(accumulator.emptyDocuments) empty)")
        }
        var (subsets, overall) = accumulator.summarize(resamples: resamples, seed: seed)
        if let compressors {
            let b = try compressors.compute(progress: { if progress.enabled { warn("bpb: \($0)") } })
            for i in subsets.indices { subsets[i].baselines = b[subsets[i].name] }
            overall.baselines = b["overall"]
        }
        return BPBResult(subsets: subsets, overall: overall, documentsRead: documents, seconds: seconds, tokensScored: scorer.tokensScored,
                         forwards: scorer.forwards, batch: scorer.model.B, context: scorer.context)
    }
}
