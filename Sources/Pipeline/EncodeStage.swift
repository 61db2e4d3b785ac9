// The encode stage: documents → one JSON line of token ids each, `{"ids":[...], <other fields>}`.
// Policy: a JSON record keeps its other fields byte for byte, in order; its text member is removed
// unless `keepText` (or the text field is nested, when it always stays). A plain-text document gives
// `{"ids":[...]}` (with `"text"` when `keepText`). With token-boundary randomization, each document's
// decisions depend only on the seed and its position (input, line), as in `tokenize`.
// Costs: one encoder per worker thread; the lines of a batch are about twice its text.
import CorpusIO
import FillInTheMiddle
import Tokenization

/// Encodes documents into JSON lines of ids.
public struct EncodeStage: DocumentStage {
    public let allowSpecial: Bool
    public let keepText: Bool
    public let textPath: [String]
    let randomizes: Bool
    let encoders: WorkerPool<TokenEncoder>

    /// `splitProbability` > 0 turns on DeepSeek-V3's token-boundary randomization, seeded by `seed`.
    public init(tokenizer: Tokenizer, textPath: [String], allowSpecial: Bool = false, keepText: Bool = false,
                splitProbability: Double = 0, seed: UInt64 = 0) {
        self.allowSpecial = allowSpecial
        self.keepText = keepText
        self.textPath = textPath
        randomizes = splitProbability > 0
        encoders = WorkerPool(tokenizer, splitProbability: splitProbability, seed: seed)
    }

    public struct Output: Sendable {
        public var lines: [UInt8] = []
        public var tokens = 0
        public init() {}
    }

    public func process(_ batch: DecodedBatch) throws -> Output {
        try encoders.withWorker { encoder in
            var out = Output()
            out.lines.reserveCapacity(batch.recordBytes * 2)
            for doc in batch.documents {
                if randomizes { encoder.startDocument(key: fimDocumentKey(inputIndex: doc.inputIndex, line: doc.location.line ?? 0)) }
                let ids = try encoder.encode(doc.text, allowSpecial: allowSpecial)
                out.tokens += ids.count
                appendIDsLine(doc, ids: ids, keepText: keepText, textPath: textPath, to: &out.lines)
            }
            return out
        }
    }
}

extension WorkerPool where State == TokenEncoder {
    /// Per-thread encoders of `tokenizer`, with token-boundary randomization at `splitProbability`
    /// seeded by `seed` (0: none).
    public convenience init(_ tokenizer: Tokenizer, splitProbability: Double = 0, seed: UInt64 = 0) {
        self.init {
            let e = try tokenizer.makeEncoder()
            e.splitPunctuationNewline = splitProbability
            e.seed = seed
            return e
        }
    }
}

/// The counts of an encode run.
public struct EncodeSummary: Sendable, Equatable {
    public var read = ReadTotals()
    public var tokens = 0
    public init() {}
    /// The summary line of `tokenmill encode` (without the time).
    public var line: String {
        let ratio = tokens > 0 ? Double(read.bytes) / Double(tokens) : 0
        var line = "encode: \(formatCount(read.documents)) documents, \(formatBytes(Int64(read.bytes))) → \(formatCount(tokens)) tokens (\(String(format: "%.3f", ratio)) bytes/token)"
        if read.skipped.total > 0 { line += ", \(formatCount(read.skipped.total)) skipped" }
        return line
    }
}

extension EncodeStage {
    /// Encodes every document of `reader` into `output` (not committed).
    public func run(reader: CorpusReader, output: OutputFile, runner: DocumentRunner) throws -> EncodeSummary {
        var summary = EncodeSummary()
        summary.read = try runner.run(self, reader: reader) { r in
            try output.write(r.lines)
            summary.tokens += r.tokens
        }
        return summary
    }
}

/// Appends `{"ids":[...], <the record's other fields>}` (or `{"ids":[...]}` for plain text).
public func appendIDsLine(_ doc: Document, ids: [Int32], keepText: Bool, textPath: [String], to out: inout [UInt8]) {
    out.append(contentsOf: "{\"ids\":[".utf8)
    for (k, id) in ids.enumerated() {
        if k > 0 { out.append(UInt8(ascii: ",")) }
        appendDecimal(Int(id), to: &out)
    }
    out.append(UInt8(ascii: "]"))
    if let record = doc.record {
        // A slice, so trimming moves its bounds instead of copying the record.
        var rest = (keepText || textPath.count != 1 ? record : removingMember(record, valueSpan: doc.textSpan))[...]
        // Drop the outer braces of the remaining object and append its members.
        while let f = rest.first, f == 0x20 || f == 0x09 { rest.removeFirst() }
        while let l = rest.last, l == 0x20 || l == 0x09 || l == 0x0D { rest.removeLast() }
        if rest.count >= 2, rest.first == UInt8(ascii: "{"), rest.last == UInt8(ascii: "}") {
            let inner = rest.dropFirst().dropLast()
            if inner.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }) {
                out.append(UInt8(ascii: ","))
                out.append(contentsOf: inner)
            }
        }
    } else if keepText {
        out.append(contentsOf: ",\"text\":".utf8)
        // subtle: \b and \f as \u0008 and \u000c, as encode has always written them.
        appendJSONString(doc.text, to: &out, controlEscapes: .unicode)
    }
    out.append(contentsOf: "}\n".utf8)
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
