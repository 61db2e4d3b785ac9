// `tokenmill merge`: joins the outputs of `tokenize --shard I/N` or `pack --shard I/N` into the files one
// run would write; the kind comes from the shards' manifests.
import ArgumentParser
import CorpusIO
import FillInTheMiddle
import Foundation
import Packing

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the shard outputs of tokenize or pack --shard I/N into the files a single run writes, byte for byte.",
        discussion: """
        Example: tokenmill merge -o data/train data/train.shard0 data/train.shard1

        The shards' manifests (PREFIX.json) say which command wrote them. tokenize shards: each \
        manifest lists how many documents each of its input batches gave; merge interleaves the \
        shards' documents batch by batch in the original order. pack shards: each holds the rows of a \
        contiguous range of buffers, unshuffled; merge concatenates them and writes them in the order \
        the single run's --seed gives, for OUT and for OUT_valid (from the shards' PREFIX_valid). Either \
        way OUT.bin, OUT.idx and OUT.json (and OUT_valid.*) equal a single run's. The shards must come \
        from the same tokenizer, inputs and options, and every shard 0…N−1 must be given once. Memory: \
        the shards' indexes (20 bytes per document), plus 8 bytes per row for pack shards; ids are read \
        from the mapped shards.
        """
    )

    @Argument(help: "The shard prefixes, in any order.")
    var shards: [String]

    @Option(name: [.short, .long], help: "The output prefix: writes OUT.bin, OUT.idx and OUT.json.")
    var output: String

    @Flag(name: .customLong("no-verify"), help: "Do not check the shards' .bin/.idx against the SHA-256 their manifests record.")
    var noVerify = false

    func run() throws {
        try reportingErrors {
            var manifests: [(prefix: String, manifest: [String: Any])] = []
            for prefix in shards {
                guard let m = try readManifest(prefix) else { throw RuntimeFailure(description: "\(prefix).json: missing; merge needs the shards' manifests") }
                manifests.append((prefix, m))
            }
            if noVerify {
                printError("merge: --no-verify: the shards' .bin/.idx are not checked against the SHA-256 in their manifests")
            } else {
                for (prefix, m) in manifests where try DatasetHashes.verify(prefix: prefix, manifest: m, manifestPath: prefix + ".json") == .notRecorded {
                    printError("warning: \(prefix).json records no SHA-256 of its .bin/.idx (written before TokenMill recorded them); not verified")
                }
            }
            let packed = manifests.map { $0.manifest["format"] as? String == "tokenmill-packed-megatron-dataset" }
            if packed.contains(true) {
                if let k = packed.firstIndex(of: false) {
                    throw RuntimeFailure(description: "\(manifests[k].prefix).json: not a pack shard, but \(manifests[packed.firstIndex(of: true)!].prefix) is; merge joins shards of one kind")
                }
                try mergePackShards(manifests, output: output)
                return
            }
            var parts: [(index: Int, prefix: String, manifest: [String: Any], shard: [String: Any])] = []
            for (prefix, m) in manifests {
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
                m["shard"] = nil; m["counts"] = nil; m[DatasetHashes.key] = nil
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
                    inputs: m0["inputs"] as! [String], normalization: NormalizationRecord(json: m0["normalization"]), dtype: datasets[0].dtype,
                    eod: (opt["eod_id"] as? Int).map { ((opt["eod_token"] as? String) ?? "", Int32($0)) },
                    allowSpecial: opt["allow_special"] as! Bool,
                    fim: FIMConfig(rate: (opt["fim_rate"] as! NSNumber).doubleValue, spmRate: (opt["fim_spm_rate"] as! NSNumber).doubleValue, seed: (opt["seed"] as! NSNumber).uint64Value),
                    fimNames: opt["fim_tokens"] as! [String], fimPSM: sum["fim_psm"] ?? 0, fimSPM: sum["fim_spm"] ?? 0,
                    split: (opt["split_punctuation_newline"] as? NSNumber)?.doubleValue ?? 0,
                    boundarySplits: sum["punctuation_newline_split"] ?? 0, boundaryCandidates: sum["punctuation_newline_eligible"] ?? 0,
                    shard: nil, batchDocuments: [], textField: opt["text_field"] as! String,
                    documents: sum["documents"] ?? 0, tokens: sum["tokens"] ?? 0, bytes: sum["text_bytes"] ?? 0,
                    empty: sum["empty_skipped"] ?? 0, skipped: sum["malformed_skipped"] ?? 0)
                let manifestFile = try OutputFile(path: output + ".json", compress: false)
                try writer.finish()
                try manifestFile.write(Array(try manifestWithHashes(manifest, prefix: output, validation: false).utf8))
                try manifestFile.commit()
            } catch {
                writer.abandon()
                throw error
            }
            printError("merge: \(n) shards → \(formatCount(writer.documentCount)) documents in \(output).bin/.idx")
        }
    }
}

/// Joins `pack --shard` outputs: checks they are the N parts of one run, then writes their rows (and
/// validation rows) in the order the single run writes them.
private func mergePackShards(_ manifests: [(prefix: String, manifest: [String: Any])], output: String) throws {
    // 1. Exactly shards 0…N−1 of one run.
    var parts: [(info: PackShardInfo, prefix: String, manifest: [String: Any])] = []
    for (prefix, m) in manifests {
        guard let s = m["shard"] as? [String: Any], let info = PackShardInfo(s) else {
            throw RuntimeFailure(description: "\(prefix).json: not a shard (written without pack --shard)")
        }
        parts.append((info, prefix, m))
    }
    parts.sort { $0.info.index < $1.info.index }
    let n = parts[0].info.count
    guard parts.map(\.info.index) == Array(0 ..< n), parts.allSatisfy({ $0.info.count == n }) else {
        throw RuntimeFailure(description: "shards \(parts.map { "\($0.info.index)/\($0.info.count)" }.joined(separator: ", ")) are not exactly 0…N−1 of one N")
    }
    func identity(_ p: (info: PackShardInfo, prefix: String, manifest: [String: Any])) -> String {
        var m = p.manifest
        for key in ["shard", "report", "validation", "comparison", DatasetHashes.key] { m[key] = nil }
        let rest = String(decoding: (try? JSONSerialization.data(withJSONObject: m, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
        let i = p.info
        return rest + "|\(i.totalTrainBuffers)|\(i.totalValidBuffers)|\(i.inputDocuments)|\(i.inputTokens)"
    }
    guard Set(parts.map(identity)).count == 1 else {
        throw RuntimeFailure(description: "the shards' manifests disagree (tokenizer, inputs or options differ); they are not parts of one run")
    }
    let first = parts[0]
    let settings = try PackSettings(manifestOptions: first.manifest["options"] as? [String: Any] ?? [:], path: first.prefix + ".json")
    for (k, p) in parts.enumerated() {
        let i = p.info
        guard i.trainBuffers == shardRange(i.totalTrainBuffers, Shard(index: k, count: n)),
              i.validBuffers == shardRange(i.totalValidBuffers, Shard(index: k, count: n)) else {
            throw RuntimeFailure(description: "\(p.prefix).json: buffer ranges are not those of shard \(k)/\(n)")
        }
    }
    // 2. The reports add up to the single run's.
    var used = PackingReport(), valid = PackingReport(), best = PackingReport(), concat = PackingReport()
    for p in parts {
        let comparison = p.manifest["comparison"] as? [String: Any]
        guard let u = packingReport(p.manifest["report"]), let v = packingReport(p.manifest["validation"]),
              let b = packingReport(comparison?["best-fit"]), let c = packingReport(comparison?["concat"]) else {
            throw RuntimeFailure(description: "\(p.prefix).json: the reports of a pack manifest are incomplete")
        }
        used.merge(u); valid.merge(v); best.merge(b); concat.merge(c)
    }
    // 3. The rows, in the single run's order.
    func open(_ suffix: String, rows: (PackShardInfo, [String: Any]) -> Int) throws -> [IndexedDatasetReader] {
        try parts.map { p in
            let ds = try IndexedDatasetReader(prefix: p.prefix + suffix)
            let expected = rows(p.info, p.manifest)
            guard ds.documentCount == expected else {
                throw RuntimeFailure(description: "\(p.prefix)\(suffix).idx: \(ds.documentCount) rows, but its manifest reports \(expected)")
            }
            return ds
        }
    }
    let train = try open("") { _, m in packingReport(m["report"])!.rows }
    let validSets = settings.validFraction > 0 ? try open("_valid") { _, m in packingReport(m["validation"])!.rows } : []
    let dtype = train[0].dtype
    guard (train + validSets).allSatisfy({ $0.dtype == dtype }) else {
        throw RuntimeFailure(description: "the shards' datasets have different element types; they are not parts of one run")
    }
    let writer = try IndexedDatasetWriter(prefix: output, dtype: dtype)
    let validWriter = settings.validFraction > 0 ? try IndexedDatasetWriter(prefix: output + "_valid", dtype: dtype) : nil
    do {
        func write(_ sets: [IndexedDatasetReader], validation: Bool, to w: IndexedDatasetWriter) throws {
            var starts = [0]
            for ds in sets { starts.append(starts.last! + ds.documentCount) }
            let total = starts.last!
            let order = settings.shuffle ? shuffledRowOrder(count: total, seed: settings.rowSeed(validation: validation)) : Array(0 ..< total)
            var k = 0
            for row in order {
                // The shard holding `row`: the last start at or below it (binary search).
                var lo = 0, hi = sets.count
                while hi - lo > 1 { let mid = (lo + hi) / 2; if starts[mid] <= row { lo = mid } else { hi = mid } }
                k = lo
                let ds = sets[k], d = row - starts[k]
                for s in Int(ds.documentIndices[d]) ..< Int(ds.documentIndices[d + 1]) { try w.addSequence(ds.sequence(s)) }
                w.endDocument()
            }
        }
        try write(train, validation: false, to: writer)
        if let validWriter { try write(validSets, validation: true, to: validWriter) }
        let manifest = packManifest(inputs: first.manifest["inputs"] as? [String] ?? [], settings: settings, used: used, best: best,
                                    concat: concat, valid: valid, tokenizer: first.manifest["tokenizer"].flatMap { $0 is NSNull ? nil : $0 },
                                    normalization: NormalizationRecord(json: first.manifest["normalization"]), shard: nil)
        let manifestFile = try OutputFile(path: output + ".json", compress: false)
        try writer.finish()
        try validWriter?.finish()
        try manifestFile.write(Array(try manifestWithHashes(manifest, prefix: output, validation: validWriter != nil).utf8))
        try manifestFile.commit()
    } catch {
        writer.abandon(); validWriter?.abandon()
        throw error
    }
    printError("merge: \(n) pack shards → \(formatCount(writer.documentCount)) rows in \(output).bin/.idx" +
               (validWriter.map { ", \(formatCount($0.documentCount)) validation rows in \(output)_valid.bin/.idx" } ?? ""))
}
