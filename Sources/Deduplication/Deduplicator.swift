// Exact and near-duplicate removal: sign documents, cluster the signatures, keep one per cluster.
// Policy: documents are numbered by input position (0-based, across all inputs, after unreadable records
// are skipped). Exact duplicates share the first 128 bits of SHA-256 of their NFC text; near duplicates
// share at least one LSH band of their MinHash signature (see MinHash.swift). Both kinds of match join
// documents into clusters by union-find, and each cluster keeps its first document in input order (the
// union always hangs the later root under the earlier, so a cluster's root is its survivor); the others
// are removed and listed. Clusters are numbered 0, 1, … in the order of their survivors.
// Phases: 1. sign (parallel; per shard with `SignatureShard`: the shard's whole input files, positions
// numbered within them and shifted to one run's when clustered), 2. spill exact keys and band keys to disk and sort
// them (ExternalSorter), 3. union equal keys, 4. list the removed documents, 5. the caller filters its
// second pass over the input with `DedupFilter`.
// Memory: the sort buffers (`memoryRecords` × 24 bytes each, half again while a run is sorted) plus, for
// the union-find and the removed list, about 150 bytes per document that has a duplicate, whatever the
// corpus size. Nothing per unique document is held.

import CorpusIO
import Foundation
import Normalization

/// Computes one document's signature. Not thread-safe: one per thread.
public final class DocumentSigner {
    public let hasher: MinHasher
    private let words: WordHasher
    private let nfc: UTF8Normalizer
    private let sha = SHA256()

    public init(config: MinHashConfig) throws {
        hasher = MinHasher(config: config)
        words = try WordHasher(normalizeNumbers: config.normalizeNumbers)
        nfc = try UTF8Normalizer(.nfc)
    }

    /// The 128-bit exact key of `text`: the first 16 bytes of SHA-256 of its NFC form.
    public func exactKey(_ text: String) throws -> (UInt64, UInt64) {
        var text = text
        try text.withUTF8 { utf8 in
            if let normalized = try nfc.normalize(utf8) { sha.update(normalized) } else { sha.update(UnsafeRawBufferPointer(utf8)) }
        }
        let digest = sha.digest()
        func word(_ from: Int) -> UInt64 { digest[from ..< from + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        return (word(0), word(8))
    }

    public func sign(_ text: String, position: Int) throws -> DocumentSignature {
        let (e0, e1) = try exactKey(text)
        let shingles = ngramHashes(try words.words(text), n: hasher.config.ngram)
        let keys = hasher.signature(shingles: shingles).map { hasher.bandKeys(signature: $0) } ?? []
        return DocumentSignature(position: UInt64(position), exact0: e0, exact1: e1, bandKeys: keys)
    }
}

/// A batch of decoded documents with the input position of its first document.
public struct PositionedBatch: Sendable {
    public var firstPosition: Int
    public var documents: [Document]
    public init(firstPosition: Int, documents: [Document]) { self.firstPosition = firstPosition; self.documents = documents }
}

/// Numbers the documents of a reader by input position, decoding batch by batch (warnings for skipped
/// records go to `warn`).
public final class PositionedDocuments {
    private let reader: CorpusReader
    private let warn: (String) -> Void
    public private(set) var documents = 0
    public private(set) var bytes: Int64 = 0
    public private(set) var skipped: [CorpusErrorKind: Int] = [:]

    public init(reader: CorpusReader, warn: @escaping (String) -> Void) { self.reader = reader; self.warn = warn }

    var readerOptions: ReadOptions { reader.options }
    /// The input files the reader reads, and how many inputs the whole run has.
    var files: Range<Int> { reader.files }
    var inputCount: Int { reader.inputs.count }

    public func next() throws -> PositionedBatch? {
        while let batch = try reader.nextBatch() {
            let decoded = try decodeDocuments(batch, options: reader.options)
            for (k, v) in decoded.skipped { skipped[k, default: 0] += v }
            for e in decoded.skipErrors { warn("warning: skipped \(e)") }
            if decoded.documents.isEmpty { continue }
            let b = PositionedBatch(firstPosition: documents, documents: decoded.documents)
            documents += decoded.documents.count
            bytes += Int64(decoded.documents.reduce(0) { $0 + $1.text.utf8.count })
            return b
        }
        return nil
    }
}

/// Phase 1: signs every document `documents` reads (shard `shard`'s files: its reader's range) and writes
/// them to `path`, numbered from 0 within those files. Returns (documents read, documents signed): equal.
public func writeSignatures(documents: PositionedDocuments, config: MinHashConfig, shard: SignatureShard, path: String,
                            threads: Int, progress: (Int, Int64) -> Void = { _, _ in }) throws -> (documents: Int, signed: Int) {
    let out = try SignatureFileWriter(path: path, config: config, shard: shard, files: documents.files, fileCount: documents.inputCount)
    let pool = WorkerPool { try DocumentSigner(config: config) }
    do {
        try orderedParallelMap(threads: threads, next: { try documents.next() }, transform: { batch -> [DocumentSignature] in
            try pool.withWorker { signer in
                try batch.documents.indices.map { i in try signer.sign(batch.documents[i].text, position: batch.firstPosition + i) }
            }
        }, consume: { signatures in
            for s in signatures { try out.append(s) }
            progress(documents.documents, documents.bytes)
        })
        try out.commit(documents: documents.documents)
    } catch {
        out.abandon()
        throw error
    }
    return (documents.documents, out.records)
}

/// Why a document was removed.
public enum DuplicateKind: String, Sendable, Codable {
    /// Its NFC text equals an earlier document's.
    case exact
    /// It shares an LSH band with a document of its cluster (and is not an exact copy).
    case near
}

/// One removed document.
public struct RemovedDocument: Sendable, Equatable {
    public var position: Int
    public var cluster: Int
    public var survivor: Int
    public var kind: DuplicateKind
    public init(position: Int, cluster: Int, survivor: Int, kind: DuplicateKind) {
        self.position = position; self.cluster = cluster; self.survivor = survivor; self.kind = kind
    }

    /// `{"position":P,"cluster":C,"survivor":S,"match":"exact|near"}` and a newline.
    public var jsonLine: String { "{\"position\":\(position),\"cluster\":\(cluster),\"survivor\":\(survivor),\"match\":\"\(kind.rawValue)\"}\n" }
}

/// What clustering found.
public struct DedupResult: Sendable {
    public var config: MinHashConfig
    /// Documents in the input.
    public var documents: Int
    /// Removed documents in input order.
    public var removed: [RemovedDocument]
    /// Clusters of two or more documents.
    public var clusters: Int
    public var exactRemoved: Int { removed.lazy.filter { $0.kind == .exact }.count }
    public var nearRemoved: Int { removed.count - exactRemoved }
    public var kept: Int { documents - removed.count }
}

/// Union-find over input positions, only for documents that matched something; a root is always the
/// smallest position of its set.
struct PositionUnionFind {
    private(set) var parent: [UInt64: UInt64] = [:]

    mutating func find(_ x: UInt64) -> UInt64 {
        var root = x
        while let p = parent[root], p != root { root = p }
        var node = x  // path compression
        while let p = parent[node], p != root { parent[node] = root; node = p }
        return root
    }

    mutating func union(_ a: UInt64, _ b: UInt64) {
        if parent[a] == nil { parent[a] = a }
        if parent[b] == nil { parent[b] = b }
        let ra = find(a), rb = find(b)
        if ra == rb { return }
        if ra < rb { parent[rb] = ra } else { parent[ra] = rb }
    }
}

/// Phases 2–4: reads the signature files of every shard (all written with one config over the same
/// input), sorts their keys on disk under `workDirectory`, and clusters.
/// - Parameter memoryRecords: records each sort holds before spilling (24 bytes each).
/// - Throws: `DeduplicationError` naming the file when shards are missing, repeated, disagree on the
///   config or the input's document count, or a file is corrupt.
public func clusterSignatures(files: [String], workDirectory: String, memoryRecords: Int = 1 << 22,
                              nearDuplicates: Bool = true) throws -> DedupResult {
    guard let firstPath = files.first else { throw DeduplicationError(path: workDirectory, "no signature files") }
    // 1. Check that the files are one complete set of shards whose file ranges tile the inputs in shard order.
    let readers = try files.map { try SignatureFileReader(path: $0) }.sorted { $0.info.shard.index < $1.info.shard.index }
    let first = readers[0].info
    var seen = Set<Int>()
    for r in readers {
        if r.info.config != first.config {
            throw DeduplicationError(path: r.path, "written with \(r.info.config); \(firstPath) with \(first.config) (sign every shard with the same options)")
        }
        if r.info.shard.count != first.shard.count || r.info.fileCount != first.fileCount {
            throw DeduplicationError(path: r.path, "shard \(r.info.shard) of a run over \(r.info.fileCount) input files; \(readers[0].path) is shard \(first.shard) of \(first.fileCount) files (not the same run)")
        }
        if !seen.insert(r.info.shard.index).inserted { throw DeduplicationError(path: r.path, "shard \(r.info.shard) given twice") }
    }
    if seen.count != first.shard.count {
        let missing = (0 ..< first.shard.count).filter { !seen.contains($0) }.map { "\($0)/\(first.shard.count)" }
        throw DeduplicationError(path: firstPath, "shards missing: \(missing.joined(separator: ", ")) (run dedup --shard for each)")
    }
    // Each shard's positions start after the documents of the shards before it.
    var offsets: [UInt64] = []
    var nextFile = 0, documents = 0
    for r in readers {
        guard r.info.files.lowerBound == nextFile else {
            throw DeduplicationError(path: r.path, "shard \(r.info.shard) signed input files \(r.info.files.lowerBound)..<\(r.info.files.upperBound), but the shards before it end at file \(nextFile) (not the same run)")
        }
        guard r.info.records == r.info.documents else {
            throw DeduplicationError(path: r.path, "\(r.info.records) signatures for the shard's \(r.info.documents) documents (corrupt)")
        }
        nextFile = r.info.files.upperBound
        offsets.append(UInt64(documents))
        documents += r.info.documents
    }
    guard nextFile == first.fileCount else {
        throw DeduplicationError(path: readers[readers.count - 1].path, "the shards cover input files 0..<\(nextFile) of \(first.fileCount) (not the same run)")
    }
    // 2. Spill exact keys and band keys into two external sorts.
    let exact = ExternalSorter(directory: workDirectory, name: "exact", memoryRecords: memoryRecords)
    let bands = ExternalSorter(directory: workDirectory, name: "bands", memoryRecords: memoryRecords)
    for (k, r) in readers.enumerated() {
        var last: UInt64? = nil
        try r.forEach { s in
            guard s.position < UInt64(r.info.documents), last.map({ s.position > $0 }) ?? true else {
                throw DeduplicationError(path: r.path, "record for position \(s.position) is out of order or beyond the shard's \(r.info.documents) documents (corrupt)")
            }
            last = s.position
            let position = offsets[k] + s.position
            try exact.append(KeyedPosition(s.exact0, s.exact1, position))
            if nearDuplicates { for (b, key) in s.bandKeys.enumerated() { try bands.append(KeyedPosition(UInt64(b), key, position)) } }
        }
    }
    // 3. Equal keys are runs of the sorted streams; each run's first (smallest) position absorbs the rest.
    var sets = PositionUnionFind()
    var exactCopies = Set<UInt64>()
    var runStart: KeyedPosition? = nil
    try exact.forEachSorted { r in
        if let s = runStart, s.sameKey(r) { sets.union(s.position, r.position); exactCopies.insert(r.position) } else { runStart = r }
    }
    runStart = nil
    try bands.forEachSorted { r in
        if let s = runStart, s.sameKey(r) { sets.union(s.position, r.position) } else { runStart = r }
    }
    // 4. Every non-root is removed; clusters are numbered in survivor order.
    var removedPairs: [(UInt64, UInt64)] = []
    var roots: [UInt64] = []
    for x in Array(sets.parent.keys) {
        let root = sets.find(x)
        if root == x { roots.append(x) } else { removedPairs.append((x, root)) }
    }
    roots.sort()
    var clusterOf: [UInt64: Int] = [:]
    for (i, r) in roots.enumerated() { clusterOf[r] = i }
    removedPairs.sort { $0.0 < $1.0 }
    let removed = removedPairs.map { (p, root) in
        RemovedDocument(position: Int(p), cluster: clusterOf[root]!, survivor: Int(root), kind: exactCopies.contains(p) ? .exact : .near)
    }
    return DedupResult(config: first.config, documents: documents, removed: removed, clusters: roots.count)
}

/// Phase 5: says, for positions asked in increasing order, whether each document is kept.
public struct DedupFilter {
    private let removed: [Int]
    private var next = 0
    public init(removedPositions: [Int]) { removed = removedPositions }
    public mutating func keeps(_ position: Int) -> Bool {
        while next < removed.count && removed[next] < position { next += 1 }
        return !(next < removed.count && removed[next] == position)
    }
}
