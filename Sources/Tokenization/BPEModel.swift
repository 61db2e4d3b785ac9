// The byte-level BPE model: token bytes by id, the merge table, and the merge loop that turns one
// pre-token into ids.
// Policy: a pair's priority is its merge rank (HF: position in `merges`; tiktoken: the rank of the
// concatenated token, which is how `mergeTable(fromRanks:)` builds the table). Among pairs of equal
// rank the leftmost merges first, as in both peers. With `ignoreMerges` (tiktoken, Llama 3) a
// pre-token that is itself in the vocabulary is emitted whole. Bytes with no single-byte token are
// dropped, as HF does when there is no unk token.
// Cost: pieces of up to `smallPieceLimit` bytes use an O(n²) scan over a flat array (fast for the
// short pieces that dominate text); longer pieces use a min-heap of (rank, position) over a linked
// list, O(n log n), so a 1 MB piece costs about ten times a 100 kB one.
//
// Performance notes: both paths exist for the reason tiktoken has `_byte_pair_merge` and
// `_byte_pair_merge_large`: the flat scan has no heap or linked-list overhead and wins on the short
// pieces of ordinary text (the threshold was not tuned here), the heap bounds the worst case. Measured
// (release, cl100k, 2 cores shared): 1 MB of random letters with no whitespace encodes in 1.0 s vs
// 0.23 s for 100 kB; 1 MB of one repeated letter in 0.27 s vs 0.01 s (tokenizer loading excluded).

/// A byte-level BPE vocabulary and merge table.
public struct BPEModel: Sendable {
    /// Token bytes by id; nil for ids the model does not define (added tokens live in `Tokenizer`).
    public internal(set) var tokenBytes: [[UInt8]?]
    /// Merges in rank order as (left id, right id).
    public internal(set) var merges: [(Int32, Int32)]
    /// Emit a pre-token whole when it is in the vocabulary.
    public var ignoreMerges: Bool
    var byteIDs: [Int32]
    var lookup: ByteStringTable
    var pairs: PairTable

    static let smallPieceLimit = 96

    /// Builds a model from `vocab` (bytes and id) and `merges` (pairs of token bytes, in rank order).
    /// - Throws: `TokenizerError` for duplicate tokens or ids, and merges whose parts or result are
    ///   not in the vocabulary (`mergePath(i)` names the i-th merge for the message).
    /// `extraTokens` are vocabulary entries that are not byte-level strings (an added token's text kept
    /// in the vocabulary): they decode to their bytes but BPE never produces them.
    public init(vocab: [(bytes: [UInt8], id: Int)], merges mergeBytes: [([UInt8], [UInt8])], ignoreMerges: Bool,
                extraTokens: [(bytes: [UInt8], id: Int)] = [],
                vocabPath: String = "vocab", mergePath: (Int) -> String = { "merges[\($0)]" }) throws {
        let maxID = max(vocab.map(\.id).max() ?? -1, extraTokens.map(\.id).max() ?? -1)
        var tokens = [[UInt8]?](repeating: nil, count: maxID + 1)
        var lookup = ByteStringTable(capacity: vocab.count)
        for (bytes, id) in vocab {
            guard id >= 0 && id < Int(Int32.max) else {
                throw TokenizerError.invalid(path: vocabPath, "id \(id) is out of range", hint: nil)
            }
            if tokens[id] != nil {
                throw TokenizerError.invalid(path: vocabPath, "id \(id) is used twice (\(ByteLevel.encode(tokens[id]!).debugDescription) and \(ByteLevel.encode(bytes).debugDescription))", hint: "each id must belong to one token")
            }
            if let other = lookup.insert(bytes, value: Int32(id)) {
                throw TokenizerError.invalid(path: vocabPath, "token \(ByteLevel.encode(bytes).debugDescription) appears twice (ids \(other) and \(id))", hint: nil)
            }
            tokens[id] = bytes
        }
        for (bytes, id) in extraTokens where id >= 0 && tokens[id] == nil { tokens[id] = bytes }
        var table = PairTable(capacity: mergeBytes.count)
        var merges: [(Int32, Int32)] = []
        merges.reserveCapacity(mergeBytes.count)
        for (rank, (a, b)) in mergeBytes.enumerated() {
            guard let l = lookup.get(a) else {
                throw TokenizerError.invalid(path: mergePath(rank), "merge part \(ByteLevel.encode(a).debugDescription) is not in the vocabulary", hint: "the merges do not belong to this vocabulary")
            }
            guard let r = lookup.get(b) else {
                throw TokenizerError.invalid(path: mergePath(rank), "merge part \(ByteLevel.encode(b).debugDescription) is not in the vocabulary", hint: "the merges do not belong to this vocabulary")
            }
            guard let n = lookup.get(a + b) else {
                throw TokenizerError.invalid(path: mergePath(rank), "merge result \(ByteLevel.encode(a + b).debugDescription) is not in the vocabulary", hint: "the merges do not belong to this vocabulary")
            }
            table.set(l, r, rank: Int32(rank), newID: n)
            merges.append((l, r))
        }
        self.init(tokenBytes: tokens, merges: merges, pairs: table, lookup: lookup, ignoreMerges: ignoreMerges)
    }

    init(tokenBytes: [[UInt8]?], merges: [(Int32, Int32)], pairs: PairTable, lookup: ByteStringTable, ignoreMerges: Bool) {
        self.tokenBytes = tokenBytes
        self.merges = merges
        self.pairs = pairs
        self.lookup = lookup
        self.ignoreMerges = ignoreMerges
        var byteIDs = [Int32](repeating: -1, count: 256)
        for b in 0 ..< 256 { byteIDs[b] = lookup.get([UInt8(b)]) ?? -1 }
        self.byteIDs = byteIDs
    }

    /// A model from tiktoken-style ranks (rank = id = priority): a pair may merge when its
    /// concatenation is a token, with that token's rank as priority.
    /// - Complexity: O(Σ token length) to enumerate every split of every token.
    public init(ranks: [(bytes: [UInt8], rank: Int)], vocabPath: String = "ranks") throws {
        let sorted = ranks.sorted { $0.rank < $1.rank }
        let maxID = sorted.last?.rank ?? -1
        var tokens = [[UInt8]?](repeating: nil, count: maxID + 1)
        var lookup = ByteStringTable(capacity: ranks.count)
        for (bytes, rank) in sorted {
            if tokens[rank] != nil { throw TokenizerError.invalid(path: vocabPath, "rank \(rank) is used twice", hint: nil) }
            if let other = lookup.insert(bytes, value: Int32(rank)) {
                throw TokenizerError.invalid(path: vocabPath, "token \(ByteLevel.encode(bytes).debugDescription) appears twice (ranks \(other) and \(rank))", hint: nil)
            }
            tokens[rank] = bytes
        }
        // Merges as transformers' TikTokenConverter writes them: every split of a rank-r token whose
        // halves are tokens, ordered by r, then by the halves' ranks.
        var table = PairTable(capacity: ranks.count * 2)
        var merges: [(Int32, Int32)] = []
        for (bytes, rank) in sorted where bytes.count > 1 {
            var splits: [(Int32, Int32)] = []
            bytes.withUnsafeBufferPointer { b in
                for k in 1 ..< b.count {
                    if let l = lookup.get(b.baseAddress!, k), let r = lookup.get(b.baseAddress! + k, b.count - k) {
                        splits.append((l, r))
                    }
                }
            }
            splits.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            for (l, r) in splits {
                table.set(l, r, rank: Int32(rank), newID: Int32(rank))
                merges.append((l, r))
            }
        }
        self.init(tokenBytes: tokens, merges: merges, pairs: table, lookup: lookup, ignoreMerges: true)
    }

    /// The number of ids the model defines (one past the largest).
    public var idCount: Int { tokenBytes.count }

    /// The id of a token's bytes, or nil.
    public func id(of bytes: [UInt8]) -> Int? { lookup.get(bytes).map(Int.init) }

    /// Appends the ids of one pre-token `p[0..<n]` to `out`.
    func encodePiece(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        if n == 0 { return }
        if n == 1 {
            let id = byteIDs[Int(p[0])]
            if id >= 0 { out.append(id) }
            return
        }
        if ignoreMerges, let id = lookup.get(p, n) { out.append(id); return }
        if n <= Self.smallPieceLimit { mergeSmall(p, n, into: &out, work: &work) } else { mergeLarge(p, n, into: &out, work: &work) }
    }

    /// Flat-array merge: find the lowest rank (leftmost on ties), merge, update the two neighbours.
    private func mergeSmall(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        work.ids.removeAll(keepingCapacity: true)
        work.ranks.removeAll(keepingCapacity: true)
        work.newIDs.removeAll(keepingCapacity: true)
        for i in 0 ..< n {
            let id = byteIDs[Int(p[i])]
            if id >= 0 { work.ids.append(id) }
        }
        var m = work.ids.count
        if m == 0 { return }
        for k in 0 ..< m - 1 {
            if let (r, nid) = pairs.get(work.ids[k], work.ids[k + 1]) { work.ranks.append(r); work.newIDs.append(nid) }
            else { work.ranks.append(Int32.max); work.newIDs.append(-1) }
        }
        work.ids.withUnsafeMutableBufferPointer { ids in
            work.ranks.withUnsafeMutableBufferPointer { ranks in
                work.newIDs.withUnsafeMutableBufferPointer { newIDs in
                    while m > 1 {
                        var best = Int32.max, at = -1
                        for k in 0 ..< m - 1 where ranks[k] < best { best = ranks[k]; at = k }
                        if at < 0 { break }
                        ids[at] = newIDs[at]
                        // Remove ids[at + 1] and the pair entry at `at + 1` (pairs shift left by one).
                        var k = at + 1
                        while k < m - 1 { ids[k] = ids[k + 1]; k += 1 }
                        k = at
                        while k < m - 2 { ranks[k] = ranks[k + 1]; newIDs[k] = newIDs[k + 1]; k += 1 }
                        m -= 1
                        if at > 0 {
                            if let (r, nid) = pairs.get(ids[at - 1], ids[at]) { ranks[at - 1] = r; newIDs[at - 1] = nid }
                            else { ranks[at - 1] = Int32.max }
                        }
                        if at < m - 1 {
                            if let (r, nid) = pairs.get(ids[at], ids[at + 1]) { ranks[at] = r; newIDs[at] = nid }
                            else { ranks[at] = Int32.max }
                        }
                    }
                }
            }
        }
        out.append(contentsOf: work.ids[0 ..< m])
    }

    func mergeLargeEntry(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        mergeLarge(p, n, into: &out, work: &work)
    }

    /// Heap merge over a linked list with lazily invalidated entries, ordered by (rank, position).
    private func mergeLarge(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        var ids = [Int32](), next = [Int32](), prev = [Int32]()
        ids.reserveCapacity(n)
        for i in 0 ..< n {
            let id = byteIDs[Int(p[i])]
            if id >= 0 { ids.append(id) }
        }
        let m = ids.count
        if m == 0 { return }
        next = (0 ..< m).map { Int32($0 + 1) }
        next[m - 1] = -1
        prev = (0 ..< m).map { Int32($0 - 1) }
        var heap = MinHeap64()
        heap.reserve(m)
        for k in 0 ..< m - 1 {
            if let (r, _) = pairs.get(ids[k], ids[k + 1]) { heap.push(UInt64(UInt32(r)) << 32 | UInt64(k)) }
        }
        var alive = [Bool](repeating: true, count: m)
        while let top = heap.pop() {
            let rank = Int32(truncatingIfNeeded: top >> 32)
            let pos = Int(truncatingIfNeeded: top & 0xFFFF_FFFF)
            guard alive[pos] else { continue }
            let r = Int(next[pos])
            guard r >= 0, let (cur, nid) = pairs.get(ids[pos], ids[r]), cur == rank else { continue }
            ids[pos] = nid
            alive[r] = false
            let after = next[r]
            next[pos] = after
            if after >= 0 { prev[Int(after)] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0, let (r2, _) = pairs.get(ids[before], nid) { heap.push(UInt64(UInt32(r2)) << 32 | UInt64(before)) }
            if after >= 0, let (r3, _) = pairs.get(nid, ids[Int(after)]) { heap.push(UInt64(UInt32(r3)) << 32 | UInt64(pos)) }
        }
        var k = 0
        while k >= 0 { out.append(ids[k]); k = Int(next[k]) }
    }
}

/// Scratch buffers reused across pieces by one thread.
struct MergeWork {
    var ids: [Int32] = []
    var ranks: [Int32] = []
    var newIDs: [Int32] = []
}

/// A binary min-heap of packed UInt64 keys.
struct MinHeap64 {
    private var a: [UInt64] = []
    var isEmpty: Bool { a.isEmpty }
    mutating func reserve(_ n: Int) { a.reserveCapacity(n) }
    mutating func push(_ x: UInt64) {
        a.append(x)
        var i = a.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if a[parent] <= x { break }
            a[i] = a[parent]
            i = parent
        }
        a[i] = x
    }
    mutating func pop() -> UInt64? {
        guard let last = a.popLast() else { return nil }
        if a.isEmpty { return last }
        let top = a[0]
        let n = a.count
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && a[l + 1] < a[l] { c = l + 1 }
            if a[c] >= last { break }
            a[i] = a[c]
            i = c
        }
        a[i] = last
        return top
    }
}

extension BPEModel {
    /// The heap merge on any piece (tests compare it with the flat merge).
    func encodePieceLargeForTest(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        mergeLargeEntry(p, n, into: &out, work: &work)
    }

    /// The flat merge on any piece, even above `smallPieceLimit` (tests compare it with the heap merge).
    func encodePieceFlatForTest(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        mergeSmall(p, n, into: &out, work: &work)
    }
}
