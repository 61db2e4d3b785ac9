// The byte-level BPE model: token bytes by id, the merge table, and the merge loop that turns one
// pre-token into ids.
// Policy: a pair's priority is its merge rank (HF: position in `merges`; tiktoken: the rank of the
// concatenated token, which is how `mergeTable(fromRanks:)` builds the table). Among pairs of equal
// rank the leftmost merges first, as in both peers. With `ignoreMerges` (tiktoken, Llama 3) a
// pre-token that is itself in the vocabulary is emitted whole. Bytes with no single-byte token are
// dropped, as HF does when there is no unk token.
// Cost: pieces of up to `smallPieceLimit` bytes use an O(n²) scan over a flat array (fast for the
// short pieces that dominate text); longer pieces keep their candidate pairs in buckets by rank over a
// linked list (`RankBuckets`): O(n + ranks touched). Time per byte still rises from 100 kB to 1 MB
// pieces: a 1 MB piece's ~30 MB of links and buckets no longer fit the cache (figures below).
//
// Performance notes: both paths exist for the reason tiktoken has `_byte_pair_merge` and
// `_byte_pair_merge_large`: the flat scan has no heap or linked-list overhead and wins on the short
// pieces of ordinary text (the threshold was not tuned here), the long-piece merge bounds the worst
// case. Measured with tools/bench-encode-growth (release, cl100k, one thread, CPU seconds a document,
// 2-core machine shared with other builds, so ±30% between runs):
//   - a binary min-heap of (rank, position) (the first version): one repeated letter 0.0136 s at
//     100 kB, 0.203 s at 1 MB (14.9×); random letters without whitespace 0.0215 s and 0.368 s (17.1×);
//     heap pops were 55% of a 4 MB piece's profile (20 levels, most of them cache misses);
//   - rank buckets as linked lists of single entries: walking the lists took 42% of a 4 MB piece's
//     profile (one cache miss an entry); the whole CLI run on four 1 MB letter pieces 1.6 s of CPU;
//   - buckets as chains of 64-byte blocks of 14 positions (kept): the walk fell to 8%, that run to
//     0.8 s; repeated letter 0.0035–0.0050 s at 100 kB and 0.057 s at 1 MB (11.6–16.2× over two runs),
//     0.43 s at 10 MB (7.5× from 1 MB); random letters 0.011–0.020 s and 0.13–0.18 s (6.5–16.8×):
//     2.5–3.9× faster than the heap at both sizes, the 100 kB → 1 MB growth the same within the noise
//     (tiktoken's and HF's grow 18–30× on these pieces);
//   - id, next and prev of a position in one `Link` instead of three arrays: within the noise; kept
//     for one array instead of three.

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

    /// Merge over a linked list with the candidate pairs in buckets by rank (`RankBuckets`), each
    /// bucket taken in position order, entries invalidated lazily (a stale entry's pair no longer has
    /// its rank): the same merges as the flat scan (lowest rank first, leftmost on ties) in
    /// O(n + ranks touched) instead of a heap's O(n log n).
    private func mergeLarge(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        var links = work.links  // a local copy: no exclusivity checks in the loop
        work.links = []
        defer { work.links = links }
        links.removeAll(keepingCapacity: true)
        for i in 0 ..< n {
            let id = byteIDs[Int(p[i])]
            if id >= 0 { links.append(Link(id: id, next: Int32(links.count + 1), prev: Int32(links.count - 1))) }
        }
        let m = links.count
        if m == 0 { return }
        links[m - 1].next = -1
        work.buckets.prepare(rankLimit: max(merges.count, tokenBytes.count))
        // Pushed left to right: each bucket starts in position order.
        for k in 0 ..< m - 1 {
            if let (r, _) = pairs.get(links[k].id, links[k + 1].id) { work.buckets.push(rank: r, position: Int32(k)) }
        }
        // A merged-away position gets id -1.
        while let rank = work.buckets.takeLowest() {
            var i = 0
            while i < work.buckets.batch.count {
                let pos = Int(work.buckets.batch[i])
                i += 1
                let left = links[pos]
                guard left.id >= 0, left.next >= 0 else { continue }
                let r = Int(left.next)
                let right = links[r]
                guard let (cur, nid) = pairs.get(left.id, right.id), cur == rank else { continue }
                links[pos].id = nid
                links[pos].next = right.next
                links[r].id = -1
                let after = Int(right.next), before = Int(left.prev)
                if after >= 0 {
                    links[after].prev = Int32(pos)
                    if let (r3, _) = pairs.get(nid, links[after].id) { work.buckets.push(rank: r3, position: Int32(pos)) }
                }
                if before >= 0, let (r2, _) = pairs.get(links[before].id, nid) { work.buckets.push(rank: r2, position: Int32(before)) }
                // A lower rank appeared (see RankBuckets): it goes first; the rest of this bucket waits.
                if work.buckets.lowest < rank { work.buckets.putBack(rank: rank, from: i); break }
            }
        }
        var k = 0
        while k >= 0 { out.append(links[k].id); k = Int(links[k].next) }
    }
}

/// One position of a long piece: its token (-1 once merged into the left neighbour) and the
/// neighbours still alive (-1 at the ends), together so a merge touches one cache line a position.
struct Link {
    var id: Int32
    var next: Int32
    var prev: Int32
}

/// Candidate pairs of one long piece in buckets indexed by rank: each bucket a chain of 64-byte blocks
/// of 14 positions in one pool (one cache line per 14 entries when a bucket is read), a two-level
/// bitmap of the non-empty buckets, and the bucket being merged (`batch`, in position order). Every bucket is empty again when a piece is done, so the rank-indexed arrays are allocated
/// once per encoder (4 bytes a rank: 400 kB for cl100k) and never cleared.
/// Why one bucket at a time, in position order, is exact: merging a pair of rank r only creates pairs
/// with the new token, and a pair's rank belongs to that pair alone (HF: its index in `merges`;
/// tiktoken: the rank of its concatenation, here longer than the new token), so no rank-r pair
/// appears while bucket r is merged (`push` checks it). A lower rank can appear (HF merges need not
/// be in the order their parts were made; the `nonMonotoneRanks` test builds one): then the rest of
/// bucket r is put back and the lower bucket is taken first.
struct RankBuckets {
    private var heads: [Int32] = []
    private var words: [UInt64] = []     // bit r: bucket r is non-empty
    private var summary: [UInt64] = []   // bit w: words[w] != 0
    /// Blocks of `blockSize` UInt32: the bucket's previous block (or UInt32.max), the count, positions.
    private var pool: [UInt32] = []
    private var chain: [Int] = []
    private static let blockSize = 16
    /// The bucket being merged, in position order.
    private(set) var batch: [Int32] = []
    /// The lowest rank that may be non-empty.
    private(set) var lowest = Int32.max
    /// The rank of `batch` while it is merged.
    private var merging: Int32 = -1

    mutating func prepare(rankLimit: Int) {
        if heads.count < rankLimit {
            heads = [Int32](repeating: -1, count: rankLimit)
            words = [UInt64](repeating: 0, count: (rankLimit + 63) / 64)
            summary = [UInt64](repeating: 0, count: (words.count + 63) / 64)
        }
        pool.removeAll(keepingCapacity: true)
        batch.removeAll(keepingCapacity: true)
        lowest = Int32.max
        merging = -1
    }

    @inline(__always) mutating func push(rank: Int32, position: Int32) {
        let r = Int(rank)
        precondition(rank != merging, "a pair of the rank being merged appeared")
        var b = Int(heads[r])
        if b < 0 || pool[b + 1] == UInt32(Self.blockSize - 2) {
            let block = pool.count
            pool.append(b < 0 ? UInt32.max : UInt32(b))
            pool.append(0)
            for _ in 2 ..< Self.blockSize { pool.append(0) }
            heads[r] = Int32(block)
            b = block
        }
        let n = Int(pool[b + 1])
        pool[b + 2 + n] = UInt32(bitPattern: position)
        pool[b + 1] = UInt32(n + 1)
        words[r >> 6] |= 1 << UInt64(r & 63)
        summary[r >> 12] |= 1 << UInt64((r >> 6) & 63)
        if rank < lowest { lowest = rank }
    }


    /// Returns the entries of bucket `rank` from `from` on to the bucket (still in position order).
    mutating func putBack(rank: Int32, from: Int) {
        merging = -1
        for k in from ..< batch.count { push(rank: rank, position: batch[k]) }
    }

    /// Empties the lowest non-empty bucket into `batch`, in position order, and returns its rank.
    mutating func takeLowest() -> Int32? {
        guard lowest != Int32.max, let r = firstNonEmpty(from: Int(lowest)) else { lowest = Int32.max; merging = -1; return nil }
        batch.removeAll(keepingCapacity: true)
        chain.removeAll(keepingCapacity: true)
        var block = Int(heads[r])
        while block >= 0 { chain.append(block); let prev = pool[block]; block = prev == UInt32.max ? -1 : Int(prev) }
        // Oldest block first: the entries in push order.
        var sorted = true, last = Int32.min
        for b in chain.reversed() {
            for k in 0 ..< Int(pool[b + 1]) {
                let position = Int32(bitPattern: pool[b + 2 + k])
                if position < last { sorted = false }
                last = position
                batch.append(position)
            }
        }
        if !sorted { batch.sort() }
        heads[r] = -1
        words[r >> 6] &= ~(1 << UInt64(r & 63))
        if words[r >> 6] == 0 { summary[r >> 12] &= ~(1 << UInt64((r >> 6) & 63)) }
        lowest = Int32(r)
        merging = Int32(r)
        return Int32(r)
    }

    private func firstNonEmpty(from start: Int) -> Int? {
        var w = start >> 6
        guard w < words.count else { return nil }
        let first = words[w] & (~0 << UInt64(start & 63))
        if first != 0 { return w << 6 | first.trailingZeroBitCount }
        w += 1
        var s = w >> 6
        guard s < summary.count else { return nil }
        var bits = summary[s] & (w & 63 == 0 ? ~0 : ~0 << UInt64(w & 63))
        while true {
            if bits != 0 {
                let word = s << 6 | bits.trailingZeroBitCount
                return word << 6 | words[word].trailingZeroBitCount
            }
            s += 1
            guard s < summary.count else { return nil }
            bits = summary[s]
        }
    }
}

/// Scratch buffers reused across pieces by one thread.
struct MergeWork {
    var ids: [Int32] = []
    var ranks: [Int32] = []
    var newIDs: [Int32] = []
    var links: [Link] = []
    var buckets = RankBuckets()
}

extension BPEModel {
    /// The long-piece merge on any piece (tests compare it with the flat merge).
    func encodePieceLargeForTest(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        mergeLargeEntry(p, n, into: &out, work: &work)
    }

    /// The flat merge on any piece, even above `smallPieceLimit` (tests compare it with the long-piece merge).
    func encodePieceFlatForTest(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], work: inout MergeWork) {
        mergeSmall(p, n, into: &out, work: &work)
    }
}
