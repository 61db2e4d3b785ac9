// The merge stage: joins the outputs of `tokenize --shard I/N` or `pack --shard I/N` into the files one
// run writes, byte for byte; the kind comes from the shards' manifests.
// tokenize shards: each read a contiguous range of whole input files (its manifest's shard.files), the
// ranges tile the inputs in shard order, and the shards' documents are concatenated in that order
// (shards of older TokenMills, which took every N-th batch, are refused with a hint). pack shards: each holds the
// rows of a contiguous range of buffers, unshuffled; they are concatenated and written in the order the
// single run's seed gives, for OUT and OUT_valid. The shards must be exactly 0…N−1 of one run (their
// manifests equal but for the shard, the counts or reports, and the hashes).
// Cost: the shards' indexes (20 bytes per document), plus 8 bytes per row for pack shards; ids are
// read from the mapped shards.
import CorpusIO
import Foundation
import Packing

public enum ShardMerge {
    /// What a merge wrote.
    public enum Result: Equatable, Sendable {
        case tokenized(shards: Int, documents: Int)
        case packed(shards: Int, rows: Int, validationRows: Int?)
    }

    /// Merges the shards `prefixes` (any order) into `output`.
    /// - Parameters:
    ///   - version: the TokenMill version a merged tokenize manifest records.
    ///   - verify: check each shard's .bin/.idx against its manifest's SHA-256 first.
    ///   - warn: receives warnings (one line each).
    /// - Throws: `ManifestError` naming the file and field of a manifest that cannot be read,
    ///   `StageError` when the shards are not the parts of one run, `RecordedHashError`.
    public static func run(shards prefixes: [String], output: String, version: String, verify: Bool,
                           warn: (String) -> Void) throws -> Result {
        var manifests: [(prefix: String, manifest: DatasetManifest)] = []
        for prefix in prefixes {
            guard let m = try DatasetManifest.read(prefix: prefix) else { throw StageError(.data, "\(prefix).json: missing; merge needs the shards' manifests") }
            manifests.append((prefix, m))
        }
        if verify {
            for (prefix, m) in manifests where try DatasetVerification.check(prefix: prefix, recorded: m.sha256) != .verified {
                warn("warning: \(prefix).json records no SHA-256 of its .bin/.idx (written before TokenMill recorded them); not verified")
            }
        }
        let packed = manifests.map { $0.manifest.packedManifest != nil }
        if packed.contains(true) {
            if let k = packed.firstIndex(of: false) {
                throw StageError(.data, "\(manifests[k].prefix).json: not a pack shard, but \(manifests[packed.firstIndex(of: true)!].prefix) is; merge joins shards of one kind")
            }
            return try mergePackShards(manifests.map { ($0.prefix, $0.manifest.packedManifest!) }, output: output)
        }
        return try mergeTokenizeShards(manifests.map { ($0.prefix, $0.manifest.tokenizedManifest!) }, output: output, version: version)
    }

    /// Checks that `indices` (each shard's index and count, sorted) are exactly 0…N−1 of one N; returns N.
    private static func checkComplete(_ indices: [(index: Int, count: Int)]) throws -> Int {
        let n = indices[0].count
        guard indices.map(\.index) == Array(0 ..< n), indices.allSatisfy({ $0.count == n }) else {
            throw StageError(.data, "shards \(indices.map { "\($0.index)/\($0.count)" }.joined(separator: ", ")) are not exactly 0…N−1 of one N")
        }
        return n
    }

    private static let disagree = StageError(.data, "the shards' manifests disagree (tokenizer, inputs or options differ); they are not parts of one run")

    private static func mergeTokenizeShards(_ manifests: [(prefix: String, manifest: TokenizedDatasetManifest)], output: String,
                                            version: String) throws -> Result {
        var parts: [(prefix: String, manifest: TokenizedDatasetManifest, shard: TokenizedDatasetManifest.Shard)] = []
        for (prefix, m) in manifests {
            guard let s = m.shard else { throw StageError(.data, "\(prefix).json: not a shard (written without tokenize --shard)") }
            parts.append((prefix, m, s))
        }
        parts.sort { $0.shard.index < $1.shard.index }
        let n = try checkComplete(parts.map { ($0.shard.index, $0.shard.count) })
        // Everything but the shard, the counts and the hashes must agree.
        func identity(_ m: TokenizedDatasetManifest) -> TokenizedDatasetManifest {
            var m = m
            m.shard = nil; m.counts = .init(); m.sha256 = nil
            return m
        }
        guard parts.allSatisfy({ identity($0.manifest) == identity(parts[0].manifest) }) else { throw disagree }
        // The shards' file ranges tile the inputs in shard order, so their documents concatenated are one run's.
        var end = 0
        for p in parts {
            guard let files = p.shard.files else {
                throw StageError(.data, "\(p.prefix).json: a shard of an older TokenMill (every N-th batch, no \"files\"); tokenize the shards again with this version, which gives each shard whole input files")
            }
            guard files.lowerBound == end, !files.isEmpty else {
                throw StageError(.data, "\(p.prefix).json: shard \(p.shard.index)/\(n) holds input files \(files.lowerBound)..<\(files.upperBound), but the shards before it end at file \(end) (not parts of one run)")
            }
            end = files.upperBound
        }
        guard end == parts[0].manifest.inputs.count else {
            throw StageError(.data, "\(parts[n - 1].prefix).json: the shards cover input files 0..<\(end) of \(parts[0].manifest.inputs.count) (not parts of one run)")
        }
        let datasets = try parts.map { try IndexedDatasetReader(prefix: $0.prefix) }
        for (k, ds) in datasets.enumerated() where ds.documentCount != parts[k].manifest.counts.documents {
            throw StageError(.data, "\(parts[k].prefix): \(ds.documentCount) documents, but its manifest counts \(parts[k].manifest.counts.documents)")
        }
        let writer = try IndexedDatasetWriter(prefix: output, dtype: datasets[0].dtype)
        do {
            for ds in datasets {
                for d in 0 ..< ds.documentCount { try ds.copyDocument(d, to: writer) }
            }
            // The single run's manifest: the shards' with the counts summed and no shard.
            var merged = identity(parts[0].manifest)
            merged.tokenmillVersion = version
            merged.options.dtype = datasets[0].dtype
            merged.counts = parts.map(\.manifest.counts).reduce(.init(), +)
            try writer.finish()
            try merged.write(prefix: output)
        } catch {
            writer.abandon()
            throw error
        }
        return .tokenized(shards: n, documents: writer.documentCount)
    }

    /// Joins `pack --shard` outputs: checks they are the N parts of one run, then writes their rows (and
    /// validation rows) in the order the single run writes them.
    private static func mergePackShards(_ manifests: [(prefix: String, manifest: PackedDatasetManifest)], output: String) throws -> Result {
        // 1. Exactly shards 0…N−1 of one run.
        var parts: [(info: PackedDatasetManifest.Shard, prefix: String, manifest: PackedDatasetManifest)] = []
        for (prefix, m) in manifests {
            guard let info = m.shard else { throw StageError(.data, "\(prefix).json: not a shard (written without pack --shard)") }
            parts.append((info, prefix, m))
        }
        parts.sort { $0.info.index < $1.info.index }
        let n = try checkComplete(parts.map { ($0.info.index, $0.info.count) })
        func identity(_ p: (info: PackedDatasetManifest.Shard, prefix: String, manifest: PackedDatasetManifest)) -> PackedDatasetManifest {
            var m = p.manifest
            m.shard = .init(index: 0, count: n, trainBuffers: 0 ..< 0, validBuffers: 0 ..< 0, totalTrainBuffers: p.info.totalTrainBuffers,
                            totalValidBuffers: p.info.totalValidBuffers, inputDocuments: p.info.inputDocuments, inputTokens: p.info.inputTokens)
            m.report = .init(); m.validation = .init(); m.bestFit = .init(); m.concat = .init(); m.sha256 = nil
            return m
        }
        guard parts.allSatisfy({ identity($0) == identity(parts[0]) }) else { throw disagree }
        let first = parts[0]
        let settings = first.manifest.options
        for (k, p) in parts.enumerated() {
            let i = p.info
            guard i.trainBuffers == Shard.range(i.totalTrainBuffers, Shard(index: k, count: n)),
                  i.validBuffers == Shard.range(i.totalValidBuffers, Shard(index: k, count: n)) else {
                throw StageError(.data, "\(p.prefix).json: buffer ranges are not those of shard \(k)/\(n)")
            }
        }
        // 2. The reports add up to the single run's.
        var used = PackingReport(), valid = PackingReport(), best = PackingReport(), concat = PackingReport()
        for p in parts {
            used.merge(p.manifest.report); valid.merge(p.manifest.validation); best.merge(p.manifest.bestFit); concat.merge(p.manifest.concat)
        }
        // 3. The rows, in the single run's order.
        func open(_ suffix: String, rows: (PackedDatasetManifest) -> Int) throws -> [IndexedDatasetReader] {
            try parts.map { p in
                let ds = try IndexedDatasetReader(prefix: p.prefix + suffix)
                let expected = rows(p.manifest)
                guard ds.documentCount == expected else {
                    throw StageError(.data, "\(p.prefix)\(suffix).idx: \(ds.documentCount) rows, but its manifest reports \(expected)")
                }
                return ds
            }
        }
        let train = try open("") { $0.report.rows }
        let validSets = settings.validFraction > 0 ? try open("_valid") { $0.validation.rows } : []
        let dtype = train[0].dtype
        guard (train + validSets).allSatisfy({ $0.dtype == dtype }) else {
            throw StageError(.data, "the shards' datasets have different element types; they are not parts of one run")
        }
        let writer = try IndexedDatasetWriter(prefix: output, dtype: dtype)
        let validWriter = settings.validFraction > 0 ? try IndexedDatasetWriter(prefix: output + "_valid", dtype: dtype) : nil
        do {
            func write(_ sets: [IndexedDatasetReader], validation: Bool, to w: IndexedDatasetWriter) throws {
                var starts = [0]
                for ds in sets { starts.append(starts.last! + ds.documentCount) }
                let total = starts.last!
                let order = settings.shuffle ? shuffledRowOrder(count: total, seed: settings.rowSeed(validation: validation)) : Array(0 ..< total)
                for row in order {
                    // The shard holding `row`: the last start at or below it (binary search).
                    var lo = 0, hi = sets.count
                    while hi - lo > 1 { let mid = (lo + hi) / 2; if starts[mid] <= row { lo = mid } else { hi = mid } }
                    try sets[lo].copyDocument(row - starts[lo], to: w)
                }
            }
            try write(train, validation: false, to: writer)
            if let validWriter { try write(validSets, validation: true, to: validWriter) }
            let merged = PackedDatasetManifest(tokenizer: first.manifest.tokenizer, inputs: first.manifest.inputs,
                                               normalization: first.manifest.normalization, options: settings, shard: nil,
                                               report: used, validation: valid, bestFit: best, concat: concat)
            try writer.finish()
            try validWriter?.finish()
            try merged.write(prefix: output, validation: validWriter != nil)
        } catch {
            writer.abandon(); validWriter?.abandon()
            throw error
        }
        return .packed(shards: n, rows: writer.documentCount, validationRows: validWriter?.documentCount)
    }
}
