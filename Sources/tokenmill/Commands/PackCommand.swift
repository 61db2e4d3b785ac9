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
        the loss; Megatron-LM itself reads the file as an ordinary dataset. Rows are shuffled with \
        --seed; --valid-fraction holds out whole documents into OUT_valid. The report gives both \
        strategies' truncations and padding. Memory: the index of the inputs plus --buffer-docs \
        documents' lengths; ids are read from the mapped inputs.
        """
    )

    @Argument(help: "Input dataset prefixes (PREFIX.bin + PREFIX.idx, as written by tokenize).")
    var inputs: [String]

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

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if sequenceLength < 2 { throw ValidationError("--seq-len must be at least 2.") }
        if bufferDocs < 0 { throw ValidationError("--buffer-docs must be 0 (all) or more.") }
        if !(0 ..< 1).contains(validFraction) { throw ValidationError("--valid-fraction must be at least 0 and below 1.") }
    }

    func run() throws {
        try reportingErrors {
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

            let progress = progressOptions.makeReporter("pack")
            let train = try IndexedDatasetWriter(prefix: output, dtype: dtype)
            let valid = validFraction > 0 ? try IndexedDatasetWriter(prefix: output + "_valid", dtype: dtype) : nil
            var used = PackingReport(), best = PackingReport(), concat = PackingReport(), validReport = PackingReport()
            let L = sequenceLength
            do {
                // Documents in input order, each routed to train or validation by (seed, index).
                var pending: [(Int, Int)] = [], pendingValid: [(Int, Int)] = []
                var index = 0
                func flush(_ docs: inout [(Int, Int)], into writer: IndexedDatasetWriter, report: inout PackingReport, compare: Bool) throws {
                    guard !docs.isEmpty else { return }
                    let lengths = docs.map { datasets[$0.0].sequenceLengths.isEmpty ? 0 : Int(documentLength(datasets[$0.0], $0.1)) }
                    var r = PackingReport()
                    var rows = strategy == .bestFit ? packBestFit(lengths: lengths, sequenceLength: L, report: &r)
                                                    : packConcat(lengths: lengths, sequenceLength: L, report: &r)
                    if compare {
                        var other = PackingReport()
                        if strategy == .bestFit { _ = packConcat(lengths: lengths, sequenceLength: L, report: &other); best.merge(r); concat.merge(other) }
                        else { _ = packBestFit(lengths: lengths, sequenceLength: L, report: &other); concat.merge(r); best.merge(other) }
                    }
                    report.merge(r)
                    if shuffle {
                        var rng = SplitMix64(seed: seed ^ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
                        rows.shuffle(using: &rng)
                    }
                    var padRow: [Int32] = []
                    for row in rows {
                        var filled = 0
                        for p in row {
                            let (ds, d) = docs[p.document]
                            try writer.addSequence(datasets[ds].documentSlice(d, offset: p.offset, length: p.length))
                            filled += p.length
                        }
                        if padRow.count != L - filled { padRow = [Int32](repeating: Int32(pad), count: L - filled) }
                        try writer.addSequence(padRow)
                        writer.endDocument()
                    }
                    docs.removeAll(keepingCapacity: true)
                    progress.update(documents: index, bytes: 0)
                }
                for (k, ds) in datasets.enumerated() {
                    for d in 0 ..< ds.documentCount {
                        var rng = SplitMix64(seed: seed ^ 0x5EED_0F_5A11D ^ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
                        if valid != nil && rng.unit() < validFraction { pendingValid.append((k, d)) } else { pending.append((k, d)) }
                        index += 1
                        if bufferDocs > 0 && pending.count >= bufferDocs { try flush(&pending, into: train, report: &used, compare: true) }
                        if let valid, bufferDocs > 0 && pendingValid.count >= bufferDocs { try flush(&pendingValid, into: valid, report: &validReport, compare: false) }
                    }
                }
                try flush(&pending, into: train, report: &used, compare: true)
                if let valid { try flush(&pendingValid, into: valid, report: &validReport, compare: false) }
                let manifest = packManifest(inputs: inputs, strategy: strategy, L: L, pad: pad, seed: seed, shuffle: shuffle,
                                            bufferDocs: bufferDocs, validFraction: validFraction, used: used, best: best,
                                            concat: concat, valid: validReport, tokenizer: manifests.compactMap { $0?["tokenizer"] }.first)
                let manifestFile = try OutputFile(path: output + ".json", compress: false)
                try manifestFile.write(Array(manifest.utf8))
                try train.finish()
                try valid?.finish()
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
            printError(line("pack \(strategy.rawValue)", used) + (validFraction > 0 ? "; validation: \(formatCount(validReport.documents)) documents → \(formatCount(validReport.rows)) rows" : "") + String(format: "; %.2f s", progress.elapsed))
            printError("  for comparison on the same documents: " + line("best-fit", best) + "; " + line("concat", concat))
        }
    }
}

/// The number of tokens in document `d` of `ds`.
private func documentLength(_ ds: IndexedDatasetReader, _ d: Int) -> Int32 {
    (Int(ds.documentIndices[d]) ..< Int(ds.documentIndices[d + 1])).reduce(0) { $0 + ds.sequenceLengths[$1] }
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

private func packManifest(inputs: [String], strategy: PackingStrategy, L: Int, pad: Int, seed: UInt64, shuffle: Bool, bufferDocs: Int,
                          validFraction: Double, used: PackingReport, best: PackingReport, concat: PackingReport,
                          valid: PackingReport, tokenizer: Any?) -> String {
    let tok = tokenizer.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }.map { String(decoding: $0, as: UTF8.self) } ?? "null"
    let inputList = inputs.map { i -> String in
        var out: [UInt8] = []
        var t = i
        t.withUTF8 { appendJSONString(UnsafeRawBufferPointer($0), to: &out) }
        return String(decoding: out, as: UTF8.self)
    }.joined(separator: ", ")
    return """
    {
      "format": "tokenmill-packed-megatron-dataset",
      "layout": "one Megatron document per row of seq_len tokens; its sequences are document pieces, and its last sequence is always padding (pad_id, possibly empty)",
      "tokenizer": \(tok),
      "inputs": [\(inputList)],
      "options": {"strategy": "\(strategy.rawValue)", "seq_len": \(L), "pad_id": \(pad), "seed": \(seed), "shuffle": \(shuffle), "buffer_docs": \(bufferDocs), "valid_fraction": \(validFraction)},
      "report": \(reportJSON(used)),
      "validation": \(reportJSON(valid)),
      "comparison": {"best-fit": \(reportJSON(best)), "concat": \(reportJSON(concat))}
    }

    """
}
