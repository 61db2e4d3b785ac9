// The tokenize stage: documents → a Megatron-LM indexed dataset (PREFIX.bin + PREFIX.idx) and its
// manifest PREFIX.json (`TokenizedDatasetManifest`).
// Policy: each non-empty document is one entry (one sequence) with the end-of-text token appended;
// fill-in-the-middle and token-boundary randomization depend only on the seed and the document's
// position (input ordinal in the whole list, line), so threads and shards do not change the output. A
// shard reads only its contiguous range of whole input files (CorpusIO's `InputShardPlan`: balanced by
// size on disk), so shards merged in shard order are one run's documents in one run's order; with fewer
// input files than shards it is a usage error (split the input first). With `resume`, a run continues
// from the checkpoint (hidden .PREFIX.*.partial files and .PREFIX.resume.json.partial) of a killed run
// with the same identity, byte-identical to one run.
// Cost: the tokenizer, 12 bytes per document for the index, about 2 × threads batches of 1 MiB in
// flight. The batches go through CorpusIO's `orderedParallelMap` directly (the reader loop skips the
// batches a resumed run already wrote); each worker borrows an encoder from the one `WorkerPool`.
import CorpusIO
import FillInTheMiddle
import Foundation
import Packing
import Tokenization

/// What `tokenize` does besides the tokenizer and the inputs.
public struct TokenizeOptions: Sendable {
    public var appendEOD = true
    /// The end-of-text token's text (nil: the tokenizer's <|endoftext|>, <｜end▁of▁sentence｜>, …).
    public var eodToken: String?
    public var allowSpecial = false
    /// The element type (nil: megatron-core's rule, uint16 below 65,500 ids, else int32).
    public var dtype: IndexedDType?
    public var fim = FIMConfig()
    /// The FIM sentinels BEGIN, HOLE, END (nil: the tokenizer's usual names).
    public var fimTokens: [String]?
    /// Token-boundary randomization: the probability of splitting a punctuation + line-break pre-token.
    public var splitPunctuationNewline = 0.0
    public var shard: Shard?
    public var resume = false
    /// Input batches between resume checkpoints.
    public var checkpointEvery = 32
    public var threads = 1
    public var read = ReadOptions()
    public init() {}
}

/// The tokenize stage for one tokenizer and its options, with the end-of-text token, FIM sentinels and
/// element type resolved.
public struct TokenizeStage: Sendable {
    public let tokenizer: Tokenizer
    /// The tokenizer as given (a file, or a directory holding tokenizer.json or vocab.json).
    public let tokenizerPath: String
    public let options: TokenizeOptions
    public let eod: TokenizedDatasetManifest.Options.EndOfText?
    public let fimTokens: FIMTokens
    public let fimNames: [String]
    public let dtype: IndexedDType

    /// Resolves the end-of-text token, the FIM sentinels (when `fim.rate` > 0) and the element type.
    /// - Throws: `StageError.usage` when one is not a single token of this tokenizer or the ids do not fit.
    public init(tokenizer: Tokenizer, tokenizerPath: String, options: TokenizeOptions) throws(StageError) {
        self.tokenizer = tokenizer
        self.tokenizerPath = tokenizerPath
        self.options = options
        let vocabulary = tokenizer.vocabularySize
        if options.appendEOD {
            guard let found = tokenizer.endOfText(named: options.eodToken) else {
                throw StageError(.usage, Tokenizer.missingEndOfText(named: options.eodToken, hint: "name one with --eod-token or pass --no-append-eod"))
            }
            eod = .init(token: found.token, id: Int32(found.id))
        } else {
            eod = nil
        }
        dtype = options.dtype ?? .optimal(vocabularySize: vocabulary)
        if dtype == .uint16 && vocabulary > 65_536 {
            throw StageError(.usage, "--dtype uint16 cannot hold the ids of a \(vocabulary)-token vocabulary.")
        }
        if options.fim.rate > 0 {
            (fimTokens, fimNames) = try Self.resolveFIMTokens(tokenizer, names: options.fimTokens)
        } else {
            (fimTokens, fimNames) = (FIMTokens(begin: 0, hole: 0, end: 0), [])
        }
    }

    /// The FIM sentinels' ids, from `names` or the tokenizer's usual names.
    static func resolveFIMTokens(_ tokenizer: Tokenizer, names given: [String]?) throws(StageError) -> (FIMTokens, [String]) {
        let families: [[String]] = given.map { [$0] } ?? [
            ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"],
            ["<|fim_begin|>", "<|fim_hole|>", "<|fim_end|>"],
            ["<fim_prefix>", "<fim_suffix>", "<fim_middle>"],
            ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"],
        ]
        for names in families {
            let ids = names.compactMap { tokenizer.singleTokenID($0) }
            if ids.count == 3 { return (FIMTokens(begin: Int32(ids[0]), hole: Int32(ids[1]), end: Int32(ids[2])), names) }
        }
        throw StageError(.usage, given.map { "--fim-tokens \($0.joined(separator: ",")): not all three are single tokens of this tokenizer." }
            ?? "--fim-rate needs FIM tokens, and this tokenizer has none of <｜fim▁begin｜>, <|fim_begin|>, <fim_prefix> (and their partners); name them with --fim-tokens or train the tokenizer with them as special tokens.")
    }

    /// What decides the output besides the input bytes, encoded with sorted keys: the resume identity
    /// hashes this (a checkpoint resumes only a run with the same one). It is stored only in the hidden
    /// .PREFIX.resume.json.partial, never in an output; a checkpoint of a TokenMill that built the
    /// identity from Swift's debug descriptions is refused like one of other options.
    struct Identity: Encodable {
        var tokenizerSHA256: String
        var inputs: [String]
        var dtype: String
        var eodID: Int32?
        var allowSpecial: Bool
        var fimRate: Double, fimSPMRate: Double, seed: UInt64
        var fimTokens: [String]
        var shard: Shard?
        /// How a shard takes its part: "files" (whole input files); absent without a shard. A checkpoint of
        /// a shard that took every N-th batch (TokenMill before file ranges) lacks it, so it is refused.
        var shardRule: String?
        var textField: String, invalidUTF8: String, onError: String, textLayout: String
        var splitPunctuationNewline: Double
    }

    /// The resume identity: the SHA-256 (hex) of the encoded `Identity` of a run over `inputs`.
    public func resumeIdentity(inputs: [String], tokenizerSHA256: String) -> String {
        let read = options.read
        let identity = Identity(tokenizerSHA256: tokenizerSHA256, inputs: inputs, dtype: "\(dtype)", eodID: eod?.id, allowSpecial: options.allowSpecial,
                                fimRate: options.fim.rate, fimSPMRate: options.fim.spmRate, seed: options.fim.seed, fimTokens: fimNames,
                                shard: options.shard, shardRule: options.shard == nil ? nil : "files", textField: read.textField, invalidUTF8: read.invalidUTF8.rawValue,
                                onError: read.onError.rawValue, textLayout: read.textLayout.rawValue,
                                splitPunctuationNewline: options.splitPunctuationNewline)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let hasher = SHA256()
        hasher.update(Array(try! encoder.encode(identity)))
        return hasher.hexDigest()
    }

    /// Encodes one decoded batch: FIM and token-boundary randomization by each document's key.
    private func encode(_ decoded: DecodedBatch, index: Int, encoder: TokenEncoder) throws -> EncodedBatch {
        let allow = options.allowSpecial, fim = options.fim, split = options.splitPunctuationNewline
        let splitsBefore = encoder.randomizedSplits, candidatesBefore = encoder.randomizationCandidates
        var out = EncodedBatch(index: index, skipped: decoded.skipped.values.reduce(0, +), skipErrors: decoded.skipErrors)
        out.entries.reserveCapacity(decoded.documents.count)
        for doc in decoded.documents {
            out.bytes += doc.text.utf8.count
            let key = fimDocumentKey(inputIndex: doc.inputIndex, line: doc.location.line ?? 0)
            if split > 0 { encoder.startDocument(key: key) }  // the FIM parts continue one stream
            if !doc.text.isEmpty, let plan = fimPlan(fim, key: key, scalarCount: doc.text.unicodeScalars.count) {
                let (prefix, middle, suffix) = fimSplit(doc.text, plan)
                out.entries.append(fimAssemble(prefix: try encoder.encode(prefix, allowSpecial: allow),
                                               middle: try encoder.encode(middle, allowSpecial: allow),
                                               suffix: try encoder.encode(suffix, allowSpecial: allow),
                                               tokens: fimTokens, order: plan.order))
                if plan.order == .psm { out.fimPSM += 1 } else { out.fimSPM += 1 }
            } else {
                out.entries.append(try encoder.encode(doc.text, allowSpecial: allow))
            }
        }
        out.boundarySplits = encoder.randomizedSplits - splitsBefore
        out.boundaryCandidates = encoder.randomizationCandidates - candidatesBefore
        return out
    }

    /// Where `tokenize --resume` continues: the input batch and the manifest's counts so far.
    struct ResumeState: Codable {
        var identity: String
        var batch = 0
        var counts = TokenizedDatasetManifest.Counts()
    }

    /// Tokenizes `inputs` (expanded paths) into PREFIX.bin/.idx/.json.
    /// - Parameters:
    ///   - version: the TokenMill version the manifest records.
    ///   - note: receives warnings (one line each, for stderr).
    ///   - resumed: called with the input batch and the documents written when a run resumes.
    ///   - progress: documents and text bytes so far, after each batch.
    /// - Returns: the manifest written.
    public func run(inputs: [String], output: String, version: String, note: @escaping (String) -> Void,
                    resumed: (_ batch: Int, _ documents: Int) -> Void = { _, _ in },
                    progress: (_ documents: Int, _ bytes: Int64) -> Void = { _, _ in }) throws -> TokenizedDatasetManifest {
        let options = self.options
        var plan: InputShardPlan? = nil
        if let shard = options.shard {
            do { plan = try InputShardPlan(inputs: inputs, index: shard.index, count: shard.count) }
            catch { throw StageError(error.isUsage ? .usage : .data, error.message) }
        }
        let reader = CorpusReader(inputs: inputs, files: plan?.files, options: options.read, warn: note)
        let read = reader.options
        let encoders = WorkerPool<TokenEncoder>(tokenizer, splitProbability: options.splitPunctuationNewline, seed: options.fim.seed)
        let allow = options.allowSpecial, fim = options.fim, split = options.splitPunctuationNewline
        let tokenizerHash = try sha256(ofFile: tokenizerSourceFile(tokenizerPath))
        let identity = resumeIdentity(inputs: inputs, tokenizerSHA256: tokenizerHash)
        // 1. One writer per prefix, taken before any checkpoint file is read or removed.
        let prefixLock = try OutputLock(output: output)
        defer { prefixLock.release() }
        let resumePath = OutputFile.partialPath(output + ".resume.json")
        var state = ResumeState(identity: identity)
        var checkpoint: IndexedDatasetWriter.Checkpoint? = nil
        if options.resume {
            if let data = FileManager.default.contents(atPath: resumePath) {
                guard let saved = try? JSONDecoder().decode(ResumeState.self, from: data) else {
                    throw StageError(.data, "\(resumePath): unreadable checkpoint; run again without --resume")
                }
                guard saved.identity == identity else {
                    throw StageError(.usage, "--resume: the unfinished run used another tokenizer, inputs or options; run again without --resume to start over.")
                }
                // The journal may hold one block more than the state if the run stopped between the two
                // writes: the checkpoint is the one at the state's document count.
                guard let c = try IndexedDatasetWriter.loadCheckpoint(prefix: output, documents: saved.counts.documents) else {
                    throw StageError(.data, "\(output): the partial files do not match the checkpoint; run again without --resume")
                }
                checkpoint = c
                state = saved
                resumed(saved.batch, saved.counts.documents)
            } else {
                note("warning: \(output): no unfinished run to resume; starting from the beginning")
            }
        }
        if checkpoint == nil {  // a fresh run: no stale checkpoint may outlive it
            IndexedDatasetWriter.removeCheckpoint(prefix: output)
            unlink(resumePath)
        }
        let writer = try IndexedDatasetWriter(prefix: output, dtype: dtype, resumable: true, resumeFrom: checkpoint)
        var batchIndex = 0, sinceCheckpoint = 0
        let resumeBatch = state.batch, shard = options.shard, eod = self.eod
        do {
            // 2. Encode batches in parallel, write them in order.
            try orderedParallelMap(threads: options.threads, next: { () -> (Int, RecordBatch)? in
                // Batch boundaries depend only on the input bytes (and never cross a file), so a resumed
                // run skips exactly the batches it wrote.
                while let batch = try reader.nextBatch() {
                    defer { batchIndex += 1 }
                    if batchIndex < resumeBatch { continue }
                    return (batchIndex, batch)
                }
                return nil
            }, transform: { (index, batch) -> EncodedBatch in
                let decoded = try decodeDocuments(batch, options: read)
                return try encoders.withWorker { try self.encode(decoded, index: index, encoder: $0) }
            }, consume: { batch in
                state.counts.fimPSM += batch.fimPSM
                state.counts.fimSPM += batch.fimSPM
                state.counts.punctuationNewlineSplit += batch.boundarySplits
                state.counts.punctuationNewlineEligible += batch.boundaryCandidates
                for var ids in batch.entries {
                    if ids.isEmpty { state.counts.emptySkipped += 1; continue }
                    if let eod { ids.append(eod.id) }
                    try writer.addDocument(ids)
                    state.counts.documents += 1
                    state.counts.tokens += ids.count
                }
                state.counts.textBytes += batch.bytes
                state.counts.malformedSkipped += batch.skipped
                for e in batch.skipErrors { note("warning: skipped \(e)") }
                progress(state.counts.documents, Int64(state.counts.textBytes))
                sinceCheckpoint += 1
                if sinceCheckpoint >= options.checkpointEvery {  // the index, then the state that refers to it
                    sinceCheckpoint = 0
                    try writer.checkpoint()
                    state.batch = batch.index + 1
                    try writeFileAtomically(Array(try JSONEncoder().encode(state)), to: resumePath)
                }
            })
            if dtype == .uint16 && writer.maxID >= 65_500 && options.dtype == nil {
                throw StageError(.data, "\(output).bin: id \(writer.maxID) does not fit megatron-core's uint16 rule (below 65,500)")
            }
            // 3. The manifest, after the data files are committed.
            let manifest = TokenizedDatasetManifest(
                tokenmillVersion: version,
                tokenizer: TokenizerRecord(path: tokenizerPath, sha256: tokenizerHash, vocabularySize: tokenizer.vocabularySize),
                inputs: inputs, normalization: NormalizedCorpusManifest.commonNormalization(ofCorpusFiles: inputs, warn: note),
                options: .init(dtype: dtype, eod: eod, allowSpecial: allow, textField: read.textField, fimRate: fim.rate, fimSPMRate: fim.spmRate,
                               fimTokens: fimNames, splitPunctuationNewline: split, seed: fim.seed),
                shard: shard.map { .init(index: $0.index, count: $0.count, files: plan?.files, inputBytes: reader.inputBytesRead) }, counts: state.counts)
            try writer.finish()
            try manifest.write(prefix: output)
            unlink(resumePath)
            return manifest
        } catch {
            writer.abandon()
            IndexedDatasetWriter.removeCheckpoint(prefix: output)
            unlink(resumePath)
            throw error
        }
    }
}

/// One input batch, encoded.
struct EncodedBatch: Sendable {
    var index: Int
    var entries: [[Int32]] = []
    var bytes = 0
    var fimPSM = 0, fimSPM = 0
    var boundarySplits = 0, boundaryCandidates = 0
    var skipped: Int
    var skipErrors: [CorpusError]
}

extension Tokenizer {
    /// The id of `text` when this tokenizer encodes it (special tokens allowed) as exactly one token.
    public func singleTokenID(_ text: String) -> Int? {
        if let id = addedTokenID(text) { return id }
        guard let ids = try? encode(text, allowSpecial: true), ids.count == 1 else { return nil }
        return ids[0]
    }

    /// The end-of-text tokens looked for, in order, when none is named: GPT-2/tiktoken's, DeepSeek's,
    /// Llama 3's, SentencePiece's and Gemma's.
    public static let endOfTextCandidates = ["<|endoftext|>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>", "<eos>"]

    /// The end-of-text token: `named` when given (nil unless it is a single token), else the first of
    /// `endOfTextCandidates` this tokenizer has as a single token.
    public func endOfText(named: String? = nil) -> (token: String, id: Int)? {
        let candidates = named.map { [$0] } ?? Tokenizer.endOfTextCandidates
        return candidates.lazy.compactMap { t in self.singleTokenID(t).map { (token: t, id: $0) } }.first
    }

    /// The message for a tokenizer without the end-of-text token `named` (or any of the candidates).
    public static func missingEndOfText(named: String?, hint: String) -> String {
        named.map { "--eod-token \($0) is not a single token of this tokenizer." }
            ?? "The tokenizer has no end-of-text token (<|endoftext|>, <｜end▁of▁sentence｜>, <|end_of_text|>, </s>); \(hint)."
    }
}

/// The file whose bytes identify a tokenizer given as a file or a directory.
public func tokenizerSourceFile(_ path: String) -> String {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return path }
    for name in ["tokenizer.json", "vocab.json"] where FileManager.default.fileExists(atPath: path + "/" + name) { return path + "/" + name }
    return path
}
