// The figures of a demo report, read from a demo directory (the files `tokenmill demo` writes; see
// `DemoLayout`), and written as report.json. A missing file leaves its figure out (the page says
// which file is missing); a malformed one is an error naming the file and line.
// Cost: reads every file whole; metrics.jsonl grows by one line per logged step (a 10-minute run: a
// few hundred lines).
// The Report library: the CLI's `report` and `demo` call it, and Tests/ReportTests renders committed
// fixture inputs and compares the output with committed expected files (snapshot tests).
import CorpusIO
import Foundation
import Pipeline

/// Where `tokenmill demo` puts things inside its output directory.
public enum DemoLayout {
    public static let record = "demo.json"
    public static let stamps = ".stages"
    public static let logs = "logs"
    public static let trainNormalized = "train.nfkc.jsonl.zst"
    public static let testNormalized = "test.nfkc.jsonl.zst"
    public static let tokenizer = "tokenizer.json"
    public static let tokenizerStats = "tokenizer-stats.json"
    public static let tokenized = "train"
    public static let packed = "train.packed"
    public static let run = "run"
    public static let metrics = "run/metrics.jsonl"
    public static let runConfig = "run/checkpoint/tokenmill.json"
    public static let bpb = "bpb.json"
    public static let reportHTML = "report.html"
    public static let reportJSON = "report.json"
}

/// A malformed input of the report (naming the file and line), or a report that cannot be written.
public struct ReportError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Bytes per token of one subset of the test split.
public struct TokenizerRow {
    public var name: String
    public var documents: Int
    public var bytes: Int
    public var tokens: Int
    public var bytesPerToken: Double { tokens > 0 ? Double(bytes) / Double(tokens) : 0 }
}

/// One packing strategy's outcome on the training documents.
public struct PackingRow {
    public var documents = 0, tokens = 0, rows = 0, truncatedDocuments = 0, paddingTokens = 0
    public var truncatedShare = 0.0, paddingShare = 0.0
}

/// One logged training step.
public struct LossPoint {
    public var step: Int
    public var tokens: Double
    public var loss: Double
    public var main: Double
    public var mtp: [Double]
}

/// Expert load of one MoE layer over each log window (the steps since the previous logged step).
public struct ExpertLayerSeries {
    public var layer: Int
    public var tokens: [Double] = []
    /// Tokens routed to each expert over each log window, when the metrics carry them ("loads").
    public var loads: [[Int]] = []
    public var maxOverMin: [Double] = []
    public var biasMin: [Double] = []
    public var biasMax: [Double] = []
}

/// One row of the bits-per-byte table.
public struct BPBRow {
    public var name: String
    public var documents: Int
    public var bytes: Int
    public var tokens: Int
    public var bpb: Double
    public var interval: (Double, Double)?
    public var baselines: [(String, Double)]
}

/// Everything the report shows.
public struct ReportData {
    public var title = "TokenMill demo report"
    public var settings: [(String, String)] = []
    public var stages: [(name: String, seconds: Double, reused: Bool, summary: String)] = []
    /// Dedup and decontamination (CleaningSection.swift).
    public var cleaning: CleaningFigures?
    public var tokenizerSummary: [(String, String)] = []
    public var tokenizerRows: [TokenizerRow] = []
    public var tokenizerOverall: TokenizerRow?
    public var packingSeqLen = 0
    public var packing: [(String, PackingRow)] = []
    public var validationRows: PackingRow?
    public var losses: [LossPoint] = []
    public var validation: [(step: Int, tokens: Double, loss: Double)] = []
    public var experts: [ExpertLayerSeries] = []
    public var expertsPerLayer = 0
    public var bpbDefinition = ""
    public var bpbRows: [BPBRow] = []
    public var bpbOverall: BPBRow?
    /// Present when the run trained in FP8 (FP8Section.swift).
    public var fp8: FP8Summary?
    /// Figures left out, with the reason (e.g. "bpb.json is missing").
    public var missing: [String: String] = [:]
}

// MARK: - Reading a demo directory

private func readJSONObject(_ path: String) throws -> [String: Any]? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw ReportError(description: "\(path): not a JSON object")
    }
    return object
}

private func int(_ v: Any?) -> Int? { (v as? NSNumber)?.intValue }
private func double(_ v: Any?) -> Double? { (v as? NSNumber)?.doubleValue }

extension ReportData {
    /// Reads the figures of the demo directory `dir`.
    public static func load(directory dir: String) throws -> ReportData {
        var r = ReportData()
        func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

        // 1. Settings and stage timings (demo.json).
        if let record = try readJSONObject(path(DemoLayout.record)) {
            for pair in record["settings"] as? [[Any]] ?? [] where pair.count == 2 {
                r.settings.append(("\(pair[0])", "\(pair[1])"))
            }
            for s in record["stages"] as? [[String: Any]] ?? [] {
                r.stages.append((s["name"] as? String ?? "?", double(s["seconds"]) ?? 0, s["reused"] as? Bool ?? false, s["summary"] as? String ?? ""))
            }
            r.cleaning = try CleaningFigures(demoRecord: record["cleaning"], path: path(DemoLayout.record))
        } else { r.missing["settings"] = "\(DemoLayout.record) is missing" }

        // 2. Tokenizer: bytes per token per subset (tokenizer-stats --json on the test split).
        if let stats = try readJSONObject(path(DemoLayout.tokenizerStats)) {
            func row(_ name: String, _ o: Any?) -> TokenizerRow? {
                guard let o = o as? [String: Any] else { return nil }
                return TokenizerRow(name: name, documents: int(o["documents"]) ?? 0, bytes: int(o["bytes"]) ?? 0, tokens: int(o["tokens"]) ?? 0)
            }
            r.tokenizerOverall = row("overall", stats["overall"])
            let groups = stats["groups"] as? [String: Any] ?? [:]
            r.tokenizerRows = groups.keys.sorted().compactMap { row($0, groups[$0]) }
            if let v = int(stats["vocabulary_size"]) { r.tokenizerSummary.append(("vocabulary", formatCount(v) + " ids")) }
            if let p = stats["pretokenizer"] as? String { r.tokenizerSummary.append(("pre-tokenizer", p)) }
            if let u = int(stats["vocabulary_used"]), let v = int(stats["vocabulary_size"]), v > 0 {
                r.tokenizerSummary.append(("vocabulary used on the test split", String(format: "%@ (%.1f%%)", formatCount(u), 100 * Double(u) / Double(v))))
            }
        } else { r.missing["tokenizer"] = "\(DemoLayout.tokenizerStats) is missing" }

        // 3. Packing: the pack manifest's comparison of both strategies.
        if let manifest = try readJSONObject(path(DemoLayout.packed + ".json")) {
            func row(_ o: Any?) -> PackingRow? {
                guard let o = o as? [String: Any] else { return nil }
                return PackingRow(documents: int(o["documents"]) ?? 0, tokens: int(o["tokens"]) ?? 0, rows: int(o["rows"]) ?? 0,
                                  truncatedDocuments: int(o["truncated_documents"]) ?? 0, paddingTokens: int(o["padding_tokens"]) ?? 0,
                                  truncatedShare: double(o["truncated_share"]) ?? 0, paddingShare: double(o["padding_share"]) ?? 0)
            }
            r.packingSeqLen = int((manifest["options"] as? [String: Any])?["seq_len"]) ?? 0
            let comparison = manifest["comparison"] as? [String: Any] ?? [:]
            for name in ["best-fit", "concat"] { if let p = row(comparison[name]) { r.packing.append((name, p)) } }
            r.validationRows = row(manifest["validation"])
            if r.packing.isEmpty { r.missing["packing"] = "\(DemoLayout.packed).json has no \"comparison\"" }
        } else { r.missing["packing"] = "\(DemoLayout.packed).json is missing" }

        // 4. Training: metrics.jsonl (loss lines, validation lines, expert load per MoE layer).
        let metricsPath = path(DemoLayout.metrics)
        if let data = FileManager.default.contents(atPath: metricsPath) {
            var tokensPerStep: Double?
            var layers: [Int: ExpertLayerSeries] = [:]
            var pendingValidation: [(Int, Double)] = []
            var fp8Lines: [Int: [String: Any]] = [:]   // by step: a resumed run logs a step again
            for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
                guard let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                    throw ReportError(description: "\(metricsPath):\(n + 1): not a JSON object")
                }
                guard let step = int(o["step"]) else { continue }
                if o["fp8"] != nil { fp8Lines[step] = o }
                if let v = double(o["val_loss"]) { pendingValidation.append((step, v)); continue }
                guard let loss = double(o["loss"]), let tokens = double(o["tokens"]) else { continue }
                if step > 0 { tokensPerStep = tokens / Double(step) }
                r.losses.append(LossPoint(step: step, tokens: tokens, loss: loss, main: double(o["loss_main"]) ?? loss,
                                          mtp: (o["loss_mtp"] as? [Any] ?? []).compactMap(double)))
                for e in o["expert_load"] as? [[String: Any]] ?? [] {
                    let i = int(e["moe_layer"]) ?? 0
                    var s = layers[i] ?? ExpertLayerSeries(layer: i)
                    s.tokens.append(tokens)
                    s.maxOverMin.append(double(e["max_over_min"]) ?? 1)
                    s.biasMin.append(double(e["bias_min"]) ?? 0)
                    s.biasMax.append(double(e["bias_max"]) ?? 0)
                    if let loads = e["loads"] as? [Any] { s.loads.append(loads.compactMap(int)) }
                    layers[i] = s
                }
            }
            // A resumed run restarts its log at a checkpoint: keep the last occurrence of each step.
            r.losses = Dictionary(r.losses.map { ($0.step, $0) }, uniquingKeysWith: { $1 }).values.sorted { $0.step < $1.step }
            let perStep = tokensPerStep ?? 0
            r.validation = Dictionary(pendingValidation.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 })
                .sorted { $0.key < $1.key }.map { (step: $0.key, tokens: Double($0.key) * perStep, loss: $0.value) }
            r.experts = layers.keys.sorted().map { layers[$0]! }
            // Loads are drawn only when every logged step of every layer has them, all of one width.
            let widths = Set(r.experts.flatMap { s in s.loads.map(\.count) })
            if widths.count == 1, r.experts.allSatisfy({ $0.loads.count == $0.tokens.count }) {
                r.expertsPerLayer = widths.first!
            } else {
                for i in r.experts.indices { r.experts[i].loads = [] }
            }
            if !fp8Lines.isEmpty {
                var f = FP8Summary()
                for step in fp8Lines.keys.sorted() { f.add(metricsLine: fp8Lines[step]!) }
                f.readSettings(path(DemoLayout.runConfig))
                r.fp8 = f
            }
            if r.losses.isEmpty { r.missing["training"] = "\(DemoLayout.metrics) has no logged steps yet" }
        } else { r.missing["training"] = "\(DemoLayout.metrics) is missing" }

        // 5. Bits per byte (tokenmill bpb --json).
        if let bpb = try readJSONObject(path(DemoLayout.bpb)) {
            func row(_ o: [String: Any]) -> BPBRow? {
                guard let name = o["name"] as? String, let v = double(o["bpb"]) else { return nil }
                let ci = (o["bpb_ci95"] as? [Any])?.compactMap(double)
                let baselines = (o["baselines"] as? [String: Any] ?? [:]).compactMap { k, v in double(v).map { (k, $0) } }.sorted { $0.0 < $1.0 }
                return BPBRow(name: name, documents: int(o["documents"]) ?? 0, bytes: int(o["bytes"]) ?? 0, tokens: int(o["tokens"]) ?? 0,
                              bpb: v, interval: ci?.count == 2 ? (ci![0], ci![1]) : nil, baselines: baselines)
            }
            r.bpbDefinition = bpb["definition"] as? String ?? ""
            r.bpbRows = (bpb["subsets"] as? [[String: Any]] ?? []).compactMap(row)
            r.bpbOverall = (bpb["overall"] as? [String: Any]).flatMap(row)
            if r.bpbOverall == nil { throw ReportError(description: "\(path(DemoLayout.bpb)): no \"overall\" row with \"name\" and \"bpb\"") }
        } else { r.missing["bpb"] = "\(DemoLayout.bpb) is missing" }
        return r
    }
}

// MARK: - report.json

extension ReportData {
    /// The figures as a JSON object (key-sorted, so equal inputs give equal bytes); `version` is the
    /// tokenmill version that wrote it.
    public func json(version: String) throws -> Data {
        func tok(_ t: TokenizerRow) -> [String: Any] {
            ["name": t.name, "documents": t.documents, "bytes": t.bytes, "tokens": t.tokens, "bytes_per_token": t.bytesPerToken]
        }
        func pack(_ p: PackingRow) -> [String: Any] {
            ["documents": p.documents, "tokens": p.tokens, "rows": p.rows, "truncated_documents": p.truncatedDocuments,
             "truncated_share": p.truncatedShare, "padding_tokens": p.paddingTokens, "padding_share": p.paddingShare]
        }
        func bpb(_ b: BPBRow) -> [String: Any] {
            var o: [String: Any] = ["name": b.name, "documents": b.documents, "bytes": b.bytes, "tokens": b.tokens, "bpb": b.bpb,
                                    "baselines": Dictionary(b.baselines, uniquingKeysWith: { $1 })]
            if let (lo, hi) = b.interval { o["bpb_ci95"] = [lo, hi] }
            return o
        }
        var root: [String: Any] = [
            "format": "tokenmill-demo-report",
            "tokenmill_version": version,
            "settings": settings.map { [$0.0, $0.1] },
            "stages": stages.map { ["name": $0.name, "seconds": $0.seconds, "reused": $0.reused, "summary": $0.summary] as [String: Any] },
            "missing": missing,
        ]
        if let c = cleaning { root["clean_data"] = c.json }
        if let o = tokenizerOverall {
            root["tokenizer"] = ["overall": tok(o), "subsets": tokenizerRows.map(tok),
                                 "summary": tokenizerSummary.map { [$0.0, $0.1] }] as [String: Any]
        }
        if !packing.isEmpty {
            var p: [String: Any] = ["seq_len": packingSeqLen, "strategies": Dictionary(packing.map { ($0.0, pack($0.1)) }, uniquingKeysWith: { $1 })]
            if let v = validationRows { p["validation"] = pack(v) }
            root["packing"] = p
        }
        if !losses.isEmpty {
            root["training"] = [
                "loss": losses.map { ["step": $0.step, "tokens": $0.tokens, "loss": $0.loss, "loss_main": $0.main, "loss_mtp": $0.mtp] as [String: Any] },
                "validation": validation.map { ["step": $0.step, "tokens": $0.tokens, "loss": $0.loss] as [String: Any] },
                "expert_load": experts.map { e -> [String: Any] in
                    var o: [String: Any] = ["moe_layer": e.layer, "tokens": e.tokens, "max_over_min": e.maxOverMin, "bias_min": e.biasMin, "bias_max": e.biasMax]
                    if !e.loads.isEmpty { o["loads"] = e.loads }
                    return o
                },
            ] as [String: Any]
        }
        if let fp8 { root["fp8"] = fp8.json }
        if let o = bpbOverall {
            root["bpb"] = ["definition": bpbDefinition, "overall": bpb(o), "subsets": bpbRows.map(bpb)] as [String: Any]
        }
        // A value JSON cannot hold (a NaN loss) fails the report instead of writing "{}" in its place.
        do {
            return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .prettyPrinted])
        } catch {
            throw ReportError(description: "\(DemoLayout.reportJSON): cannot encode the report as JSON (\(error))")
        }
    }
}

// MARK: - Writing

extension ReportData {
    /// Writes report.html and report.json into `directory`, each atomically (a temporary name, renamed
    /// when complete).
    public func write(directory: String, version: String) throws {
        try writeFileAtomically(Array(html(version: version).utf8), to: (directory as NSString).appendingPathComponent(DemoLayout.reportHTML))
        try writeFileAtomically(Array(try json(version: version)) + [10], to: (directory as NSString).appendingPathComponent(DemoLayout.reportJSON))
    }
}
