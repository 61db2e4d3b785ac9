// The pack stage: tokenized documents (Megatron datasets from `tokenize`) → rows of exactly L tokens,
// best-fit or concatenated, as OUT.bin/.idx (and OUT_valid.*) with the manifest OUT.json.
// Policy: every document goes to train or validation by (seed, index); each stream is cut into buffers
// of `bufferDocs` documents and packed one buffer at a time; a shard packs a contiguous range of the
// buffers and writes its rows unshuffled, the single run shuffles all rows together in the order
// `merge` uses for shards. Each row is one Megatron document whose sequences are the pieces it holds,
// then one padding sequence (possibly empty).
// Cost: the index of the inputs (20 bytes per document), one buffer's packing (about 50 bytes per
// document), and when shuffling without a shard 24 bytes per piece of the output; ids are read from
// the mapped inputs.
import CorpusIO
import Foundation
import Packing

/// What `pack` does besides the inputs.
public struct PackOptions: Sendable {
    public var strategy = PackingStrategy.bestFit
    public var sequenceLength: Int
    /// Documents packed together at a time (0: the whole input).
    public var bufferDocs = 0
    /// The padding id (nil: the single end-of-text id the inputs' manifests name).
    public var padID: Int?
    public var seed: UInt64 = 0
    public var shuffle = true
    public var validFraction = 0.0
    public var shard: Shard?
    public init(sequenceLength: Int) { self.sequenceLength = sequenceLength }
}

public struct PackStage {
    public let inputs: [String]
    public let options: PackOptions

    public init(inputs: [String], options: PackOptions) {
        self.inputs = inputs
        self.options = options
    }

    /// Packs the inputs into `output` (OUT.bin/.idx/.json, and OUT_valid.bin/.idx with a validation split).
    /// - Parameter progress: documents planned so far (every 4,096).
    /// - Returns: the manifest written.
    /// - Throws: `StageError` (usage: a pad id that does not fit; data: inputs from different tokenizers),
    ///   `ManifestError`, `DatasetError`.
    public func run(output: String, progress: (Int) -> Void = { _ in }) throws -> PackedDatasetManifest {
        let datasets = try inputs.map { try IndexedDatasetReader(prefix: $0) }
        let manifests = try inputs.map { try DatasetManifest.read(prefix: $0) }
        if Set(manifests.compactMap { $0?.tokenizer?.sha256 }).count > 1 {
            throw StageError(.data, "the inputs were tokenized with different tokenizers (their manifests' tokenizer sha256 differ)")
        }
        let dtype: IndexedDType = datasets.contains { $0.dtype == .int32 } ? .int32 : .uint16
        let eods = Set(manifests.compactMap { $0?.tokenizedManifest?.options.eod.map { Int($0.id) } })
        guard let pad = options.padID ?? (eods.count == 1 ? eods.first : nil) else {
            throw StageError(.usage, "No pad id: pass --pad-id (the inputs' manifests name no single end-of-text id).")
        }
        if pad < 0 || (dtype == .uint16 && pad > 0xFFFF) { throw StageError(.usage, "--pad-id \(pad) does not fit the inputs' \(dtype).") }
        if let v = Set(manifests.compactMap { $0?.tokenizer?.vocabularySize }).first, pad >= v {
            throw StageError(.usage, "--pad-id \(pad) is not in the tokenizer's \(v)-token vocabulary.")
        }
        let settings = PackSettings(strategy: options.strategy, sequenceLength: options.sequenceLength, padID: pad, seed: options.seed,
                                    shuffle: options.shuffle, bufferDocs: options.bufferDocs, validFraction: options.validFraction)
        let train = try IndexedDatasetWriter(prefix: output, dtype: dtype)
        let valid = settings.validFraction > 0 ? try IndexedDatasetWriter(prefix: output + "_valid", dtype: dtype) : nil
        do {
            let rows = RowWriter(datasets: datasets, L: settings.sequenceLength, pad: pad)
            var manifest = try plan(settings, datasets: datasets, rows: rows, train: train, valid: valid, progress: progress)
            manifest.tokenizer = manifests.compactMap { $0?.tokenizer }.first
            manifest.inputs = inputs
            manifest.normalization = NormalizationRecord.common(manifests.map { $0?.normalization })
            try train.finish()
            try valid?.finish()
            try manifest.write(prefix: output, validation: valid != nil)
            return manifest
        } catch {
            train.abandon(); valid?.abandon()
            throw error
        }
    }

    /// Plans, packs and writes the rows; returns the manifest without its tokenizer, inputs and normalization.
    private func plan(_ settings: PackSettings, datasets: [IndexedDatasetReader], rows writer: RowWriter, train: IndexedDatasetWriter,
                      valid: IndexedDatasetWriter?, progress: (Int) -> Void) throws -> PackedDatasetManifest {
        let L = settings.sequenceLength, shard = options.shard, strategy = settings.strategy, bufferDocs = settings.bufferDocs
        var used = PackingReport(), best = PackingReport(), concat = PackingReport(), validReport = PackingReport()
        // 1. The plan: every document goes to train or validation by (seed, index); each stream is cut
        //    into buffers of `bufferDocs` documents; a shard takes a contiguous range.
        var trainDocuments = 0, validDocuments = 0
        for ds in datasets {
            for _ in 0 ..< ds.documentCount {
                if settings.isValidation(trainDocuments + validDocuments) { validDocuments += 1 } else { trainDocuments += 1 }
            }
        }
        let trainBuffers = settings.bufferCount(trainDocuments), validBuffers = settings.bufferCount(validDocuments)
        let trainRange = Shard.range(trainBuffers, shard), validRange = Shard.range(validBuffers, shard)
        // Rows are written as each buffer is packed, unless the single run shuffles them all together.
        let holdRows = shard == nil && settings.shuffle
        var trainRows = PackedRows(), validRows = PackedRows()

        // 2. Pack each buffer in the range.
        func flush(_ docs: inout [(Int, Int)], into rows: inout PackedRows, to out: IndexedDatasetWriter, report: inout PackingReport, compare: Bool) throws {
            guard !docs.isEmpty else { return }
            let lengths = docs.map { datasets[$0.0].documentTokenCount($0.1) }
            var r = PackingReport()
            let packed = strategy == .bestFit ? packBestFit(lengths: lengths, sequenceLength: L, report: &r)
                                              : packConcat(lengths: lengths, sequenceLength: L, report: &r)
            if compare {
                var other = PackingReport()
                if strategy == .bestFit { _ = packConcat(lengths: lengths, sequenceLength: L, report: &other); best.merge(r); concat.merge(other) }
                else { _ = packBestFit(lengths: lengths, sequenceLength: L, report: &other); concat.merge(r); best.merge(other) }
            }
            report.merge(r)
            for row in packed {
                for p in row {
                    let (ds, d) = docs[p.document]
                    rows.pieces.append(RowPiece(input: Int32(ds), length: Int32(p.length), document: d, offset: p.offset))
                }
                rows.ends.append(rows.pieces.count)
            }
            docs.removeAll(keepingCapacity: true)
            if !holdRows {
                for k in 0 ..< rows.count { try writer.write(rows[k], to: out) }
                rows = PackedRows()
            }
        }
        var pending: [(Int, Int)] = [], pendingValid: [(Int, Int)] = []
        var index = 0, trainSeen = 0, validSeen = 0
        for (k, ds) in datasets.enumerated() {
            for d in 0 ..< ds.documentCount {
                if let valid, settings.isValidation(index) {
                    if validRange.contains(settings.buffer(of: validSeen)) { pendingValid.append((k, d)) }
                    validSeen += 1
                    if bufferDocs > 0 && pendingValid.count >= bufferDocs {
                        try flush(&pendingValid, into: &validRows, to: valid, report: &validReport, compare: false)
                    }
                } else {
                    if trainRange.contains(settings.buffer(of: trainSeen)) { pending.append((k, d)) }
                    trainSeen += 1
                    if bufferDocs > 0 && pending.count >= bufferDocs {
                        try flush(&pending, into: &trainRows, to: train, report: &used, compare: true)
                    }
                }
                index += 1
                if index & 0xFFF == 0 { progress(index) }
            }
        }
        try flush(&pending, into: &trainRows, to: train, report: &used, compare: true)
        if let valid { try flush(&pendingValid, into: &validRows, to: valid, report: &validReport, compare: false) }

        // 3. The single run shuffles all rows at once, in the order `merge` uses for shards.
        if holdRows {
            for k in shuffledRowOrder(count: trainRows.count, seed: settings.rowSeed(validation: false)) { try writer.write(trainRows[k], to: train) }
            if let valid {
                for k in shuffledRowOrder(count: validRows.count, seed: settings.rowSeed(validation: true)) { try writer.write(validRows[k], to: valid) }
            }
        }
        let shardInfo = shard.map {
            PackedDatasetManifest.Shard(index: $0.index, count: $0.count, trainBuffers: trainRange, validBuffers: validRange,
                                        totalTrainBuffers: trainBuffers, totalValidBuffers: validBuffers,
                                        inputDocuments: trainDocuments + validDocuments, inputTokens: datasets.reduce(0) { $0 + $1.tokenCount })
        }
        return PackedDatasetManifest(tokenizer: nil, inputs: [], normalization: nil, options: settings, shard: shardInfo,
                                     report: used, validation: validReport, bestFit: best, concat: concat)
    }
}

/// One piece of a row: `length` tokens from `offset` of document `document` of input `input`.
struct RowPiece {
    var input: Int32
    var length: Int32
    var document: Int
    var offset: Int
}

/// Rows of pieces, flat: row k is `pieces[ends[k - 1] ..< ends[k]]`.
struct PackedRows {
    var pieces: [RowPiece] = []
    var ends: [Int] = []
    var count: Int { ends.count }
    subscript(k: Int) -> ArraySlice<RowPiece> { pieces[(k == 0 ? 0 : ends[k - 1]) ..< ends[k]] }
}

/// Writes rows: each row's pieces as sequences, then the padding sequence (possibly empty), as one document.
struct RowWriter {
    let datasets: [IndexedDatasetReader]
    let L: Int
    let pad: Int

    func write(_ row: ArraySlice<RowPiece>, to writer: IndexedDatasetWriter) throws {
        var filled = 0
        for p in row {
            try writer.addSequence(datasets[Int(p.input)].documentSlice(p.document, offset: p.offset, length: Int(p.length)))
            filled += Int(p.length)
        }
        try writer.addSequence(repeatElement(Int32(pad), count: L - filled))
        writer.endDocument()
    }
}

extension IndexedDatasetReader {
    /// The number of tokens in document `d`.
    func documentTokenCount(_ d: Int) -> Int {
        (Int(documentIndices[d]) ..< Int(documentIndices[d + 1])).reduce(0) { $0 + Int(sequenceLengths[$1]) }
    }

    /// Appends document `d`'s sequences to `writer` as one document.
    func copyDocument(_ d: Int, to writer: IndexedDatasetWriter) throws {
        for s in Int(documentIndices[d]) ..< Int(documentIndices[d + 1]) { try writer.addSequence(sequence(s)) }
        writer.endDocument()
    }
}
