// The tokenizer-stats stage: how well a tokenizer compresses a corpus — UTF-8 bytes per token overall
// and per value of one JSON field, the share of the vocabulary used, and the vocabulary's longest tokens
// with their use — and its two renderings (text and JSON).
// Costs: one encoder per worker thread, one 8-byte counter per vocabulary id (on the consuming thread),
// and each batch's ids (4 bytes a token) until its turn to be counted.
import CorpusIO
import Foundation
import Tokenization

/// Documents, bytes and tokens.
public struct TokenTally: Sendable, Equatable {
    public var documents = 0, bytes = 0, tokens = 0
    public init() {}
    public mutating func add(_ o: TokenTally) { documents += o.documents; bytes += o.bytes; tokens += o.tokens }
    /// "3.413", or "-" with no tokens.
    public var ratio: String { tokens > 0 ? String(format: "%.3f", Double(bytes) / Double(tokens)) : "-" }
}

/// Encodes a batch and tallies it, overall and by the value of `field`.
public struct TokenizerStatsStage: DocumentStage {
    public let field: String?
    public let allowSpecial: Bool
    let encoders: WorkerPool<TokenEncoder>

    public init(tokenizer: Tokenizer, by field: String?, allowSpecial: Bool) {
        self.field = field
        self.allowSpecial = allowSpecial
        encoders = WorkerPool(tokenizer)
    }

    public struct Output: Sendable {
        public var overall = TokenTally()
        public var groups: [String: TokenTally] = [:]
        /// Every id of the batch, for the vocabulary use.
        public var ids: [Int32] = []
        public init() {}
    }

    public func process(_ batch: DecodedBatch) throws -> Output {
        try encoders.withWorker { encoder in
            var out = Output()
            for doc in batch.documents {
                let before = out.ids.count
                try encoder.encode(doc.text, allowSpecial: allowSpecial, into: &out.ids)
                var t = TokenTally()
                t.documents = 1; t.bytes = doc.text.utf8.count; t.tokens = out.ids.count - before
                out.overall.add(t)
                if let field { out.groups[doc.field(field) ?? "unknown", default: TokenTally()].add(t) }
            }
            return out
        }
    }
}

/// A tokenizer measured on a corpus, ready to print.
public struct TokenizerStatsReport {
    public let tokenizer: Tokenizer
    /// How the tokenizer is named in the report (its path).
    public let name: String
    public let field: String?
    public private(set) var overall = TokenTally()
    public private(set) var groups: [String: TokenTally] = [:]
    /// Uses per id.
    public private(set) var usage: [Int]

    /// Encodes every document of `reader`.
    public init(tokenizer: Tokenizer, name: String, reader: CorpusReader, by field: String?, allowSpecial: Bool,
                runner: DocumentRunner) throws {
        self.tokenizer = tokenizer
        self.name = name
        self.field = field
        var usage = [Int](repeating: 0, count: tokenizer.vocabularySize)
        var overall = TokenTally(), groups: [String: TokenTally] = [:]
        try runner.run(TokenizerStatsStage(tokenizer: tokenizer, by: field, allowSpecial: allowSpecial), reader: reader) { r in
            overall.add(r.overall)
            for (k, v) in r.groups { groups[k, default: TokenTally()].add(v) }
            for id in r.ids { usage[Int(id)] += 1 }
        }
        (self.usage, self.overall, self.groups) = (usage, overall, groups)
    }

    /// Ids used at least once.
    public var vocabularyUsed: Int { usage.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }

    /// The `count` longest tokens (in bytes; ties by id) with their byte lengths.
    public func longest(_ count: Int) -> [(id: Int, bytes: Int)] {
        Array((0 ..< tokenizer.vocabularySize).compactMap { id in tokenizer.tokenBytes(id).map { (id: id, bytes: $0.count) } }
            .sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.id < $1.id }.prefix(count))
    }

    /// The text report.
    public func text(longest count: Int) -> String {
        let V = tokenizer.vocabularySize
        var lines = [
            "tokenizer: \(name) (\(formatCount(V)) ids, pre-tokenizer \(tokenizer.preTokenizer.name))",
            "documents: \(formatCount(overall.documents)), bytes: \(formatCount(overall.bytes)), tokens: \(formatCount(overall.tokens)), bytes/token: \(overall.ratio)",
            "vocabulary used: \(formatCount(vocabularyUsed)) of \(formatCount(V)) ids (\(String(format: "%.1f", 100 * Double(vocabularyUsed) / Double(max(V, 1))))%)",
        ]
        if let field, !groups.isEmpty {
            lines.append("by \(field):")
            for (k, g) in groups.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(k)\t\(formatCount(g.documents)) documents\t\(formatCount(g.bytes)) bytes\t\(formatCount(g.tokens)) tokens\t\(g.ratio) bytes/token")
            }
        }
        if count > 0 {
            lines.append("longest tokens:")
            for (id, n) in longest(count) {
                let text = String(decoding: tokenizer.tokenBytes(id)!, as: UTF8.self)
                lines.append("  \(id)\t\(n) bytes\tused \(formatCount(usage[id]))\t\(text.debugDescription)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The JSON report: tokenizer, vocabulary_size, pretokenizer, vocabulary_used, overall, by, groups
    /// (per value), longest; keys sorted.
    public func json(longest count: Int) throws -> String {
        func tally(_ t: TokenTally) -> [String: Any] {
            ["documents": t.documents, "bytes": t.bytes, "tokens": t.tokens,
             "bytes_per_token": t.tokens > 0 ? Double(t.bytes) / Double(t.tokens) : 0]
        }
        var object: [String: Any] = [
            "tokenizer": name, "vocabulary_size": tokenizer.vocabularySize, "pretokenizer": tokenizer.preTokenizer.name,
            "vocabulary_used": vocabularyUsed, "overall": tally(overall),
            "longest": longest(count).map { id, n in ["id": id, "bytes": n, "used": usage[id],
                                                      "text": String(decoding: tokenizer.tokenBytes(id)!, as: UTF8.self)] as [String: Any] },
        ]
        if let field {
            object["by"] = field
            object["groups"] = groups.mapValues(tally)
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
