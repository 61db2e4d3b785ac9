// `tokenmill merge`: joins the outputs of `tokenize --shard I/N` into the files one run would write.
import ArgumentParser
import CorpusIO
import FillInTheMiddle
import Foundation
import Packing

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the shard outputs of tokenize --shard I/N into the dataset a single run writes, byte for byte.",
        discussion: """
        Example: tokenmill merge -o data/train data/train.shard0 data/train.shard1

        Each shard's manifest lists how many documents each of its input batches gave; merge \
        interleaves the shards' documents batch by batch in the original order, so OUT.bin, OUT.idx \
        and OUT.json equal a single run's. The shards must come from the same tokenizer, inputs and \
        options, and every shard 0…N−1 must be given once. Memory: the shards' indexes; ids are read \
        from the mapped shards.
        """
    )

    @Argument(help: "The shard prefixes, in any order.")
    var shards: [String]

    @Option(name: [.short, .long], help: "The output prefix: writes OUT.bin, OUT.idx and OUT.json.")
    var output: String

    func run() throws {
        try reportingErrors {
            var parts: [(index: Int, prefix: String, manifest: [String: Any], shard: [String: Any])] = []
            for prefix in shards {
                guard let m = try readManifest(prefix) else { throw RuntimeFailure(description: "\(prefix).json: missing; merge needs the shards' manifests") }
                guard let s = m["shard"] as? [String: Any], let i = s["index"] as? Int, s["count"] is Int, s["batch_documents"] is [Int] else {
                    throw RuntimeFailure(description: "\(prefix).json: not a shard (written without tokenize --shard)")
                }
                parts.append((i, prefix, m, s))
            }
            parts.sort { $0.index < $1.index }
            let n = parts[0].shard["count"] as! Int
            guard parts.map(\.index) == Array(0 ..< n), parts.allSatisfy({ $0.shard["count"] as? Int == n }) else {
                throw RuntimeFailure(description: "shards \(parts.map { "\($0.index)/\($0.shard["count"]!)" }.joined(separator: ", ")) are not exactly 0…N−1 of one N")
            }
            // Everything but the shard and the counts must agree.
            func identity(_ m: [String: Any]) -> String {
                var m = m
                m["shard"] = nil; m["counts"] = nil
                return String(decoding: (try? JSONSerialization.data(withJSONObject: m, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
            }
            guard Set(parts.map { identity($0.manifest) }).count == 1 else {
                throw RuntimeFailure(description: "the shards' manifests disagree (tokenizer, inputs or options differ); they are not parts of one run")
            }
            let datasets = try parts.map { try IndexedDatasetReader(prefix: $0.prefix) }
            let batches = parts.map { $0.shard["batch_documents"] as! [Int] }
            for (k, ds) in datasets.enumerated() where ds.documentCount != batches[k].reduce(0, +) {
                throw RuntimeFailure(description: "\(parts[k].prefix): \(ds.documentCount) documents, but its manifest lists \(batches[k].reduce(0, +))")
            }
            let writer = try IndexedDatasetWriter(prefix: output, dtype: datasets[0].dtype)
            do {
                var next = [Int](repeating: 0, count: n)
                let total = batches.reduce(0) { $0 + $1.count }
                for b in 0 ..< total {
                    let k = b % n, j = b / n
                    guard j < batches[k].count else { throw RuntimeFailure(description: "\(parts[k].prefix): fewer batches than shard \(k) of \(total) needs") }
                    for _ in 0 ..< batches[k][j] {
                        let ds = datasets[k], d = next[k]
                        for s in Int(ds.documentIndices[d]) ..< Int(ds.documentIndices[d + 1]) { try writer.addSequence(ds.sequence(s)) }
                        writer.endDocument()
                        next[k] += 1
                    }
                }
                // The single run's manifest: the shards' with the counts summed and no shard.
                let counts = parts.map { $0.manifest["counts"] as! [String: Int] }
                var merged = parts[0].manifest
                merged["shard"] = nil
                var sum: [String: Int] = [:]
                for c in counts { for (key, v) in c { sum[key, default: 0] += v } }
                let m0 = parts[0].manifest
                let tok = m0["tokenizer"] as! [String: Any], opt = m0["options"] as! [String: Any]
                let manifest = tokenizeManifest(
                    tokenizerPath: tok["path"] as! String, tokenizerHash: tok["sha256"] as! String, vocabulary: tok["vocabulary_size"] as! Int,
                    inputs: m0["inputs"] as! [String], dtype: datasets[0].dtype,
                    eod: (opt["eod_id"] as? Int).map { ((opt["eod_token"] as? String) ?? "", Int32($0)) },
                    allowSpecial: opt["allow_special"] as! Bool,
                    fim: FIMConfig(rate: (opt["fim_rate"] as! NSNumber).doubleValue, spmRate: (opt["fim_spm_rate"] as! NSNumber).doubleValue, seed: (opt["seed"] as! NSNumber).uint64Value),
                    fimNames: opt["fim_tokens"] as! [String], fimPSM: sum["fim_psm"] ?? 0, fimSPM: sum["fim_spm"] ?? 0,
                    shard: nil, batchDocuments: [], textField: opt["text_field"] as! String,
                    documents: sum["documents"] ?? 0, tokens: sum["tokens"] ?? 0, bytes: sum["text_bytes"] ?? 0,
                    empty: sum["empty_skipped"] ?? 0, skipped: sum["malformed_skipped"] ?? 0)
                let manifestFile = try OutputFile(path: output + ".json", compress: false)
                try manifestFile.write(Array(manifest.utf8))
                try writer.finish()
                try manifestFile.commit()
            } catch {
                writer.abandon()
                throw error
            }
            printError("merge: \(n) shards → \(formatCount(writer.documentCount)) documents in \(output).bin/.idx")
        }
    }
}
