// `tokenmill tokenize`: documents → a Megatron-LM indexed dataset (PREFIX.bin + PREFIX.idx) with a
// manifest (PREFIX.json) saying what produced it.
import ArgumentParser
import CorpusIO
import FillInTheMiddle
import Foundation
import Packing
import Tokenization

enum DTypeOption: String, ExpressibleByArgument, CaseIterable {
    case auto, uint16, int32
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize documents into a Megatron-LM indexed dataset (PREFIX.bin + PREFIX.idx), one entry per document.",
        discussion: """
        Example: tokenmill tokenize --tokenizer tokenizer.json -o data/train corpora/train.jsonl.zst

        Each non-empty document becomes one entry (one sequence, one document) with the end-of-text \
        token appended, exactly as Megatron-LM's tools/preprocess_data.py --append-eod writes it; \
        documents that encode to nothing are skipped and counted. The element type follows \
        megatron-core's rule: uint16 when the vocabulary (added tokens included) has fewer than 65,500 \
        ids, else int32. PREFIX.json records the tokenizer's SHA-256, the inputs, the options and the \
        counts, and the inputs' normalization when `tokenmill normalize` wrote them and their \
        OUTPUT.tokenmill.json sidecars agree (else null), and the SHA-256 of the finished .bin and .idx \
        ("sha256", checked by train, merge, pack, inspect and megatron-args --prepare). The three files appear only when complete; \
        until then the data is written to hidden \
        .PREFIX.*.partial files with a checkpoint every --checkpoint-every batches, and --resume continues \
        a killed run from there (byte-identical to an uninterrupted run).

        Fill-in-the-middle (DeepSeek-V3 uses --fim-rate 0.1, PSM): a chosen document is cut at two \
        positions drawn uniformly over its characters, the parts are encoded separately and the entry \
        becomes <|fim_begin|> prefix <|fim_hole|> suffix <|fim_end|> middle <|endoftext|> (PSM) or \
        <|fim_begin|> <|fim_hole|> suffix <|fim_end|> prefix middle <|endoftext|> (SPM). Which \
        documents and where depends only on --seed and the document's position (input, line).

        Token-boundary randomization (DeepSeek-V3 §4.1): --split-punctuation-newline P encodes each \
        pre-token that joins punctuation and line breaks (".\\n", "!\\n\\n", " });\\n") as two parts, the \
        punctuation and the line breaks, with probability P, so the model also sees them apart. The \
        decisions depend only on --seed and the document's position (input, line), like FIM's, so \
        --threads and --shard do not change the output; PREFIX.json records P ("split_punctuation_newline") \
        and how many such pre-tokens were split and how many there were. Memory: the tokenizer, 12 bytes per \
        document for the index, and about 2 × threads batches of 1 MiB.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: [.short, .long], help: "The output prefix: writes PREFIX.bin, PREFIX.idx and PREFIX.json.")
    var output: String

    @Flag(name: .customLong("append-eod"), inversion: .prefixedNo, help: "Append the end-of-text token to every document.")
    var appendEOD = true

    @Option(name: .customLong("eod-token"), help: "The end-of-text token's text (default: the tokenizer's <|endoftext|>, <｜end▁of▁sentence｜>, <|end_of_text|> or </s>).")
    var eodToken: String?

    @Flag(help: "Recognize special tokens (like <|endoftext|>) in the text.")
    var allowSpecial = false

    @Option(help: "The element type: auto (megatron-core's rule), uint16 or int32.")
    var dtype: DTypeOption = .auto

    @Option(name: .customLong("fim-rate"), help: "The share of documents turned into fill-in-the-middle examples (0 to 1).")
    var fimRate: Double = FIMConfig().rate

    @Option(name: .customLong("fim-spm-rate"), help: "The share of fill-in-the-middle examples in SPM order instead of PSM (0 to 1).")
    var fimSPMRate: Double = FIMConfig().spmRate

    @Option(name: .customLong("fim-tokens"), help: "The FIM sentinel tokens as BEGIN,HOLE,END (default: the tokenizer's <｜fim▁begin｜>/<｜fim▁hole｜>/<｜fim▁end｜>, <|fim_begin|>/…, or <fim_prefix>/<fim_suffix>/<fim_middle>).")
    var fimTokens: String?

    @Option(name: .customLong("split-punctuation-newline"), help: "Token-boundary randomization (DeepSeek-V3): the probability (0 to 1) of encoding a pre-token that joins punctuation and line breaks as its two parts.")
    var splitProbability: Double = 0

    @Option(help: "The seed of every random choice (which documents get FIM, where they are cut, and which pre-tokens --split-punctuation-newline splits).")
    var seed: UInt64 = FIMConfig().seed

    @Flag(help: "Continue an interrupted run of the same command where its last checkpoint left off; the result is byte-identical to an uninterrupted run.")
    var resume = false

    @Option(name: .customLong("checkpoint-every"), help: "Save a resume checkpoint every this many input batches (about 1 MiB each).")
    var checkpointEvery: Int = 32

    @Option(help: "Process only shard I of N (I/N, 0-based): every N-th batch of about 1 MiB of input, starting at the I-th. `tokenmill merge` joins the N outputs into exactly the single run's files.")
    var shard: Shard?

    func validate() throws {
        if !(0 ... 1).contains(fimRate) { throw ValidationError("--fim-rate must be between 0 and 1.") }
        if !(0 ... 1).contains(fimSPMRate) { throw ValidationError("--fim-spm-rate must be between 0 and 1.") }
        if !(0 ... 1).contains(splitProbability) { throw ValidationError("--split-punctuation-newline must be between 0 and 1.") }
        if checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1.") }
        if let fimTokens, fimTokens.split(separator: ",").count != 3 { throw ValidationError("--fim-tokens takes three tokens: BEGIN,HOLE,END.") }
    }

    /// The FIM sentinels' ids, from --fim-tokens or the tokenizer's usual names.
    func resolveFIMTokens(_ tokenizer: Tokenizer) throws -> (FIMTokens, [String]) {
        let families: [[String]] = fimTokens.map { [$0.split(separator: ",").map(String.init)] } ?? [
            ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"],
            ["<|fim_begin|>", "<|fim_hole|>", "<|fim_end|>"],
            ["<fim_prefix>", "<fim_suffix>", "<fim_middle>"],
            ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"],
        ]
        for names in families {
            let ids = names.compactMap { singleTokenID(tokenizer, $0) }
            if ids.count == 3 { return (FIMTokens(begin: Int32(ids[0]), hole: Int32(ids[1]), end: Int32(ids[2])), names) }
        }
        throw ValidationError(fimTokens.map { "--fim-tokens \($0): not all three are single tokens of this tokenizer." }
            ?? "--fim-rate needs FIM tokens, and this tokenizer has none of <｜fim▁begin｜>, <|fim_begin|>, <fim_prefix> (and their partners); name them with --fim-tokens or train the tokenizer with them as special tokens.")
    }

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            let vocabulary = tokenizer.vocabularySize
            var eod: (text: String, id: Int32)? = nil
            if appendEOD {
                let candidates = eodToken.map { [$0] } ?? ["<|endoftext|>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>", "<eos>"]
                guard let found = candidates.lazy.compactMap({ t in singleTokenID(tokenizer, t).map { (t, Int32($0)) } }).first else {
                    throw ValidationError(eodToken.map { "--eod-token \($0) is not a single token of this tokenizer." }
                        ?? "The tokenizer has no end-of-text token (<|endoftext|>, <｜end▁of▁sentence｜>, <|end_of_text|>, </s>); name one with --eod-token or pass --no-append-eod.")
                }
                eod = found
            }
            let element: IndexedDType = switch dtype {
            case .auto: .optimal(vocabularySize: vocabulary)
            case .uint16: .uint16
            case .int32: .int32
            }
            if element == .uint16 && vocabulary > 65_536 {
                throw ValidationError("--dtype uint16 cannot hold the ids of a \(vocabulary)-token vocabulary.")
            }
            let fim = FIMConfig(rate: fimRate, spmRate: fimSPMRate, seed: seed)
            let (fimIDs, fimNames) = fimRate > 0 ? try resolveFIMTokens(tokenizer) : (FIMTokens(begin: 0, hole: 0, end: 0), [])
            let inputs = try expandInputs(input.inputs)
            let reader = CorpusReader(inputs: inputs, options: input.readOptions, warn: { printError($0) })
            let progress = progressOptions.makeReporter("tokenize")
            let split = splitProbability
            let pool = EncoderPool(tokenizer, splitProbability: split, seed: seed)
            let options = reader.options
            let allow = allowSpecial
            // Resuming: the checkpoint must come from a run with the same tokenizer, inputs and options.
            let tokenizerHash = try sha256(ofFile: tokenizerFile(tokenizerOptions.path))
            let identity = "\(tokenizerHash)|\(inputs)|\(element)|\(eod.map { String($0.id) } ?? "-")|\(allow)|\(fim.rate)|\(fim.spmRate)|\(fim.seed)|\(fimNames)|\(shard.map { "\($0.index)/\($0.count)" } ?? "-")|\(options.textField)|\(options.invalidUTF8)|\(options.onError)|\(options.textLayout)" + (split > 0 ? "|split \(split)" : "")
            // One writer per prefix, taken before any checkpoint file is read or removed.
            let prefixLock = try OutputLock(output: output)
            defer { prefixLock.release() }
            let resumePath = OutputFile.partialPath(output + ".resume.json")
            var state = ResumeState(identity: identity)
            var checkpoint: IndexedDatasetWriter.Checkpoint? = nil
            if resume {
                if let data = FileManager.default.contents(atPath: resumePath) {
                    guard let saved = try? JSONDecoder().decode(ResumeState.self, from: data) else {
                        throw RuntimeFailure(description: "\(resumePath): unreadable checkpoint; run again without --resume")
                    }
                    guard saved.identity == identity else {
                        throw ValidationError("--resume: the unfinished run used another tokenizer, inputs or options; run again without --resume to start over.")
                    }
                    guard var c = try IndexedDatasetWriter.loadCheckpoint(prefix: output), c.documentIndices.count - 1 >= saved.documents else {
                        throw RuntimeFailure(description: "\(output): the partial files do not match the checkpoint; run again without --resume")
                    }
                    // subtle: the index may be newer than the state if the run stopped between the two writes.
                    c.documentIndices.removeLast(c.documentIndices.count - 1 - saved.documents)
                    c.lengths.removeLast(c.lengths.count - Int(c.documentIndices.last!))
                    checkpoint = c
                    state = saved
                    printError("tokenize: resuming at input batch \(saved.batch) with \(formatCount(saved.documents)) documents written")
                } else {
                    printError("warning: \(output): no unfinished run to resume; starting from the beginning")
                }
            }
            if checkpoint == nil {  // a fresh run: no stale checkpoint may outlive it
                IndexedDatasetWriter.removeCheckpoint(prefix: output)
                unlink(resumePath)
            }
            let writer = try IndexedDatasetWriter(prefix: output, dtype: element, resumable: true, resumeFrom: checkpoint)
            var documents = state.documents, tokens = state.tokens, bytes = state.bytes, empty = state.empty, skipped = state.skipped
            var fimPSM = state.fimPSM, fimSPM = state.fimSPM
            var boundarySplits = state.boundarySplits ?? 0, boundaryCandidates = state.boundaryCandidates ?? 0
            var batchIndex = 0
            var batchDocuments = state.batchDocuments
            var sinceCheckpoint = 0
            let every = checkpointEvery
            let resumeBatch = state.batch
            do {
                try orderedParallelMap(threads: progressOptions.workerThreads, next: { () -> (Int, RecordBatch)? in
                    // Shards take every N-th batch; batch boundaries depend only on the input bytes.
                    while let batch = try reader.nextBatch() {
                        defer { batchIndex += 1 }
                        if batchIndex < resumeBatch { continue }
                        if let shard, batchIndex % shard.count != shard.index { continue }
                        return (batchIndex, batch)
                    }
                    return nil
                }, transform: { (index, batch) -> ([[Int32]], Int, DecodedBatch, [FIMOrder?], (splits: Int, candidates: Int), Int) in
                    var decoded = try decodeDocuments(batch, options: options)
                    let encoder = try pool.take()
                    defer { pool.give(encoder) }
                    let splitsBefore = encoder.randomizedSplits, candidatesBefore = encoder.randomizationCandidates
                    var entries: [[Int32]] = []
                    entries.reserveCapacity(decoded.documents.count)
                    var b = 0
                    var plans: [FIMOrder?] = []
                    for doc in decoded.documents {
                        b += doc.text.utf8.count
                        let key = documentKey(doc)
                        if split > 0 { encoder.startDocument(key: key) }  // the FIM parts continue one stream
                        if !doc.text.isEmpty, let plan = fimPlan(fim, key: key, scalarCount: doc.text.unicodeScalars.count) {
                            let (prefix, middle, suffix) = fimSplit(doc.text, plan)
                            entries.append(fimAssemble(prefix: try encoder.encode(prefix, allowSpecial: allow),
                                                       middle: try encoder.encode(middle, allowSpecial: allow),
                                                       suffix: try encoder.encode(suffix, allowSpecial: allow),
                                                       tokens: fimIDs, order: plan.order))
                            plans.append(plan.order)
                        } else {
                            entries.append(try encoder.encode(doc.text, allowSpecial: allow))
                            plans.append(nil)
                        }
                    }
                    decoded.documents = []
                    let boundary = (encoder.randomizedSplits - splitsBefore, encoder.randomizationCandidates - candidatesBefore)
                    return (entries, b, decoded, plans, boundary, index)
                }, consume: { entries, b, decoded, plans, boundary, index in
                    batchDocuments.append(entries.lazy.filter { !$0.isEmpty }.count)
                    fimPSM += plans.lazy.filter { $0 == .psm }.count
                    fimSPM += plans.lazy.filter { $0 == .spm }.count
                    boundarySplits += boundary.splits
                    boundaryCandidates += boundary.candidates
                    for var ids in entries {
                        if ids.isEmpty { empty += 1; continue }
                        if let eod { ids.append(eod.id) }
                        try writer.addDocument(ids)
                        documents += 1
                        tokens += ids.count
                    }
                    bytes += b
                    skipped += decoded.skipped.values.reduce(0, +)
                    for e in decoded.skipErrors { printError("warning: skipped \(e)") }
                    progress.update(documents: documents, bytes: Int64(bytes))
                    sinceCheckpoint += 1
                    if sinceCheckpoint >= every {  // the index, then the state that refers to it
                        sinceCheckpoint = 0
                        try writer.checkpoint()
                        state = ResumeState(identity: identity, batch: index + 1, documents: documents, tokens: tokens, bytes: bytes,
                                            empty: empty, skipped: skipped, fimPSM: fimPSM, fimSPM: fimSPM,
                                            boundarySplits: boundarySplits, boundaryCandidates: boundaryCandidates, batchDocuments: batchDocuments)
                        let file = try OutputFile(path: resumePath, compress: false)
                        try file.write(Array(try JSONEncoder().encode(state)))
                        try file.commit()
                    }
                })
                if element == .uint16 && writer.maxID >= 65_500 && dtype == .auto {
                    throw RuntimeFailure(description: "\(output).bin: id \(writer.maxID) does not fit megatron-core's uint16 rule (below 65,500)")
                }
                let manifest = tokenizeManifest(tokenizerPath: tokenizerOptions.path, tokenizerHash: tokenizerHash,
                                                vocabulary: vocabulary, inputs: inputs,
                                                normalization: commonNormalization(ofCorpusFiles: inputs, warn: { printError($0) }), dtype: element, eod: eod, allowSpecial: allow,
                                                fim: fim, fimNames: fimNames, fimPSM: fimPSM, fimSPM: fimSPM,
                                                split: split, boundarySplits: boundarySplits, boundaryCandidates: boundaryCandidates,
                                                shard: shard, batchDocuments: batchDocuments,
                                                textField: options.textField, documents: documents, tokens: tokens, bytes: bytes,
                                                empty: empty, skipped: skipped)
                let manifestFile = try OutputFile(path: output + ".json", compress: false)
                try writer.finish()
                try manifestFile.write(Array(try manifestWithHashes(manifest, prefix: output, validation: false).utf8))
                try manifestFile.commit()
                unlink(resumePath)
            } catch {
                writer.abandon()
                IndexedDatasetWriter.removeCheckpoint(prefix: output)
                unlink(resumePath)
                progress.finish()
                throw error
            }
            progress.finish()
            printError("tokenize: \(formatCount(documents)) documents, \(formatBytes(Int64(bytes))) → \(formatCount(tokens)) tokens (\(element), \(eod.map { "EOD \($0.id) appended" } ?? "no EOD")) in \(output).bin/.idx" +
                       (fim.rate > 0 ? ", FIM \(formatCount(fimPSM)) PSM + \(formatCount(fimSPM)) SPM" : "") +
                       (split > 0 ? ", punctuation + line break split \(formatCount(boundarySplits)) of \(formatCount(boundaryCandidates))" : "") +
                       (empty > 0 ? ", \(formatCount(empty)) empty skipped" : "") + (skipped > 0 ? ", \(formatCount(skipped)) skipped" : "") +
                       String(format: "; %.2f s", progress.elapsed))
        }
    }
}

/// The id of `text` when the tokenizer encodes it (special tokens allowed) as exactly one token.
func singleTokenID(_ tokenizer: Tokenizer, _ text: String) -> Int? {
    if let id = tokenizer.addedTokenID(text) { return id }
    guard let ids = try? tokenizer.encode(text, allowSpecial: true), ids.count == 1 else { return nil }
    return ids[0]
}

/// The file whose bytes identify a tokenizer given as a file or a directory.
func tokenizerFile(_ path: String) -> String {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return path }
    for name in ["tokenizer.json", "vocab.json"] where FileManager.default.fileExists(atPath: path + "/" + name) { return path + "/" + name }
    return path
}


func tokenizeManifest(tokenizerPath: String, tokenizerHash: String, vocabulary: Int, inputs: [String],
                      normalization: NormalizationRecord?, dtype: IndexedDType,
                      eod: (text: String, id: Int32)?, allowSpecial: Bool, fim: FIMConfig, fimNames: [String], fimPSM: Int, fimSPM: Int,
                      split: Double, boundarySplits: Int, boundaryCandidates: Int, shard: Shard?, batchDocuments: [Int],
                      textField: String, documents: Int, tokens: Int,
                      bytes: Int, empty: Int, skipped: Int) -> String {
    """
    {
      "format": "megatron-indexed-dataset",
      "tokenmill_version": \(encodeJSONString(TokenMill.configuration.version)),
      "tokenizer": {"path": \(encodeJSONString(tokenizerPath)), "sha256": "\(tokenizerHash)", "vocabulary_size": \(vocabulary)},
      "inputs": [\(inputs.map { encodeJSONString($0) }.joined(separator: ", "))],
      "normalization": \(normalization?.jsonText ?? "null"),
      "options": {"dtype": "\(dtype)", "append_eod": \(eod != nil), "eod_token": \(eod.map { encodeJSONString($0.text) } ?? "null"), "eod_id": \(eod.map { String($0.id) } ?? "null"), "allow_special": \(allowSpecial), "text_field": \(encodeJSONString(textField)), "fim_rate": \(fim.rate), "fim_spm_rate": \(fim.spmRate), "fim_tokens": [\(fimNames.map { encodeJSONString($0) }.joined(separator: ", "))], "split_punctuation_newline": \(split), "seed": \(fim.seed)},
      "shard": \(shard.map { "{\"index\": \($0.index), \"count\": \($0.count), \"batch_documents\": [\(batchDocuments.map(String.init).joined(separator: ", "))]}" } ?? "null"),
      "counts": {"documents": \(documents), "tokens": \(tokens), "text_bytes": \(bytes), "empty_skipped": \(empty), "malformed_skipped": \(skipped), "fim_psm": \(fimPSM), "fim_spm": \(fimSPM), "punctuation_newline_split": \(boundarySplits), "punctuation_newline_eligible": \(boundaryCandidates)}
    }

    """
}

/// `--shard I/N`.
struct Shard: ExpressibleByArgument, Equatable {
    var index: Int
    var count: Int
    init(index: Int, count: Int) { self.index = index; self.count = count }
    init?(argument: String) {
        let parts = argument.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        index = i
        count = n
    }
    var defaultValueDescription: String { "\(index)/\(count)" }
}

/// What `tokenize --resume` needs besides the partial files: where to continue and the counts so far.
struct ResumeState: Codable {
    var identity: String
    var batch = 0
    var documents = 0, tokens = 0, bytes = 0, empty = 0, skipped = 0, fimPSM = 0, fimSPM = 0
    /// Optional so that a checkpoint from before token-boundary randomization still reads.
    var boundarySplits: Int? = 0, boundaryCandidates: Int? = 0
    var batchDocuments: [Int] = []
}

/// The key of a document's seeded choices (FIM, token-boundary randomization): its input's position
/// in the input list and its line, so threads and shards do not change them.
func documentKey(_ doc: Document) -> UInt64 { fimDocumentKey(inputIndex: doc.inputIndex, line: doc.location.line ?? 0) }
