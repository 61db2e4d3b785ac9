// `tokenmill pack`: tokenized documents → rows of exactly L tokens, best-fit or concatenated.
import ArgumentParser
import CorpusIO
import Foundation
import Packing

enum PackingStrategy: String, ExpressibleByArgument, CaseIterable {
    case bestFit = "best-fit", concat
}

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack tokenized documents (Megatron datasets from tokenize) into rows of exactly --seq-len tokens.",
        discussion: """
        Example: tokenmill pack --seq-len 2048 --valid-fraction 0.01 -o data/packed data/train

        best-fit (Ding et al. 2024): documents longer than L are cut into L-token chunks, and chunks go, \
        longest first, into the row with the least room that fits (segment tree, O(N log L)), over \
        buffers of --buffer-docs documents; only documents longer than L are truncated. concat: \
        documents back to back, cut every L tokens. Each row is written as one Megatron document whose \
        sequences are the document pieces it holds, always followed by one padding sequence of pad ids \
        (possibly empty): a trainer resets positions at each piece and masks the last sequence out of \
        the loss; Megatron-LM itself reads the file as an ordinary dataset. --valid-fraction holds out \
        whole documents (chosen by --seed and their position) into OUT_valid; each of the two streams \
        is cut into buffers of --buffer-docs documents, packed one buffer at a time, and the rows of all \
        buffers are shuffled together with --seed. The report gives both strategies' truncations and \
        padding.

        Shards: with --shard I/N (and --buffer-docs set), a run packs only a contiguous I-th of the \
        buffers and writes its rows unshuffled; `tokenmill merge` joins the N outputs, shuffling the \
        rows as one run does, into exactly the single run's OUT.* and OUT_valid.* files.

        Memory: the index of the inputs (20 bytes per document), one buffer's packing (about 50 bytes \
        per document), and, when shuffling without --shard, 24 bytes per piece of the output (about one \
        per document and row) to write the rows in shuffled order; ids are read from the mapped inputs.
        """
    )

    @Argument(help: "Input dataset prefixes (PREFIX.bin + PREFIX.idx, as written by tokenize).")
    var inputs: [String]

    @Flag(name: .customLong("no-verify"), help: "Do not check the inputs' .bin/.idx against the SHA-256 their manifests (PREFIX.json) record.")
    var noVerify = false

    @Option(name: [.short, .long], help: "The output prefix: writes OUT.bin, OUT.idx and OUT.json (and OUT_valid.*).")
    var output: String

    @Option(name: .customLong("seq-len"), help: "Tokens per row (at least 2).")
    var sequenceLength: Int

    @Option(help: "best-fit (few truncations) or concat (concatenate and cut).")
    var strategy: PackingStrategy = .bestFit

    @Option(name: .customLong("buffer-docs"), help: "Documents packed together at a time (0: the whole input).")
    var bufferDocs: Int = 0

    @Option(name: .customLong("pad-id"), help: "The id padding uses (default: the end-of-text id in the inputs' manifests).")
    var padID: Int?

    @Option(help: "The seed for shuffling rows and choosing validation documents.")
    var seed: UInt64 = 0

    @Flag(inversion: .prefixedNo, help: "Shuffle the rows.")
    var shuffle = true

    @Option(name: .customLong("valid-fraction"), help: "The share of documents held out into OUT_valid (0 to 1).")
    var validFraction: Double = 0

    @Option(help: "Pack only shard I of N (I/N, 0-based): the I-th contiguous range of the --buffer-docs buffers, rows unshuffled. `tokenmill merge` joins the N outputs into exactly the single run's files.")
    var shard: Shard?

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if sequenceLength < 2 { throw ValidationError("--seq-len must be at least 2.") }
        if bufferDocs < 0 { throw ValidationError("--buffer-docs must be 0 (all) or more.") }
        if !(0 ..< 1).contains(validFraction) { throw ValidationError("--valid-fraction must be at least 0 and below 1.") }
        if let shard, shard.count > 1, bufferDocs == 0 {
            throw ValidationError("--shard needs --buffer-docs N: shards pack whole buffers (give the single run the same --buffer-docs).")
        }
    }

    func run() throws {
        try reportingErrors {
            if noVerify {
                printError("pack: --no-verify: the inputs' .bin/.idx are not checked against the SHA-256 in their manifests")
            } else {
                for prefix in inputs { try verifyDataset(prefix, noVerify: false, command: "pack") }
            }
            let datasets = try inputs.map { try IndexedDatasetReader(prefix: $0) }
            let manifests = try inputs.map { try readManifest($0) }
            let hashes = Set(manifests.compactMap { (($0?["tokenizer"] as? [String: Any])?["sha256"] as? String) })
            if hashes.count > 1 {
                throw RuntimeFailure(description: "the inputs were tokenized with different tokenizers (their manifests' tokenizer sha256 differ)")
            }
            let dtype: IndexedDType = datasets.contains { $0.dtype == .int32 } ? .int32 : .uint16
            let eods = Set(manifests.compactMap { (($0?["options"] as? [String: Any])?["eod_id"] as? Int) })
            guard let pad = padID ?? (eods.count == 1 ? eods.first : nil) else {
                throw ValidationError("No pad id: pass --pad-id (the inputs' manifests name no single end-of-text id).")
            }
            if pad < 0 || (dtype == .uint16 && pad > 0xFFFF) { throw ValidationError("--pad-id \(pad) does not fit the inputs' \(dtype).") }
            let vocabularies = Set(manifests.compactMap { (($0?["tokenizer"] as? [String: Any])?["vocabulary_size"] as? Int) })
            if let v = vocabularies.first, pad >= v { throw ValidationError("--pad-id \(pad) is not in the tokenizer's \(v)-token vocabulary.") }

            let settings = PackSettings(strategy: strategy, sequenceLength: sequenceLength, padID: pad, seed: seed, shuffle: shuffle,
                                        bufferDocs: bufferDocs, validFraction: validFraction)
            let progress = progressOptions.makeReporter("pack")
            let train = try IndexedDatasetWriter(prefix: output, dtype: dtype)
            let valid = validFraction > 0 ? try IndexedDatasetWriter(prefix: output + "_valid", dtype: dtype) : nil
            var used = PackingReport(), best = PackingReport(), concat = PackingReport(), validReport = PackingReport()
            let L = sequenceLength
            do {
                // 1. The plan: every document goes to train or validation by (seed, index); each stream
                //    is cut into buffers of --buffer-docs documents; a shard takes a contiguous range.
                var trainDocuments = 0, validDocuments = 0
                for ds in datasets {
                    for _ in 0 ..< ds.documentCount {
                        if settings.isValidation(trainDocuments + validDocuments) { validDocuments += 1 } else { trainDocuments += 1 }
                    }
                }
                let trainBuffers = settings.bufferCount(trainDocuments), validBuffers = settings.bufferCount(validDocuments)
                let trainRange = shardRange(trainBuffers, shard), validRange = shardRange(validBuffers, shard)
                // Rows are written as each buffer is packed, unless the single run shuffles them all together.
                let holdRows = shard == nil && shuffle
                var trainRows = PackedRows(), validRows = PackedRows()

                // 2. Pack each buffer in the range.
                func flush(_ docs: inout [(Int, Int)], into rows: inout PackedRows, writer: IndexedDatasetWriter, report: inout PackingReport, compare: Bool) throws {
                    guard !docs.isEmpty else { return }
                    let lengths = docs.map { documentLength(datasets[$0.0], $0.1) }
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
                        for k in 0 ..< rows.count { try writeRow(rows[k], datasets: datasets, L: L, pad: pad, to: writer) }
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
                                try flush(&pendingValid, into: &validRows, writer: valid, report: &validReport, compare: false)
                            }
                        } else {
                            if trainRange.contains(settings.buffer(of: trainSeen)) { pending.append((k, d)) }
                            trainSeen += 1
                            if bufferDocs > 0 && pending.count >= bufferDocs {
                                try flush(&pending, into: &trainRows, writer: train, report: &used, compare: true)
                            }
                        }
                        index += 1
                        if index & 0xFFF == 0 { progress.update(documents: index, bytes: 0) }
                    }
                }
                try flush(&pending, into: &trainRows, writer: train, report: &used, compare: true)
                if let valid { try flush(&pendingValid, into: &validRows, writer: valid, report: &validReport, compare: false) }

                // 3. The single run shuffles all rows at once, in the order `merge` uses for shards.
                if holdRows {
                    for k in shuffledRowOrder(count: trainRows.count, seed: settings.rowSeed(validation: false)) {
                        try writeRow(trainRows[k], datasets: datasets, L: L, pad: pad, to: train)
                    }
                    if let valid {
                        for k in shuffledRowOrder(count: validRows.count, seed: settings.rowSeed(validation: true)) {
                            try writeRow(validRows[k], datasets: datasets, L: L, pad: pad, to: valid)
                        }
                    }
                }
                let shardInfo = shard.map {
                    PackShardInfo(index: $0.index, count: $0.count, trainBuffers: trainRange, validBuffers: validRange,
                                  totalTrainBuffers: trainBuffers, totalValidBuffers: validBuffers,
                                  inputDocuments: trainDocuments + validDocuments, inputTokens: datasets.reduce(0) { $0 + $1.tokenCount })
                }
                let manifest = packManifest(inputs: inputs, settings: settings, used: used, best: best, concat: concat, valid: validReport,
                                            tokenizer: manifests.compactMap { $0?["tokenizer"] }.first,
                                            normalization: commonNormalization(ofManifests: manifests), shard: shardInfo)
                let manifestFile = try OutputFile(path: output + ".json", compress: false)
                try train.finish()
                try valid?.finish()
                try manifestFile.write(Array(try manifestWithHashes(manifest, prefix: output, validation: valid != nil).utf8))
                try manifestFile.commit()
            } catch {
                train.abandon(); valid?.abandon()
                progress.finish()
                throw error
            }
            progress.finish()
            func line(_ name: String, _ r: PackingReport) -> String {
                "\(name): \(formatCount(r.documents)) documents → \(formatCount(r.rows)) rows of \(L); truncated \(formatCount(r.truncatedDocuments)) (\(String(format: "%.2f", 100 * r.truncatedShare))%), padding \(formatCount(r.paddingTokens)) tokens (\(String(format: "%.2f", 100 * r.paddingShare))%)"
            }
            let name = "pack \(strategy.rawValue)" + (shard.map { " (shard \($0.index)/\($0.count))" } ?? "")
            printError(line(name, used) + (validFraction > 0 ? "; validation: \(formatCount(validReport.documents)) documents → \(formatCount(validReport.rows)) rows" : "") + String(format: "; %.2f s", progress.elapsed))
            printError("  for comparison on the same documents: " + line("best-fit", best) + "; " + line("concat", concat))
        }
    }
}

/// The options that decide a pack's output, as its manifest records them.
struct PackSettings: Equatable {
    var strategy: PackingStrategy
    var sequenceLength: Int
    var padID: Int
    var seed: UInt64
    var shuffle: Bool
    var bufferDocs: Int
    var validFraction: Double

    /// Whether document `index` (counted over all inputs in order) is held out for validation.
    func isValidation(_ index: Int) -> Bool {
        guard validFraction > 0 else { return false }
        var rng = SplitMix64(seed: seed ^ 0x5EED_0F_5A11D ^ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
        return rng.unit() < validFraction
    }

    /// The buffer holding the `k`-th document of a stream.
    func buffer(of k: Int) -> Int { bufferDocs > 0 ? k / bufferDocs : 0 }

    /// How many buffers a stream of `documents` documents fills.
    func bufferCount(_ documents: Int) -> Int {
        documents == 0 ? 0 : bufferDocs > 0 ? (documents + bufferDocs - 1) / bufferDocs : 1
    }

    /// The seed of the row order of the train or the validation rows.
    func rowSeed(validation: Bool) -> UInt64 { seed ^ (validation ? 0x7A11_D0FF_5EED_0002 : 0x7A11_D0FF_5EED_0001) }

    /// The settings a manifest's "options" object records.
    init(manifestOptions o: [String: Any], path: String) throws {
        guard let s = o["strategy"] as? String, let strategy = PackingStrategy(rawValue: s), let L = o["seq_len"] as? Int,
              let pad = o["pad_id"] as? Int, let seed = o["seed"] as? NSNumber, let shuffle = o["shuffle"] as? Bool,
              let buffer = o["buffer_docs"] as? Int, let fraction = o["valid_fraction"] as? NSNumber else {
            throw RuntimeFailure(description: "\(path): the options of a pack manifest are incomplete")
        }
        self.init(strategy: strategy, sequenceLength: L, padID: pad, seed: seed.uint64Value, shuffle: shuffle, bufferDocs: buffer,
                  validFraction: fraction.doubleValue)
    }

    init(strategy: PackingStrategy, sequenceLength: Int, padID: Int, seed: UInt64, shuffle: Bool, bufferDocs: Int, validFraction: Double) {
        self.strategy = strategy; self.sequenceLength = sequenceLength; self.padID = padID; self.seed = seed
        self.shuffle = shuffle; self.bufferDocs = bufferDocs; self.validFraction = validFraction
    }
}

/// Buffers `[I·B/N, (I+1)·B/N)` of `B` for shard I/N; all of them without a shard.
func shardRange(_ buffers: Int, _ shard: Shard?) -> Range<Int> {
    guard let shard else { return 0 ..< buffers }
    return buffers * shard.index / shard.count ..< buffers * (shard.index + 1) / shard.count
}

/// What a pack shard's manifest says about its part of the run, for `merge`.
struct PackShardInfo {
    var index: Int, count: Int
    var trainBuffers: Range<Int>, validBuffers: Range<Int>
    var totalTrainBuffers: Int, totalValidBuffers: Int
    /// A fingerprint of the inputs, which every shard reads whole.
    var inputDocuments: Int, inputTokens: Int

    var json: String {
        "{\"index\": \(index), \"count\": \(count), \"train_buffers\": [\(trainBuffers.lowerBound), \(trainBuffers.upperBound), \(totalTrainBuffers)], \"valid_buffers\": [\(validBuffers.lowerBound), \(validBuffers.upperBound), \(totalValidBuffers)], \"input_documents\": \(inputDocuments), \"input_tokens\": \(inputTokens)}"
    }

    init(index: Int, count: Int, trainBuffers: Range<Int>, validBuffers: Range<Int>, totalTrainBuffers: Int, totalValidBuffers: Int,
         inputDocuments: Int, inputTokens: Int) {
        self.index = index; self.count = count; self.trainBuffers = trainBuffers; self.validBuffers = validBuffers
        self.totalTrainBuffers = totalTrainBuffers; self.totalValidBuffers = totalValidBuffers
        self.inputDocuments = inputDocuments; self.inputTokens = inputTokens
    }

    init?(_ o: [String: Any]) {
        guard let i = o["index"] as? Int, let n = o["count"] as? Int, let t = o["train_buffers"] as? [Int], t.count == 3,
              let v = o["valid_buffers"] as? [Int], v.count == 3, let docs = o["input_documents"] as? Int,
              let tokens = o["input_tokens"] as? Int, t[0] <= t[1], v[0] <= v[1] else { return nil }
        self.init(index: i, count: n, trainBuffers: t[0] ..< t[1], validBuffers: v[0] ..< v[1], totalTrainBuffers: t[2],
                  totalValidBuffers: v[2], inputDocuments: docs, inputTokens: tokens)
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

/// Writes one row: its pieces as sequences, then the padding sequence (possibly empty), as one document.
private func writeRow(_ row: ArraySlice<RowPiece>, datasets: [IndexedDatasetReader], L: Int, pad: Int, to writer: IndexedDatasetWriter) throws {
    var filled = 0
    for p in row {
        try writer.addSequence(datasets[Int(p.input)].documentSlice(p.document, offset: p.offset, length: Int(p.length)))
        filled += Int(p.length)
    }
    try writer.addSequence(repeatElement(Int32(pad), count: L - filled))
    writer.endDocument()
}

/// The number of tokens in document `d` of `ds`.
private func documentLength(_ ds: IndexedDatasetReader, _ d: Int) -> Int {
    (Int(ds.documentIndices[d]) ..< Int(ds.documentIndices[d + 1])).reduce(0) { $0 + Int(ds.sequenceLengths[$1]) }
}

/// PREFIX.json as a dictionary, or nil when there is none.
func readManifest(_ prefix: String) throws -> [String: Any]? {
    guard let data = FileManager.default.contents(atPath: prefix + ".json") else { return nil }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw RuntimeFailure(description: "\(prefix).json: not a JSON object (a TokenMill manifest was expected)")
    }
    return object
}

private func reportJSON(_ r: PackingReport) -> String {
    "{\"documents\": \(r.documents), \"tokens\": \(r.tokens), \"truncated_documents\": \(r.truncatedDocuments), \"truncated_share\": \(r.truncatedShare), \"rows\": \(r.rows), \"padding_tokens\": \(r.paddingTokens), \"padding_share\": \(r.paddingShare)}"
}

/// A report as `reportJSON` wrote it, or nil.
func packingReport(_ o: Any?) -> PackingReport? {
    guard let o = o as? [String: Any], let d = o["documents"] as? Int, let t = o["tokens"] as? Int, let tr = o["truncated_documents"] as? Int,
          let rows = o["rows"] as? Int, let pad = o["padding_tokens"] as? Int else { return nil }
    var r = PackingReport()
    r.documents = d; r.tokens = t; r.truncatedDocuments = tr; r.rows = rows; r.paddingTokens = pad
    return r
}

func packManifest(inputs: [String], settings p: PackSettings, used: PackingReport, best: PackingReport, concat: PackingReport,
                  valid: PackingReport, tokenizer: Any?, normalization: NormalizationRecord?, shard: PackShardInfo?) -> String {
    let tok = tokenizer.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }.map { String(decoding: $0, as: UTF8.self) } ?? "null"
    let inputList = inputs.map { encodeJSONString($0) }.joined(separator: ", ")
    return """
    {
      "format": "tokenmill-packed-megatron-dataset",
      "layout": "one Megatron document per row of seq_len tokens; its sequences are document pieces, and its last sequence is always padding (pad_id, possibly empty)",
      "tokenizer": \(tok),
      "inputs": [\(inputList)],
      "normalization": \(normalization?.jsonText ?? "null"),
      "options": {"strategy": "\(p.strategy.rawValue)", "seq_len": \(p.sequenceLength), "pad_id": \(p.padID), "seed": \(p.seed), "shuffle": \(p.shuffle), "buffer_docs": \(p.bufferDocs), "valid_fraction": \(p.validFraction)},
      "shard": \(shard?.json ?? "null"),
      "report": \(reportJSON(used)),
      "validation": \(reportJSON(valid)),
      "comparison": {"best-fit": \(reportJSON(best)), "concat": \(reportJSON(concat))}
    }

    """
}
