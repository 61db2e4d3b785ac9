// `tokenmill tokenizer-stats`: how well a tokenizer compresses a corpus — UTF-8 bytes per token overall
// and per field value, the share of the vocabulary used, and the longest tokens.
import ArgumentParser
import CorpusIO
import Foundation
import Tokenization

struct TokenizerStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer-stats",
        abstract: "Measure a tokenizer on a corpus: bytes per token overall and per subset, vocabulary use, longest tokens.",
        discussion: """
        Example: tokenmill tokenizer-stats --tokenizer tokenizer.json --by meta.pile_set_name corpora/test.jsonl.zst

        Bytes are UTF-8 bytes of the text as read. The longest tokens are the vocabulary's longest (in \
        bytes), with how often each was used. Memory: one 8-byte counter per vocabulary id per thread.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(help: "Also break the counts down by the value of this JSON field (a dotted path).")
    var by: String?

    @Option(help: "How many of the longest tokens to list.")
    var longest = 10

    @Flag(help: "Recognize special tokens in the text.")
    var allowSpecial = false

    @Flag(help: "Print JSON instead of text: tokenizer, vocabulary_size, pretokenizer, vocabulary_used, overall, by, groups (per value), longest.")
    var json = false

    func validate() throws {
        if longest < 0 { throw ValidationError("--longest must be at least 0.") }
    }

    struct Tally: Sendable { var documents = 0, bytes = 0, tokens = 0 }

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            let reader = try input.makeReader()
            let progress = progressOptions.makeReporter("tokenizer-stats")
            let pool = EncoderPool(tokenizer)
            let options = reader.options
            let field = by, allow = allowSpecial
            let V = tokenizer.vocabularySize
            var overall = Tally()
            var groups: [String: Tally] = [:]
            var usage = [Int](repeating: 0, count: V)
            try orderedParallelMap(threads: progressOptions.workerThreads, next: { try reader.nextBatch() }, transform: { batch -> (Tally, [String: Tally], [Int32]) in
                let decoded = try decodeDocuments(batch, options: options)
                let encoder = try pool.take()
                defer { pool.give(encoder) }
                var all = Tally()
                var byValue: [String: Tally] = [:]
                var ids: [Int32] = []
                for doc in decoded.documents {
                    let before = ids.count
                    try encoder.encode(doc.text, allowSpecial: allow, into: &ids)
                    let n = ids.count - before
                    let b = doc.text.utf8.count
                    all.documents += 1; all.bytes += b; all.tokens += n
                    if let field {
                        var g = byValue[doc.field(field) ?? "unknown", default: Tally()]
                        g.documents += 1; g.bytes += b; g.tokens += n
                        byValue[doc.field(field) ?? "unknown"] = g
                    }
                }
                return (all, byValue, ids)
            }, consume: { all, byValue, ids in
                overall.documents += all.documents; overall.bytes += all.bytes; overall.tokens += all.tokens
                for (k, v) in byValue {
                    var g = groups[k, default: Tally()]
                    g.documents += v.documents; g.bytes += v.bytes; g.tokens += v.tokens
                    groups[k] = g
                }
                for id in ids { usage[Int(id)] += 1 }
                progress.update(documents: overall.documents, bytes: Int64(overall.bytes))
            })
            progress.finish()
            func ratio(_ t: Tally) -> String { t.tokens > 0 ? String(format: "%.3f", Double(t.bytes) / Double(t.tokens)) : "-" }
            let used = usage.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
            let order = (0 ..< V).compactMap { id in tokenizer.tokenBytes(id).map { (id, $0.count) } }
                .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(longest)
            if json {
                func tally(_ t: Tally) -> [String: Any] {
                    ["documents": t.documents, "bytes": t.bytes, "tokens": t.tokens,
                     "bytes_per_token": t.tokens > 0 ? Double(t.bytes) / Double(t.tokens) : 0]
                }
                var object: [String: Any] = [
                    "tokenizer": tokenizerOptions.path, "vocabulary_size": V, "pretokenizer": tokenizer.preTokenizer.name,
                    "vocabulary_used": used, "overall": tally(overall),
                    "longest": order.map { id, n in ["id": id, "bytes": n, "used": usage[id],
                                                     "text": String(decoding: tokenizer.tokenBytes(id)!, as: UTF8.self)] as [String: Any] },
                ]
                if let field {
                    object["by"] = field
                    object["groups"] = groups.mapValues(tally)
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("tokenizer: \(tokenizerOptions.path) (\(formatCount(V)) ids, pre-tokenizer \(tokenizer.preTokenizer.name))")
            print("documents: \(formatCount(overall.documents)), bytes: \(formatCount(overall.bytes)), tokens: \(formatCount(overall.tokens)), bytes/token: \(ratio(overall))")
            print("vocabulary used: \(formatCount(used)) of \(formatCount(V)) ids (\(String(format: "%.1f", 100 * Double(used) / Double(max(V, 1))))%)")
            if !groups.isEmpty {
                print("by \(field!):")
                for (k, g) in groups.sorted(by: { $0.key < $1.key }) {
                    print("  \(k)\t\(formatCount(g.documents)) documents\t\(formatCount(g.bytes)) bytes\t\(formatCount(g.tokens)) tokens\t\(ratio(g)) bytes/token")
                }
            }
            if longest > 0 {
                print("longest tokens:")
                for (id, n) in order {
                    let text = String(decoding: tokenizer.tokenBytes(id)!, as: UTF8.self)
                    print("  \(id)\t\(n) bytes\tused \(formatCount(usage[id]))\t\(text.debugDescription)")
                }
            }
        }
    }
}
