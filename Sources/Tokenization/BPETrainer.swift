// Training a byte-level BPE vocabulary with exactly Hugging Face `BpeTrainer`'s merges.
// Policy (tokenizers `models/bpe/trainer.rs`, REFERENCE.md §4):
//   ids: the special tokens first (in order, deduplicated), then the 256 byte characters sorted by code
//   point (GPT-2 order: `!`…`~`, `¡`…`¬`, `®`…`ÿ`, `Ā`…`Ń`), then one id per new token in merge order
//   (a merge whose result already exists reuses its id and does not grow the vocabulary).
//   Loop: pop the pair with the largest count, ties to the smallest (left id, right id); entries are
//   refreshed lazily when their stored count is stale; stop at the vocabulary size or when the best
//   count is below max(1, minFrequency). A merge rewrites, left to right and without overlaps, only
//   the words listed in the popped entry, and applies HF's neighbour deltas (-1 for (prev, a) and
//   (b, next), +1 for (prev, new) and (new, next)); pairs that gained get a fresh entry listing the
//   words where they gained. Mirroring these details (not just "recount and take the max") keeps the
//   merges identical even in the corner cases where HF's bookkeeping is not a plain recount.
// Counts are 64-bit throughout (HF's pair counts are i32 and can wrap on large corpora; identical
// otherwise). Word counting is a sum, so the result does not depend on the thread count.
// Cost: O(Σ word lengths) per merge touched; memory ≈ distinct words × (bytes + 40 B) + pairs × 60 B.
//
// Worked example (minbpe's string as one word, count 1): "aaabdaaabac" has pairs aa×4, ab×2, bd, da,
// ba, ac → merge (a,a) left to right: aa a b d aa a b a c. Now (aa,a)×2 and (a,b)×2 tie; in HF's id
// order `a`=64, `b`=65, `aa`=256, so (64,65) < (256,64) and "ab" wins: aa ab d aa ab a c. Then
// (aa,ab)×2 → "aaab". (`workedExample` in TrainerTests checks exactly this.)

import Foundation
import Normalization

/// Distinct pre-tokens (as bytes) with 64-bit counts.
public struct WordCounts: Sendable {
    var table = ByteStringTable(capacity: 1 << 12)
    public private(set) var counts: [UInt64] = []
    /// Sum of all counts (pre-tokens seen).
    public private(set) var total: UInt64 = 0

    public init() {}

    public var distinct: Int { counts.count }

    /// Adds `count` occurrences of `p[0..<n]`.
    @inline(__always) mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, count: UInt64 = 1) {
        total &+= count
        if let k = table.get(p, n) { counts[Int(k)] &+= count; return }
        table.insert(p, n, value: Int32(counts.count))
        counts.append(count)
    }

    /// Adds `count` occurrences of a word.
    public mutating func add(_ word: [UInt8], count: UInt64) {
        word.withUnsafeBufferPointer { add($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count, count: count) }
    }

    /// Adds every word of `other`.
    public mutating func merge(_ other: WordCounts) {
        other.forEach { bytes, c in bytes.withUnsafeBufferPointer { add($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count, count: c) } }
    }

    /// Calls `body` with each word and its count, in insertion order.
    public func forEach(_ body: ([UInt8], UInt64) -> Void) {
        table.forEachEntry { bytes, k in body(bytes, counts[Int(k)]) }
    }

    /// Approximate memory held, in bytes.
    public var memoryBytes: Int { table.arenaBytes + distinct * 40 }
}

/// Settings of a training run (the CLI's defaults come from here).
public struct BPETrainerConfig: Sendable {
    /// Target vocabulary sizes (specials and the 256 bytes included); training runs to the largest and
    /// the smaller ones are prefixes.
    public var vocabSizes: [Int] = [32768]
    public var specialTokens: [String] = []
    /// Merges need a count of at least this much (HF `min_frequency`; 0 and 1 mean any).
    public var minFrequency: UInt64 = 0
    public var preset: PreTokenizerPreset = .cl100k
    public var normalization: NormalizationForm = .none
    public init() {}
}

/// Counts the pre-tokens of documents: normalization, special-token text removed, pre-tokenization.
/// One per thread; results are merged with `WordCounts.merge` (a sum, so order does not matter).
public final class WordCounter {
    public let config: BPETrainerConfig
    public private(set) var counts = WordCounts()
    private let preTokenizer: PreTokenizer
    private let state: PreTokenizerState
    private let specials: AddedTokenMatcher
    private let normalizer: UTF8Normalizer?
    private var buffer: [UInt8] = []
    private var pieces: [Range<Int>] = []

    public init(config: BPETrainerConfig) throws {
        self.config = config
        preTokenizer = .preset(config.preset)
        state = PreTokenizerState(preTokenizer)
        specials = AddedTokenMatcher(config.specialTokens.enumerated().map { AddedToken(id: $0.offset, content: $0.element) })
        normalizer = config.normalization == .none ? nil : try UTF8Normalizer(config.normalization)
    }

    /// Counts the words of one document.
    public func add(_ text: String) throws {
        var t = text
        try t.withUTF8 { u in
            guard let base = u.baseAddress else { return }
            try specials.split(base, 0 ..< u.count, text: { range in
                buffer.removeAll(keepingCapacity: true)
                if let normalizer, let n = try normalizer.normalize(UnsafeBufferPointer(rebasing: u[range])) {
                    buffer.append(contentsOf: n)
                } else {
                    buffer.append(contentsOf: UnsafeBufferPointer(rebasing: u[range]))
                }
                pieces.removeAll(keepingCapacity: true)
                try preTokenizer.run(&buffer, 0 ..< buffer.count, into: &pieces, state: state)
                buffer.withUnsafeBufferPointer { b in
                    for r in pieces { counts.add(b.baseAddress! + r.lowerBound, r.count) }
                }
            }, token: { _ in })
        }
    }

    /// Hands over the counts so far and starts again from zero.
    public func take() -> WordCounts {
        let c = counts
        counts = WordCounts()
        return c
    }
}

/// The result of training: merges in order and the vocabulary they build.
public struct BPETrainingResult: Sendable {
    /// Merges as (left id, right id, result id), in rank order.
    public var merges: [(Int32, Int32, Int32)]
    /// Token bytes by id (specials' UTF-8 first).
    public var tokens: [[UInt8]]
    public var specialTokens: [String]
    /// The vocabulary size after each merge (non-decreasing; equal when a merge reused an id).
    public var sizeAfterMerge: [Int]

    /// A tokenizer with the first merges that reach `vocabSize` (or all of them).
    public func tokenizer(vocabSize: Int, preset: PreTokenizerPreset, normalization: NormalizationForm) throws -> Tokenizer {
        var mergeCount = merges.count
        if let k = sizeAfterMerge.firstIndex(where: { $0 >= vocabSize }) { mergeCount = k + 1 }
        let base = specialTokens.count + 256
        if vocabSize <= base { mergeCount = 0 }
        let used = merges.prefix(mergeCount)
        let size = mergeCount == 0 ? min(vocabSize, base) : sizeAfterMerge[mergeCount - 1]
        var vocab: [(bytes: [UInt8], id: Int)] = []
        var extra: [(bytes: [UInt8], id: Int)] = []
        for (id, bytes) in tokens.prefix(size).enumerated() {
            if id < specialTokens.count {
                // Specials are vocabulary entries too (as HF writes them) when their text is byte-level.
                if ByteLevel.decode(specialTokens[id]) != nil { vocab.append((bytes, id)) } else { extra.append((bytes, id)) }
            } else {
                vocab.append((bytes, id))
            }
        }
        let mergeBytes = used.map { (tokens[Int($0.0)], tokens[Int($0.1)]) }
        let model = try BPEModel(vocab: vocab, merges: mergeBytes, ignoreMerges: false, extraTokens: extra)
        let added = specialTokens.enumerated().map { AddedToken(id: $0.offset, content: $0.element, special: true) }
        let splitSteps = PreTokenizer.preset(preset).steps
        let pre = PreTokenizer(steps: splitSteps + [.byteLevel(addPrefixSpace: false, useRegex: false)], name: preset.rawValue)
        return Tokenizer(model: model, preTokenizer: pre, normalizers: normalization == .none ? [] : [normalization], addedTokens: added)
    }
}

/// HF-identical BPE training over counted words.
public enum BPETrainer {
    /// An estimate of the merge phase's peak memory, in bytes.
    public static func memoryEstimate(_ words: WordCounts) -> Int {
        words.table.arenaBytes * 6 + words.distinct * 120
    }

    /// Learns merges until the vocabulary reaches `vocabSize`.
    /// - Throws: `TokenizerError.usage` when `vocabSize` is below 256 + the special tokens.
    public static func train(_ words: WordCounts, vocabSize: Int, specialTokens rawSpecials: [String], minFrequency: UInt64 = 0,
                             progress: ((Int) -> Void)? = nil) throws -> BPETrainingResult {
        // 1. Ids: specials (deduplicated, in order), then the byte alphabet in code-point order.
        var specials: [String] = []
        for s in rawSpecials where !specials.contains(s) { specials.append(s) }
        guard vocabSize >= specials.count + 256 else {
            throw TokenizerError.usage("vocabulary size \(vocabSize) is below 256 bytes + \(specials.count) special tokens = \(256 + specials.count)")
        }
        var tokens: [[UInt8]] = specials.map { Array($0.utf8) }
        var byteID = [UInt32](repeating: 0, count: 256)
        for b in ByteLevel.alphabetOrder { byteID[Int(b)] = UInt32(tokens.count); tokens.append([b]) }
        var known = ByteStringTable(capacity: vocabSize)
        for (id, t) in tokens.enumerated() where id >= specials.count { known.insert(t, value: Int32(id)) }
        for (id, s) in specials.enumerated() {
            // A special whose byte-level spelling equals a byte token keeps both (HF keys by string).
            if let b = ByteLevel.decode(s), b.count > 1 { known.insert(b, value: Int32(id)) }
        }

        // 2. Words as symbol ids, with their counts.
        var symbols: [[UInt32]] = []
        var counts: [Int64] = []
        symbols.reserveCapacity(words.distinct)
        words.forEach { bytes, c in
            symbols.append(bytes.map { byteID[Int($0)] })
            counts.append(Int64(clamping: c))
        }

        // 3. Initial pair counts and where each pair occurs.
        var pairCounts: [UInt64: Int64] = [:]
        var where_: [UInt64: [Int32]] = [:]
        for (w, s) in symbols.enumerated() where s.count > 1 {
            for k in 0 ..< s.count - 1 {
                let p = UInt64(s[k]) << 32 | UInt64(s[k + 1])
                pairCounts[p, default: 0] += counts[w]
                where_[p, default: []].append(Int32(w))
            }
        }
        var heap = MergeHeap()
        for (p, var pos) in where_ {
            let c = pairCounts[p]!
            if c > 0 { dedupe(&pos); heap.push(count: c, pair: p, pos: pos) }
        }
        where_.removeAll()

        // 4. The merge loop.
        var merges: [(Int32, Int32, Int32)] = []
        var sizes: [Int] = []
        let minCount = max(1, Int64(clamping: minFrequency))
        var changes: [(UInt64, Int64, Int32)] = []
        while tokens.count < vocabSize {
            guard var top = heap.pop() else { break }
            let current = pairCounts[top.pair] ?? 0
            if top.count != current {
                top.count = current
                heap.push(top)
                continue
            }
            if top.count < minCount { break }
            let a = UInt32(top.pair >> 32), b = UInt32(top.pair & 0xFFFF_FFFF)
            let newBytes = tokens[Int(a)] + tokens[Int(b)]
            let newID: UInt32
            if let existing = known.get(newBytes) { newID = UInt32(existing) } else {
                newID = UInt32(tokens.count)
                tokens.append(newBytes)
                known.insert(newBytes, value: Int32(newID))
            }
            merges.append((Int32(a), Int32(b), Int32(newID)))
            sizes.append(tokens.count)
            progress?(tokens.count)

            changes.removeAll(keepingCapacity: true)
            for w in heap.positions(of: top) {
                mergeWord(&symbols[Int(w)], a, b, newID, word: w, into: &changes)
            }
            for (p, delta, w) in changes {
                pairCounts[p, default: 0] += delta * counts[Int(w)]
                if delta > 0 { where_[p, default: []].append(w) }
            }
            for (p, var pos) in where_ {
                let c = pairCounts[p]!
                if c > 0 { dedupe(&pos); heap.push(count: c, pair: p, pos: pos) }
            }
            where_.removeAll(keepingCapacity: true)
            heap.release(top)
        }
        return BPETrainingResult(merges: merges, tokens: tokens, specialTokens: specials, sizeAfterMerge: sizes)
    }

    /// HF `Word::merge`: replaces each non-overlapping (a, b), left to right, recording neighbour deltas.
    @inline(__always)
    static func mergeWord(_ s: inout [UInt32], _ a: UInt32, _ b: UInt32, _ new: UInt32, word: Int32, into changes: inout [(UInt64, Int64, Int32)]) {
        var i = 0
        while i < s.count {
            if s[i] == a && i + 1 < s.count && s[i + 1] == b {
                if i > 0 {
                    changes.append((UInt64(s[i - 1]) << 32 | UInt64(a), -1, word))
                    changes.append((UInt64(s[i - 1]) << 32 | UInt64(new), 1, word))
                }
                s[i] = new
                s.remove(at: i + 1)
                if i < s.count - 1 {
                    changes.append((UInt64(b) << 32 | UInt64(s[i + 1]), -1, word))
                    changes.append((UInt64(new) << 32 | UInt64(s[i + 1]), 1, word))
                }
            }
            i += 1
        }
    }

    private static func dedupe(_ a: inout [Int32]) {
        if a.count < 2 { return }
        a.sort()
        var k = 1
        for i in 1 ..< a.count where a[i] != a[k - 1] { a[k] = a[i]; k += 1 }
        a.removeLast(a.count - k)
    }
}

/// HF's merge queue: a max-heap by count, ties to the smaller pair, each entry carrying its word list.
struct MergeHeap {
    struct Entry { var count: Int64; var pair: UInt64; var slot: Int32 }
    private var heap: [Entry] = []
    private var lists: [[Int32]] = []
    private var freeSlots: [Int32] = []

    @inline(__always) private static func before(_ x: Entry, _ y: Entry) -> Bool {
        x.count != y.count ? x.count > y.count : x.pair < y.pair
    }

    mutating func push(count: Int64, pair: UInt64, pos: [Int32]) {
        let slot: Int32
        if let f = freeSlots.popLast() { slot = f; lists[Int(f)] = pos } else { slot = Int32(lists.count); lists.append(pos) }
        push(Entry(count: count, pair: pair, slot: slot))
    }

    mutating func push(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !Self.before(e, heap[parent]) { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = e
    }

    mutating func pop() -> Entry? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        let n = heap.count
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && Self.before(heap[l + 1], heap[l]) { c = l + 1 }
            if !Self.before(heap[c], last) { break }
            heap[i] = heap[c]
            i = c
        }
        heap[i] = last
        return top
    }

    func positions(of e: Entry) -> [Int32] { lists[Int(e.slot)] }

    mutating func release(_ e: Entry) {
        lists[Int(e.slot)] = []
        freeSlots.append(e.slot)
    }
}
