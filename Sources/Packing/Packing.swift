// Packing documents into rows of exactly L tokens.
//
// best-fit (Ding et al. 2024, "Fewer Truncations Improve Language Modeling"): documents longer than L
// are cut into chunks of L (the last one shorter) — the only truncations — then the chunks, longest
// first, go into the open row with the least room that still fits (best-fit decreasing), found in
// O(log L) with a segment tree over remaining capacities 1...L and a FIFO of rows per capacity.
// concat: the usual baseline; documents back to back, cut every L tokens, so every document that
// crosses a cut is truncated.
// Both report what they did (`PackingReport`). Rows come out in creation order; the caller shuffles
// them with `shuffledRowOrder`.

import CorpusIO

/// A piece of one document placed in a row: `length` tokens from `offset` of document `document`.
public struct Piece: Sendable, Equatable {
    public var document: Int
    public var offset: Int
    public var length: Int
    public init(document: Int, offset: Int, length: Int) { self.document = document; self.offset = offset; self.length = length }
}

/// What a packing did, for the end-of-run report.
public struct PackingReport: Sendable, Equatable {
    public var documents = 0
    public var tokens = 0
    /// Documents cut into more than one piece.
    public var truncatedDocuments = 0
    public var rows = 0
    public var paddingTokens = 0

    public init() {}
    public var truncatedShare: Double { documents > 0 ? Double(truncatedDocuments) / Double(documents) : 0 }
    public var paddingShare: Double { rows > 0 ? Double(paddingTokens) / Double(paddingTokens + tokens) : 0 }

    public mutating func merge(_ o: PackingReport) {
        documents += o.documents; tokens += o.tokens; truncatedDocuments += o.truncatedDocuments
        rows += o.rows; paddingTokens += o.paddingTokens
    }
}

/// Max segment tree over the capacities 1...L: which remaining capacities some open row has.
struct CapacityTree {
    let size: Int
    var tree: [Int32]

    init(capacity L: Int) {
        var s = 1
        while s < L { s <<= 1 }
        size = s
        tree = [Int32](repeating: 0, count: 2 * s)
    }

    /// Marks capacity `c` (1...L) present or absent.
    mutating func set(_ c: Int, present: Bool) {
        var i = size + c - 1
        tree[i] = present ? Int32(c) : 0
        i >>= 1
        while i >= 1 {
            tree[i] = max(tree[2 * i], tree[2 * i + 1])
            i >>= 1
        }
    }

    /// The smallest present capacity ≥ `need`, or nil.
    /// - Complexity: O(log L).
    func smallest(atLeast need: Int) -> Int? {
        guard tree[1] >= need else { return nil }
        var i = 1
        while i < size {
            i = tree[2 * i] >= need ? 2 * i : 2 * i + 1
        }
        return Int(tree[i])
    }
}

/// Best-fit decreasing over documents of the given lengths.
/// - Returns: rows of pieces (each row's lengths sum to at most L), in creation order.
/// - Complexity: O(N log N) to sort plus O(N log L) to place.
public func packBestFit(lengths: [Int], sequenceLength L: Int, report: inout PackingReport) -> [[Piece]] {
    precondition(L >= 2)
    // 1. Chunks: documents longer than L are cut into L-token chunks.
    var chunks: [Piece] = []
    chunks.reserveCapacity(lengths.count)
    for (d, n) in lengths.enumerated() where n > 0 {
        report.documents += 1
        report.tokens += n
        if n > L { report.truncatedDocuments += 1 }
        var offset = 0
        while offset < n {
            chunks.append(Piece(document: d, offset: offset, length: min(L, n - offset)))
            offset += L
        }
    }
    // 2. Longest first; ties keep input order, so the result is deterministic.
    let order = chunks.indices.sorted { chunks[$0].length != chunks[$1].length ? chunks[$0].length > chunks[$1].length : $0 < $1 }
    // 3. Best fit: the open row with the least room that still fits.
    var tree = CapacityTree(capacity: L)
    var rowsByCapacity = [[Int]](repeating: [], count: L + 1)  // FIFO (front at index 0 via head pointers)
    var heads = [Int](repeating: 0, count: L + 1)
    var rows: [[Piece]] = []
    var room: [Int] = []
    for k in order {
        let piece = chunks[k]
        let row: Int
        if let c = tree.smallest(atLeast: piece.length) {
            row = rowsByCapacity[c][heads[c]]
            heads[c] += 1
            if heads[c] == rowsByCapacity[c].count {
                rowsByCapacity[c].removeAll(keepingCapacity: true); heads[c] = 0
                tree.set(c, present: false)
            }
        } else {
            row = rows.count
            rows.append([])
            room.append(L)
        }
        rows[row].append(piece)
        room[row] -= piece.length
        if room[row] > 0 {
            if rowsByCapacity[room[row]].count == heads[room[row]] { tree.set(room[row], present: true) }
            rowsByCapacity[room[row]].append(row)
        }
    }
    report.rows += rows.count
    report.paddingTokens += room.reduce(0, +)
    return rows
}

/// Concatenate and cut every L tokens (the last row padded).
public func packConcat(lengths: [Int], sequenceLength L: Int, report: inout PackingReport) -> [[Piece]] {
    precondition(L >= 2)
    var rows: [[Piece]] = [[]]
    var used = 0
    for (d, n) in lengths.enumerated() where n > 0 {
        report.documents += 1
        report.tokens += n
        var offset = 0
        var pieces = 0
        while offset < n {
            if used == L { rows.append([]); used = 0 }
            let take = min(L - used, n - offset)
            rows[rows.count - 1].append(Piece(document: d, offset: offset, length: take))
            offset += take; used += take; pieces += 1
        }
        if pieces > 1 { report.truncatedDocuments += 1 }
    }
    if rows.last!.isEmpty { rows.removeLast() }
    report.rows += rows.count
    report.paddingTokens += rows.isEmpty ? 0 : L - used
    return rows
}

/// The order rows are written in when shuffled: a permutation of 0..<count that depends only on
/// `count` and `seed` (Fisher–Yates driven by SplitMix64, written out here rather than the standard
/// library's `shuffle`, whose algorithm may change between Swift releases). `pack` applies it to the
/// rows of all buffers at once, and `merge` applies the same one to the rows of a shard set, which is
/// why both write the same bytes.
/// - Complexity: O(count) time, 8 bytes per row.
public func shuffledRowOrder(count: Int, seed: UInt64) -> [Int] {
    var order = Array(0 ..< count)
    var rng = SplitMix64(seed: seed)
    var i = count - 1
    while i > 0 {
        // An unbiased enough draw in 0...i: the high half of a 64×64-bit product (Lemire).
        let j = Int(rng.next().multipliedFullWidth(by: UInt64(i + 1)).high)
        order.swapAt(i, j)
        i -= 1
    }
    return order
}
