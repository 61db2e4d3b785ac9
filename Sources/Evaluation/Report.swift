// The bits-per-byte report: per-subset and overall sums, the bootstrap interval, and its JSON form.
// Definition (lm-evaluation-harness's `bits_per_byte`, Gao et al. 2020 §3.1):
//   BPB = Σ_docs Σ_scored tokens (−ln p) / (ln 2 · Σ_docs bytes), byte perplexity = 2^BPB,
// where bytes are the UTF-8 bytes of each document's original text (before any normalization), plus one
// per document for its end-of-text when that is scored. Sums run over documents (corpus level), so the
// overall row is byte-weighted, never a mean of subset figures.
// The 95% interval resamples documents with replacement (seeded SplitMix64) within each subset; the
// overall interval adds the subsets' resampled sums (stratified by subset), so it reflects the
// documents' spread, not the subsets' mix.
// Memory: 24 bytes per scored document (for the bootstrap) and R doubles per subset.
import CorpusIO
import Foundation
import Pipeline
import Training

/// The definition printed in `--help` and in the JSON.
public let bitsPerByteDefinition = "bpb = sum over scored tokens of -ln p(token | up to context tokens before it) / (ln 2 * UTF-8 bytes of the original text); byte_perplexity = 2^bpb; sums over documents (byte-weighted); the end-of-text token is scored only with score_eod, and then each document counts one extra byte for it"

/// The bytes a document contributes to the denominator: its text's UTF-8 bytes, plus one for the
/// end-of-text token when that token's loss is counted (a special token's loss never enters the
/// numerator without a byte in the denominator).
public func bpbDenominatorBytes(textBytes: Int, scoreEOD: Bool) -> Int { textBytes + (scoreEOD ? 1 : 0) }

/// Bits per byte of a loss sum in nats over `bytes` bytes.
public func bitsPerByte(nll: Double, bytes: Int) -> Double { bytes > 0 ? nll / (Double(bytes) * M_LN2) : .nan }

/// One row of the report.
public struct SubsetReport: Sendable {
    public var name: String
    public var documents = 0
    public var emptyDocuments = 0
    public var bytes = 0
    public var tokens = 0
    public var nll = 0.0
    public var ci95 = (Double.nan, Double.nan)
    /// Compressor name → BPB of its output, when baselines were computed.
    public var baselines: [(String, Double)]?

    public init(name: String) { self.name = name }
    public var bpb: Double { bitsPerByte(nll: nll, bytes: bytes) }
    public var bytesPerToken: Double { tokens > 0 ? Double(bytes) / Double(tokens) : .nan }
    public var bytePerplexity: Double { Foundation.pow(2, bpb) }
}

/// Collects per-document results and summarizes them.
public final class BPBAccumulator {
    private var names: [String] = []
    private var index: [String: Int] = [:]
    private var rows: [SubsetReport] = []
    /// Per subset, the scored documents' (bytes, nll).
    private var docs: [[(Int, Double)]] = []

    public init() {}

    private func slot(_ name: String) -> Int {
        if let i = index[name] { return i }
        index[name] = names.count
        names.append(name)
        rows.append(SubsetReport(name: name))
        docs.append([])
        return names.count - 1
    }

    /// Adds a scored document: `bytes` is its denominator (`bpbDenominatorBytes`).
    public func add(subset: String, bytes: Int, tokens: Int, nll: Double) {
        let i = slot(subset)
        rows[i].documents += 1; rows[i].bytes += bytes; rows[i].tokens += tokens; rows[i].nll += nll
        docs[i].append((bytes, nll))
    }

    /// Counts an empty document (no text, or no tokens), which is skipped.
    public func addEmpty(subset: String) { rows[slot(subset)].emptyDocuments += 1 }

    public var scoredDocuments: Int { rows.reduce(0) { $0 + $1.documents } }
    public var emptyDocuments: Int { rows.reduce(0) { $0 + $1.emptyDocuments } }

    /// The subset rows sorted by name (subsets with only empty documents included) and the overall row,
    /// with 95% bootstrap intervals from `resamples` resamples seeded by `seed`.
    /// - Complexity: O(resamples · documents).
    public func summarize(resamples: Int, seed: UInt64) -> (subsets: [SubsetReport], overall: SubsetReport) {
        let order = names.indices.sorted { names[$0] < names[$1] }
        var overall = SubsetReport(name: "overall")
        var overallNLL = [Double](repeating: 0, count: resamples), overallBytes = [Int](repeating: 0, count: resamples)
        var result: [SubsetReport] = []
        for (rank, i) in order.enumerated() {
            var row = rows[i]
            overall.documents += row.documents; overall.emptyDocuments += row.emptyDocuments
            overall.bytes += row.bytes; overall.tokens += row.tokens; overall.nll += row.nll
            let d = docs[i], n = d.count
            if n > 0 && resamples > 0 {
                // subtle: each subset's generator depends on the seed and the subset's rank by name only,
                // so adding another input never changes an existing subset's interval order of draws.
                var rng = SplitMix64(seed: seed &+ UInt64(rank + 1) &* 0x9E37_79B9_7F4A_7C15)
                var values = [Double](repeating: 0, count: resamples)
                for r in 0..<resamples {
                    var nll = 0.0, bytes = 0
                    for _ in 0..<n {
                        let (b, l) = d[Int(rng.next() % UInt64(n))]
                        nll += l; bytes += b
                    }
                    values[r] = bitsPerByte(nll: nll, bytes: bytes)
                    overallNLL[r] += nll; overallBytes[r] += bytes
                }
                row.ci95 = percentileInterval(values)
            }
            result.append(row)
        }
        if overall.documents > 0 && resamples > 0 {
            overall.ci95 = percentileInterval((0..<resamples).map { bitsPerByte(nll: overallNLL[$0], bytes: overallBytes[$0]) })
        }
        return (result, overall)
    }
}

/// The 2.5% and 97.5% percentiles (linear interpolation between order statistics, numpy's default).
func percentileInterval(_ values: [Double]) -> (Double, Double) {
    let s = values.sorted()
    func q(_ p: Double) -> Double {
        let pos = p * Double(s.count - 1), lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
    }
    return (q(0.025), q(0.975))
}

/// Everything the report states about how it was computed.
public struct BPBSettings: Sendable {
    public var model: String
    public var tokenizer: String
    public var normalization: String
    public var context: Int
    public var stride: Int
    public var scoreEOD: Bool
    public var resamples: Int
    public var seed: UInt64
    /// Where the tokenizer and the normalization came from (an option, or the run's training-data record).
    public var tokenizerSource: String?
    public var normalizationSource: String?
    public init(model: String, tokenizer: String, normalization: String, context: Int, stride: Int, scoreEOD: Bool,
                resamples: Int, seed: UInt64, tokenizerSource: String? = nil, normalizationSource: String? = nil) {
        self.model = model; self.tokenizer = tokenizer; self.normalization = normalization; self.context = context
        self.stride = stride; self.scoreEOD = scoreEOD; self.resamples = resamples; self.seed = seed
        self.tokenizerSource = tokenizerSource; self.normalizationSource = normalizationSource
    }
}

/// The report as one JSON object (keys in a fixed order; the demo report reads it).
public func bpbReportJSON(settings s: BPBSettings, subsets: [SubsetReport], overall: SubsetReport) -> String {
    func row(_ r: SubsetReport) -> String {
        var f = "{\"name\": \(encodeJSONString(r.name)), \"documents\": \(r.documents), \"empty_documents\": \(r.emptyDocuments), "
        f += "\"bytes\": \(r.bytes), \"tokens\": \(r.tokens), \"bytes_per_token\": \(jsonNumber(r.bytesPerToken)), "
        f += "\"nll_nats\": \(jsonNumber(r.nll)), \"bpb\": \(jsonNumber(r.bpb)), "
        f += "\"bpb_ci95\": [\(jsonNumber(r.ci95.0)), \(jsonNumber(r.ci95.1))], \"byte_perplexity\": \(jsonNumber(r.bytePerplexity))"
        if let b = r.baselines {
            f += ", \"baselines\": {" + b.map { "\(encodeJSONString($0.0)): \(jsonNumber($0.1))" }.joined(separator: ", ") + "}"
        }
        return f + "}"
    }
    var out = "{\n"
    out += "  \"definition\": \(encodeJSONString(bitsPerByteDefinition)),\n"
    out += "  \"model\": \(encodeJSONString(s.model)),\n  \"tokenizer\": \(encodeJSONString(s.tokenizer)),\n"
    out += "  \"normalization\": \(encodeJSONString(s.normalization)),\n"
    if let source = s.normalizationSource { out += "  \"normalization_source\": \(encodeJSONString(source)),\n" }
    out += "  \"context\": \(s.context),\n  \"stride\": \(s.stride),\n"
    out += "  \"score_eod\": \(s.scoreEOD),\n  \"bootstrap\": {\"resamples\": \(s.resamples), \"seed\": \(s.seed), \"strata\": \"subset\"},\n"
    out += "  \"subsets\": [\n" + subsets.map { "    " + row($0) }.joined(separator: ",\n") + (subsets.isEmpty ? "" : "\n") + "  ],\n"
    out += "  \"overall\": \(row(overall))\n}\n"
    return out
}

/// The readable report: the settings, then one row per subset and the overall row; with `baselines`,
/// the zstd -19 --long and xz -9e columns.
public func bpbReportTable(settings s: BPBSettings, subsets: [SubsetReport], overall: SubsetReport, baselines: Bool) -> String {
    // An option needs no explanation; the run's record is named.
    func from(_ source: String?) -> String {
        guard let source, !source.hasPrefix("--") else { return "" }
        return source == "not recorded" ? " (not recorded)" : " (from \(source))"
    }
    var out = "model \(s.model), tokenizer \(s.tokenizer)\(from(s.tokenizerSource)), normalization \(s.normalization)\(from(s.normalizationSource)), context \(s.context), stride \(s.stride)"
    out += s.scoreEOD ? ", end-of-text scored\n" : "\n"
    out += "bits per byte (95% bootstrap interval over documents)\n"
    var header = ["", "documents", "bytes", "tokens", "bytes/token", "BPB", "95% CI", "byte ppl"]
    var widths = [max(8, (subsets.map(\.name.count) + [7]).max()!), 11, 11, 10, 13, 8, 17, 10]
    if baselines { header += ["zstd-19 --long", "xz -9e"]; widths += [16, 8] }
    func row(_ r: SubsetReport) -> [String] {
        var cells = [r.name, formatCount(r.documents), formatCount(r.bytes), formatCount(r.tokens), String(format: "%.3f", r.bytesPerToken),
                     r.documents > 0 ? String(format: "%.4f", r.bpb) : "-",
                     r.ci95.0.isFinite ? String(format: "%.4f–%.4f", r.ci95.0, r.ci95.1) : "-",
                     r.documents > 0 ? String(format: "%.3f", r.bytePerplexity) : "-"]
        if baselines {
            let b = Dictionary(uniqueKeysWithValues: r.baselines ?? [])
            cells += [b["zstd -19 --long"].map { String(format: "%.4f", $0) } ?? "-", b["xz -9e"].map { String(format: "%.4f", $0) } ?? "-"]
        }
        if r.emptyDocuments > 0 { cells.append("  (\(r.emptyDocuments) empty)") }
        return cells
    }
    let table = TextTable(columns: widths.enumerated().map { .init($0.offset == 0 ? .left : .right, width: $0.element, grows: false) }, separator: "")
    let rows = [header] + subsets.map(row) + [row(overall)]
    return out + table.render(rows, rulesAfter: [0, rows.count - 2]).joined(separator: "\n") + "\n"
}

/// A JSON number; NaN and infinities (no data) become null.
func jsonNumber(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
