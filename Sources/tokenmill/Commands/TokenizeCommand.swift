// `tokenmill tokenize`: documents → a Megatron-LM indexed dataset (PREFIX.bin + PREFIX.idx) with a
// manifest (PREFIX.json) saying what produced it.
import ArgumentParser
import CorpusIO
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
        counts. The three files appear only when complete. Memory: the tokenizer, 12 bytes per \
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
            let inputs = try expandInputs(input.inputs)
            let reader = CorpusReader(inputs: inputs, options: input.readOptions, warn: { printError($0) })
            let progress = progressOptions.makeReporter("tokenize")
            let pool = EncoderPool(tokenizer)
            let options = reader.options
            let allow = allowSpecial
            let writer = try IndexedDatasetWriter(prefix: output, dtype: element)
            var documents = 0, tokens = 0, bytes = 0, empty = 0, skipped = 0
            do {
                try orderedParallelMap(threads: progressOptions.workerThreads, next: { try reader.nextBatch() }, transform: { batch -> ([[Int32]], Int, DecodedBatch) in
                    var decoded = try decodeDocuments(batch, options: options)
                    let encoder = try pool.take()
                    defer { pool.give(encoder) }
                    var entries: [[Int32]] = []
                    entries.reserveCapacity(decoded.documents.count)
                    var b = 0
                    for doc in decoded.documents {
                        entries.append(try encoder.encode(doc.text, allowSpecial: allow))
                        b += doc.text.utf8.count
                    }
                    decoded.documents = []
                    return (entries, b, decoded)
                }, consume: { entries, b, decoded in
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
                })
                if element == .uint16 && writer.maxID >= 65_500 && dtype == .auto {
                    throw RuntimeFailure(description: "\(output).bin: id \(writer.maxID) does not fit megatron-core's uint16 rule (below 65,500)")
                }
                let manifest = tokenizeManifest(tokenizerPath: tokenizerOptions.path, tokenizerHash: try sha256(ofFile: tokenizerFile(tokenizerOptions.path)),
                                                vocabulary: vocabulary, inputs: inputs, dtype: element, eod: eod, allowSpecial: allow,
                                                textField: options.textField, documents: documents, tokens: tokens, bytes: bytes,
                                                empty: empty, skipped: skipped)
                let manifestFile = try OutputFile(path: output + ".json", compress: false)
                try manifestFile.write(Array(manifest.utf8))
                try writer.finish()
                try manifestFile.commit()
            } catch {
                writer.abandon()
                progress.finish()
                throw error
            }
            progress.finish()
            printError("tokenize: \(formatCount(documents)) documents, \(formatBytes(Int64(bytes))) → \(formatCount(tokens)) tokens (\(element), \(eod.map { "EOD \($0.id) appended" } ?? "no EOD")) in \(output).bin/.idx" +
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

private func jsonQuote(_ s: String) -> String {
    var out: [UInt8] = []
    var t = s
    t.withUTF8 { appendJSONString(UnsafeRawBufferPointer($0), to: &out) }
    return String(decoding: out, as: UTF8.self)
}

func tokenizeManifest(tokenizerPath: String, tokenizerHash: String, vocabulary: Int, inputs: [String], dtype: IndexedDType,
                      eod: (text: String, id: Int32)?, allowSpecial: Bool, textField: String, documents: Int, tokens: Int,
                      bytes: Int, empty: Int, skipped: Int) -> String {
    """
    {
      "format": "megatron-indexed-dataset",
      "tokenmill_version": \(jsonQuote(TokenMill.configuration.version)),
      "tokenizer": {"path": \(jsonQuote(tokenizerPath)), "sha256": "\(tokenizerHash)", "vocabulary_size": \(vocabulary)},
      "inputs": [\(inputs.map(jsonQuote).joined(separator: ", "))],
      "options": {"dtype": "\(dtype)", "append_eod": \(eod != nil), "eod_token": \(eod.map { jsonQuote($0.text) } ?? "null"), "eod_id": \(eod.map { String($0.id) } ?? "null"), "allow_special": \(allowSpecial), "text_field": \(jsonQuote(textField))},
      "counts": {"documents": \(documents), "tokens": \(tokens), "text_bytes": \(bytes), "empty_skipped": \(empty), "malformed_skipped": \(skipped)}
    }

    """
}
