// The stats stage: document, UTF-8 byte and character counts with document-length quantiles, overall
// and per value of one JSON field, and their two renderings (a table and a JSON object).
// Costs: a `CorpusStats` (about 30 KiB of histogram) per distinct field value per batch in flight.
import CorpusIO

/// Counts the documents of a batch, overall and by the value of `field` ("unknown" when missing).
public struct StatsStage: DocumentStage {
    /// The dotted path of the field to group by, if any.
    public let field: String?
    public init(by field: String? = nil) { self.field = field }

    public struct Output: Sendable {
        public var overall = CorpusStats()
        public var groups: [String: CorpusStats] = [:]
        public init() {}
    }

    public func process(_ batch: DecodedBatch) -> Output {
        var out = Output()
        for doc in batch.documents {
            out.overall.add(doc.text)
            if let field { out.groups[doc.field(field) ?? "unknown", default: CorpusStats()].add(doc.text) }
        }
        return out
    }
}

/// The stats of a corpus, ready to print.
public struct StatsReport: Sendable {
    public var field: String?
    public var overall = CorpusStats()
    public var groups: [String: CorpusStats] = [:]
    public var read = ReadTotals()

    /// Counts every document of `reader`.
    public init(reader: CorpusReader, by field: String?, runner: DocumentRunner) throws {
        self.field = field
        read = try runner.run(StatsStage(by: field), reader: reader) { r in
            overall.merge(r.overall)
            for (k, v) in r.groups { groups[k, default: CorpusStats()].merge(v) }
        }
    }

    /// The groups sorted by value.
    public var sortedGroups: [(key: String, value: CorpusStats)] { groups.sorted { $0.key < $1.key } }

    static let quantiles: [(String, Double)] = [("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]

    private static func object(_ s: CorpusStats) -> String {
        var fields = ["\"documents\": \(s.documents)", "\"bytes\": \(s.bytes)", "\"characters\": \(s.characters)"]
        fields.append("\"min_bytes\": \(s.documents > 0 ? s.minBytes : 0)")
        for (name, q) in quantiles { fields.append("\"\(name)_bytes\": \(s.quantile(q))") }
        fields.append("\"max_bytes\": \(s.maxBytes)")
        return "{" + fields.joined(separator: ", ") + "}"
    }

    /// {"overall": {...}, "by": FIELD, "groups": {VALUE: {...}}}, each object with documents, bytes,
    /// characters, min_bytes, p10_bytes, p50_bytes, p90_bytes, p99_bytes, max_bytes.
    public var json: String {
        var s = "{\"overall\": \(Self.object(overall))"
        if let field {
            s += ", \"by\": \(encodeJSONString(field)), \"groups\": {"
            s += sortedGroups.map { "\(encodeJSONString($0.key)): \(Self.object($0.value))" }.joined(separator: ", ")
            s += "}"
        }
        return s + "}"
    }

    /// One row per value and the overall row ("all" without groups), under a rule.
    public var table: String {
        let header = ["", "documents", "bytes", "characters", "min", "p10", "p50", "p90", "p99", "max"]
        func row(_ name: String, _ s: CorpusStats) -> [String] {
            [name, formatCount(s.documents), formatCount(s.bytes), formatCount(s.characters), formatCount(s.documents > 0 ? s.minBytes : 0)]
                + Self.quantiles.map { formatCount(s.quantile($0.1)) } + [formatCount(s.maxBytes)]
        }
        let groups = sortedGroups
        let rows = [header] + groups.map { row($0.key, $0.value) } + [row(groups.isEmpty ? "all" : "overall", overall)]
        let table = TextTable(columns: [.init(.left)] + Array(repeating: .init(.right), count: header.count - 1))
        let lines = table.render(rows, rulesAfter: groups.isEmpty ? [0] : [0, rows.count - 2])
        return (["document length in bytes: min, quantiles (within 1.6%), max"] + lines).joined(separator: "\n")
    }

    /// The summary line of `tokenmill stats` (without the time).
    public var line: String {
        "stats: \(formatCount(overall.documents)) documents, \(formatBytes(Int64(overall.bytes)))"
            + (field.map { ", \(groups.count) values of \($0)" } ?? "") + (read.skipped.total > 0 ? ", \(read.skipped.total) skipped" : "")
    }
}
