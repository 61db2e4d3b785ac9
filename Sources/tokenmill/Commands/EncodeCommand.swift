// `tokenmill encode`: documents → one JSON line of token ids each, streaming, on all cores, in order.
// Also holds what the tokenizer commands share: `TokenizerOptions` and the per-thread encoder pool.
import ArgumentParser
import CorpusIO
import Foundation
import Tokenization

extension PreTokenizerPreset: ExpressibleByArgument {}

/// Which tokenizer to load: shared by encode, decode and tokenizer-stats.
struct TokenizerOptions: ParsableArguments {
    @Option(name: .customLong("tokenizer"), help: "The tokenizer: a tokenizer.json, a vocab.json (with merges.txt beside it), a .tiktoken file, or a directory holding one.")
    var path: String

    @Option(help: "The pre-tokenizer of a .tiktoken file whose name does not imply one (gpt2, cl100k, o200k, llama3, qwen2, deepseek-v3).")
    var pretokenizer: PreTokenizerPreset?

    /// Loads the tokenizer; a missing choice (a .tiktoken file without --pretokenizer) is a usage error.
    func load() throws -> Tokenizer { try Self.load(path: path, preset: pretokenizer) }

    /// `Tokenizer.load` with its usage errors as argument-parser's (exit 64); for commands whose
    /// tokenizer path may come from elsewhere (`bpb --run`).
    static func load(path: String, preset: PreTokenizerPreset?) throws -> Tokenizer {
        do { return try Tokenizer.load(path: path, preset: preset) } catch TokenizerError.usage(let m) { throw ValidationError(m) }
    }
}

/// Per-thread encoders, handed out and returned by the workers.
final class EncoderPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [TokenEncoder] = []
    let tokenizer: Tokenizer
    let splitProbability: Double
    let seed: UInt64
    init(_ tokenizer: Tokenizer, splitProbability: Double = 0, seed: UInt64 = 0) {
        self.tokenizer = tokenizer
        self.splitProbability = splitProbability
        self.seed = seed
    }
    func take() throws -> TokenEncoder {
        lock.lock(); defer { lock.unlock() }
        if let e = free.popLast() { return e }
        let e = try tokenizer.makeEncoder()
        e.splitPunctuationNewline = splitProbability
        e.seed = seed
        return e
    }
    func give(_ e: TokenEncoder) { lock.lock(); free.append(e); lock.unlock() }
}

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode documents into token ids, one JSON line {\"ids\": [...]} per document, in input order.",
        discussion: """
        Example: tokenmill encode --tokenizer tokenizer.json -o ids.jsonl.zst corpora/test.jsonl.zst

        JSON records keep their other fields; the text field is replaced by "ids" (--keep-text keeps \
        it, and so does a nested --text-field). --split-punctuation-newline P with --seed S encodes \
        pre-tokens that join punctuation and line breaks as two parts with probability P \
        (DeepSeek-V3's token-boundary randomization); the decisions depend only on S and the document's \
        position (input, line), as in `tokenmill tokenize`, which gives the same ids. Special tokens' text is encoded as ordinary text unless --allow-special is given; added \
        tokens that are not special are always recognized, as in Hugging Face tokenizers. Memory: the \
        tokenizer plus about 2 × threads batches of 1 MiB.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: [.short, .long], help: "The output file (.jsonl or .jsonl.zst); stdout when omitted or '-'.")
    var output: String?

    @Flag(help: "Recognize special tokens (like <|endoftext|>) in the text.")
    var allowSpecial = false

    @Flag(help: "Keep the text field next to the ids.")
    var keepText = false

    @Option(name: .customLong("split-punctuation-newline"), help: "Token-boundary randomization (DeepSeek-V3): the probability (0 to 1) of encoding a pre-token that joins punctuation and line breaks as its two parts.")
    var splitProbability: Double = 0

    @Option(help: "Seed of the token-boundary randomization; the same seed gives byte-identical output.")
    var seed: UInt64 = 0

    func validate() throws {
        if !(0 ... 1).contains(splitProbability) { throw ValidationError("--split-punctuation-newline must be between 0 and 1.") }
    }

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            let reader = try input.makeReader()
            let progress = progressOptions.makeReporter("encode")
            let pool = EncoderPool(tokenizer, splitProbability: splitProbability, seed: seed)
            let out = try OutputFile(path: output)
            let options = reader.options
            let textPath = options.textPath
            let allow = allowSpecial, keep = keepText, split = splitProbability > 0
            var documents = 0, tokens = 0, bytes = 0, skipped = 0
            try writing(to: out, progress: progress) {
                try orderedParallelMap(threads: progressOptions.workerThreads, next: { try reader.nextBatch() }, transform: { batch -> ([UInt8], Int, Int, Int, DecodedBatch) in
                    var decoded = try decodeDocuments(batch, options: options)
                    let encoder = try pool.take()
                    defer { pool.give(encoder) }
                    var lines: [UInt8] = []
                    lines.reserveCapacity(batch.bytes.count * 2)
                    var t = 0, b = 0
                    for doc in decoded.documents {
                        if split { encoder.startDocument(key: documentKey(doc)) }
                        let ids = try encoder.encode(doc.text, allowSpecial: allow)
                        t += ids.count
                        b += doc.text.utf8.count
                        appendIDsLine(doc, ids: ids, keepText: keep, textPath: textPath, to: &lines)
                    }
                    let n = decoded.documents.count
                    decoded.documents = []
                    return (lines, n, t, b, decoded)
                }, consume: { lines, n, t, b, decoded in
                    try out.write(lines)
                    documents += n; tokens += t; bytes += b
                    skipped += decoded.skipped.values.reduce(0, +)
                    for e in decoded.skipErrors { printError("warning: skipped \(e)") }
                    progress.update(documents: documents, bytes: Int64(bytes))
                })
            }
            let ratio = tokens > 0 ? Double(bytes) / Double(tokens) : 0
            var line = "encode: \(formatCount(documents)) documents, \(formatBytes(Int64(bytes))) → \(formatCount(tokens)) tokens (\(String(format: "%.3f", ratio)) bytes/token)"
            if skipped > 0 { line += ", \(formatCount(skipped)) skipped" }
            printError(line + String(format: "; %.2f s", progress.elapsed))
        }
    }
}

/// Appends `{"ids":[...], <the record's other fields>}` (or `{"ids":[...]}` for plain text).
func appendIDsLine(_ doc: Document, ids: [Int32], keepText: Bool, textPath: [String], to out: inout [UInt8]) {
    out.append(contentsOf: Array("{\"ids\":[".utf8))
    for (k, id) in ids.enumerated() {
        if k > 0 { out.append(UInt8(ascii: ",")) }
        appendDecimal(Int(id), to: &out)
    }
    out.append(UInt8(ascii: "]"))
    if let record = doc.record {
        var rest = keepText || textPath.count != 1 ? record : removingMember(record, valueSpan: doc.textSpan)
        // Drop the outer braces of the remaining object and append its members.
        while let f = rest.first, f == 0x20 || f == 0x09 { rest.removeFirst() }
        while let l = rest.last, l == 0x20 || l == 0x09 || l == 0x0D { rest.removeLast() }
        if rest.count >= 2, rest.first == UInt8(ascii: "{"), rest.last == UInt8(ascii: "}") {
            let inner = rest[1 ..< rest.count - 1]
            if inner.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }) {
                out.append(UInt8(ascii: ","))
                out.append(contentsOf: inner)
            }
        }
    } else if keepText {
        out.append(contentsOf: Array(",\"text\":".utf8))
        out.append(contentsOf: jsonStringLiteral(doc.text))
    }
    out.append(contentsOf: Array("}\n".utf8))
}

/// Appends the decimal digits of a non-negative integer (no String allocation per token).
@inline(__always) func appendDecimal(_ value: Int, to out: inout [UInt8]) {
    if value < 10 { out.append(UInt8(48 + value)); return }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var v = value, n = 0
    withUnsafeMutableBytes(of: &digits) { d in
        while v > 0 { d[n] = UInt8(48 + v % 10); v /= 10; n += 1 }
        while n > 0 { n -= 1; out.append(d[n]) }
    }
}

/// The record without the member whose value spans `valueSpan` (key, colon, value and one comma).
func removingMember(_ record: [UInt8], valueSpan: Range<Int>) -> [UInt8] {
    func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
    var i = valueSpan.lowerBound - 1
    while i >= 0 && isSpace(record[i]) { i -= 1 }
    guard i >= 0, record[i] == UInt8(ascii: ":") else { return record }
    i -= 1
    while i >= 0 && isSpace(record[i]) { i -= 1 }
    guard i >= 0, record[i] == UInt8(ascii: "\"") else { return record }
    i -= 1
    while i >= 0 && !(record[i] == UInt8(ascii: "\"") && (i == 0 || record[i - 1] != UInt8(ascii: "\\"))) { i -= 1 }
    guard i >= 0 else { return record }
    let keyStart = i
    var j = keyStart - 1
    while j >= 0 && isSpace(record[j]) { j -= 1 }
    guard j >= 0 else { return record }
    if record[j] == UInt8(ascii: ",") {
        return Array(record[..<j]) + Array(record[valueSpan.upperBound...])
    }
    // First member: also drop the comma after the value.
    var k = valueSpan.upperBound
    while k < record.count && isSpace(record[k]) { k += 1 }
    if k < record.count && record[k] == UInt8(ascii: ",") { k += 1 }
    return Array(record[..<keyStart]) + Array(record[k...])
}

/// A JSON string literal for `s`.
func jsonStringLiteral(_ s: String) -> [UInt8] {
    var out: [UInt8] = [0x22]
    for b in s.utf8 {
        switch b {
        case 0x22: out += [0x5C, 0x22]
        case 0x5C: out += [0x5C, 0x5C]
        case 0x0A: out += [0x5C, UInt8(ascii: "n")]
        case 0x0D: out += [0x5C, UInt8(ascii: "r")]
        case 0x09: out += [0x5C, UInt8(ascii: "t")]
        case 0 ..< 0x20:
            let hex = Array("0123456789abcdef".utf8)
            out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]]
        default: out.append(b)
        }
    }
    out.append(0x22)
    return out
}
