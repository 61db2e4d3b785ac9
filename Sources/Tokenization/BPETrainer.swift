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
    var table: ByteStringTable
    public private(set) var counts: [UInt64] = []
    /// Sum of all counts (pre-tokens seen).
    public private(set) var total: UInt64 = 0

    public init() { table = ByteStringTable(capacity: 1 << 12) }

    /// Counts with room for `capacity` words of `arenaCapacity` bytes in all, allocated up front so that
    /// `hasRoom` tells when one more would make an array grow.
    public init(capacity: Int, arenaCapacity: Int) {
        table = ByteStringTable(capacity: capacity, arenaCapacity: arenaCapacity)
        counts.reserveCapacity(capacity)
    }

    public var distinct: Int { counts.count }

    /// Adds `count` occurrences of `p[0..<n]`.
    @inline(__always) mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, count: UInt64 = 1) {
        total &+= count
        if let k = table.get(p, n) { counts[Int(k)] &+= count; return }
        table.insert(p, n, value: Int32(counts.count))
        counts.append(count)
    }

    /// Adds `count` occurrences of a word.
    public mutating func add(_ word: UnsafeBufferPointer<UInt8>, count: UInt64) {
        add(word.baseAddress ?? UnsafePointer(bitPattern: 1)!, word.count, count: count)
    }

    /// Adds `count` occurrences of a word.
    public mutating func add(_ word: [UInt8], count: UInt64) {
        word.withUnsafeBufferPointer { add($0, count: count) }
    }

    /// Whether `word` is held already or one more word of its length fits without any array growing.
    public func hasRoom(for word: UnsafeBufferPointer<UInt8>) -> Bool {
        table.hasRoom(forBytes: word.count) || table.get(word.baseAddress ?? UnsafePointer(bitPattern: 1)!, word.count) != nil
    }

    /// Adds every word of `other`.
    public mutating func merge(_ other: WordCounts) {
        other.forEachWord { add($0, count: $1) }
    }

    /// Calls `body` with each word and its count, in insertion order.
    public func forEach(_ body: ([UInt8], UInt64) -> Void) {
        table.forEachEntry { bytes, k in body(bytes, counts[Int(k)]) }
    }

    /// Calls `body` with each word (valid only during the call) and its count, in insertion order.
    public func forEachWord(_ body: (UnsafeBufferPointer<UInt8>, UInt64) throws -> Void) rethrows {
        for e in 0 ..< table.count { try table.withEntry(e) { bytes, k in try body(bytes, counts[Int(k)]) } }
    }

    /// Empties the counts, keeping the memory for the next ones.
    public mutating func removeAll() {
        table.removeAll()
        counts.removeAll(keepingCapacity: true)
        total = 0
    }

    /// Memory in use, in bytes (the arrays' elements and the whole hash table: what is resident).
    public var usedBytes: Int { table.usedBytes + 8 * counts.count }

    /// Memory held, in bytes (the arrays' capacities).
    public var memoryBytes: Int { table.memoryBytes + 8 * counts.capacity }

    /// Memory a word costs while counting, beside its bytes: three 4-byte and two 8-byte fields, 4 bytes
    /// of sort order when spilled, and two to four 4-byte hash slots.
    public static let bytesPerWord = 44
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

/// The words the merge phase works on, compactly: every pre-token of two bytes or more (a one-byte
/// pre-token has no pair to merge and cannot change the merges), its symbols back to back in one
/// `[UInt32]` (byte values until training maps them to ids, then token ids; a word that shrank is
/// padded with `UInt32.max`), where each starts, and its count.
/// A class: training rewrites the symbols in place, so the words are used once and never copied.
public final class TrainingWords {
    var symbols: [UInt32] = []
    var starts: [Int] = [0]
    var counts: [Int64] = []
    /// Sum of the bytes of the words held.
    public private(set) var bytes = 0

    /// Room for `words` words of `bytes` bytes in all (nothing is reallocated while they fit).
    public init(reservingWords words: Int = 0, bytes: Int = 0) {
        symbols.reserveCapacity(bytes)
        starts.reserveCapacity(words + 1)
        counts.reserveCapacity(words)
    }

    /// The words of `counts` (in their insertion order).
    public convenience init(_ words: WordCounts) {
        var n = 0, total = 0
        words.forEachWord { w, _ in if w.count > 1 { n += 1; total += w.count } }
        self.init(reservingWords: n, bytes: total)
        words.forEachWord { append($0, count: $1) }
    }

    public var count: Int { counts.count }

    /// Adds a word; a word shorter than two bytes is skipped.
    public func append(_ word: UnsafeBufferPointer<UInt8>, count: UInt64) {
        guard word.count > 1 else { return }
        for b in word { symbols.append(UInt32(b)) }
        starts.append(symbols.count)
        counts.append(Int64(clamping: count))
        bytes += word.count
    }
}

/// Distinct pre-tokens by count, to choose which to set aside when the merge phase must fit in a memory
/// bound. The rule: keep every pre-token whose count is at least a threshold T, the smallest T for which
/// the kept words' merge-phase memory (`BPETrainer.memoryCost`) fits; set aside the rest (only
/// pre-tokens of two bytes or more count: one byte has no pair). Deterministic, and it drops the words
/// that weigh least in the pair counts first.
public struct PreTokenHistogram: Sendable {
    struct Bucket: Sendable { var words = 0, cost = 0, textBytes = 0; var corpusBytes: UInt64 = 0 }
    var buckets: [UInt64: Bucket] = [:]
    /// Bytes of every pre-token occurrence in the corpus (count × length, one-byte pre-tokens included).
    public private(set) var corpusBytes: UInt64 = 0
    /// The vocabulary size whose merge-phase costs are counted.
    public let vocabSize: Int
    /// Distinct pre-tokens (one-byte ones included) and their occurrences.
    public private(set) var distinct = 0
    public private(set) var occurrences: UInt64 = 0
    /// The largest count.
    public var largestCount: UInt64 { buckets.keys.max() ?? 1 }

    public init(vocabSize: Int) { self.vocabSize = vocabSize }

    /// The histogram of `words`.
    public init(_ words: WordCounts, vocabSize: Int) {
        self.vocabSize = vocabSize
        words.forEachWord { add(length: $0.count, count: $1) }
    }

    public mutating func add(length: Int, count: UInt64) {
        corpusBytes &+= count &* UInt64(length)
        distinct += 1
        occurrences &+= count
        guard length > 1 else { return }
        buckets[count, default: Bucket()].words += 1
        buckets[count]!.cost += BPETrainer.memoryCost(length: length, vocabSize: vocabSize)
        buckets[count]!.textBytes += length
        buckets[count]!.corpusBytes &+= count &* UInt64(length)
    }

    /// The smallest threshold whose kept words cost at most `budget` bytes: 1 when all fit, nil when not
    /// even the words of the largest count do.
    public func threshold(budget: Int) -> UInt64? {
        var cost = 0
        var t: UInt64? = nil
        for c in buckets.keys.sorted(by: >) {
            cost += buckets[c]!.cost
            if cost > budget { return t }
            t = c
        }
        return 1
    }

    /// The words of two bytes or more with a count of at least `threshold`: how many, their bytes, their
    /// merge-phase memory and the corpus bytes they stand for.
    public func kept(threshold: UInt64) -> (words: Int, textBytes: Int, cost: Int, corpusBytes: UInt64) {
        var r = (words: 0, textBytes: 0, cost: 0, corpusBytes: UInt64(0))
        for (c, b) in buckets where c >= threshold {
            r.words += b.words; r.textBytes += b.textBytes; r.cost += b.cost; r.corpusBytes &+= b.corpusBytes
        }
        return r
    }

    /// The words of two bytes or more set aside by `threshold`: how many and the corpus bytes they stand for.
    public func setAside(threshold: UInt64) -> (words: Int, corpusBytes: UInt64) {
        var r = (words: 0, corpusBytes: UInt64(0))
        for (c, b) in buckets where c < threshold { r.words += b.words; r.corpusBytes &+= b.corpusBytes }
        return r
    }
}

/// HF-identical BPE training over counted words.
public enum BPETrainer {
    /// What the merge phase holds for one word of `length` bytes in a `vocabSize` run, in bytes, beyond
    /// `fixedMemory`; 0 below two bytes. Its parts: the symbols (4 B a byte), start and count (16 B),
    /// the word's place in the position lists of its pairs (4 B a pair at the start), and what the
    /// merges add as they go, which grows with the vocabulary: pair counts and heap entries (24 B
    /// each) for the new pairs, the lists of the words where pairs gained. The constants are fitted
    /// to peak RSS measured on the bundled corpus and 256 MB and 1 GB of the scale corpus at 4,096,
    /// 32,768 and 65,536 (see the README): the estimate is 2–17% above the exact runs' peaks there.
    public static func memoryCost(length: Int, vocabSize: Int) -> Int {
        guard length > 1 else { return 0 }
        return 12 + 18 * vocabSize / 32768 + (8 + 4 * min(vocabSize, 32768) / 32768) * length
    }

    /// The merge phase's memory besides the words' (the vocabulary, merges, the pair tables and heap
    /// entries that do not grow with the words, the transient peak of loading them).
    public static func fixedMemory(vocabSize: Int) -> Int { (40 << 20) + vocabSize * 256 }

    /// An estimate of the merge phase's peak memory for `words`, in bytes.
    public static func memoryEstimate(_ words: WordCounts, vocabSize: Int = 32768) -> Int {
        var total = fixedMemory(vocabSize: vocabSize)
        words.forEachWord { w, _ in total += memoryCost(length: w.count, vocabSize: vocabSize) }
        return total
    }

    /// Learns merges until the vocabulary reaches `vocabSize`.
    /// - Throws: `TokenizerError.usage` when `vocabSize` is below 256 + the special tokens.
    public static func train(_ words: WordCounts, vocabSize: Int, specialTokens rawSpecials: [String], minFrequency: UInt64 = 0,
                             progress: ((Int) -> Void)? = nil) throws -> BPETrainingResult {
        try train(TrainingWords(words), vocabSize: vocabSize, specialTokens: rawSpecials, minFrequency: minFrequency, progress: progress)
    }

    /// Learns merges until the vocabulary reaches `vocabSize`, rewriting `words` (use them once).
    /// The merges do not depend on the order of the words.
    /// - Throws: `TokenizerError.usage` when `vocabSize` is below 256 + the special tokens.
    public static func train(_ words: TrainingWords, vocabSize: Int, specialTokens rawSpecials: [String], minFrequency: UInt64 = 0,
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

        // 2. Words as symbol ids (in place), with their counts.
        let counts = words.counts, starts = words.starts
        words.symbols.withUnsafeMutableBufferPointer { s in for i in s.indices { s[i] = byteID[Int(s[i])] } }

        // 3. Initial pair counts and where each pair occurs: counted first so each position list is
        // allocated once at its size (words are visited in order, so a list is sorted and a repeat of
        // the same word is the last element).
        var pairCounts: [UInt64: Int64] = [:]
        var listIndex: [UInt64: Int] = [:]
        var listSizes: [Int] = []
        var lastWord: [Int32] = []
        words.symbols.withUnsafeBufferPointer { s in
            for w in 0 ..< counts.count {
                for k in starts[w] ..< starts[w + 1] - 1 {
                    let p = UInt64(s[k]) << 32 | UInt64(s[k + 1])
                    pairCounts[p, default: 0] += counts[w]
                    let i = listIndex[p] ?? { listIndex[p] = listSizes.count; listSizes.append(0); lastWord.append(-1); return listSizes.count - 1 }()
                    if lastWord[i] != Int32(w) { lastWord[i] = Int32(w); listSizes[i] += 1 }
                }
            }
        }
        var lists = [[Int32]](repeating: [], count: listSizes.count)
        for i in lists.indices { lists[i].reserveCapacity(listSizes[i]) }
        words.symbols.withUnsafeBufferPointer { s in
            for w in 0 ..< counts.count {
                for k in starts[w] ..< starts[w + 1] - 1 {
                    let i = listIndex[UInt64(s[k]) << 32 | UInt64(s[k + 1])]!
                    if lists[i].last != Int32(w) { lists[i].append(Int32(w)) }
                }
            }
        }
        var heap = MergeHeap()
        for (p, i) in listIndex {
            let c = pairCounts[p]!
            let pos = lists[i]
            lists[i] = []
            if c > 0 { heap.push(count: c, pair: p, pos: pos) }
        }
        listIndex = [:]
        lists = []

        // 4. The merge loop.
        var merges: [(Int32, Int32, Int32)] = []
        var sizes: [Int] = []
        let minCount = max(1, Int64(clamping: minFrequency))
        var changes: [(UInt64, Int64, Int32)] = []
        var where_: [UInt64: [Int32]] = [:]
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

            // Each word's deltas are applied before the next word (sums do not depend on the order, and
            // the words gaining a pair are still listed in increasing order, so a repeated word is the
            // list's last element): the changes never outgrow one word.
            words.symbols.withUnsafeMutableBufferPointer { s in
                for w in heap.positions(of: top) {
                    let start = starts[Int(w)]
                    changes.removeAll(keepingCapacity: true)
                    mergeWord(s.baseAddress! + start, starts[Int(w) + 1] - start, a, b, newID, word: w, into: &changes)
                    for (p, delta, _) in changes {
                        pairCounts[p, default: 0] += delta * counts[Int(w)]
                        if delta > 0 && where_[p]?.last != w { where_[p, default: []].append(w) }
                    }
                }
            }
            for (p, pos) in where_ {
                let c = pairCounts[p]!
                if c > 0 { heap.push(count: c, pair: p, pos: pos) }
            }
            where_.removeAll(keepingCapacity: true)
            heap.release(top)
        }
        return BPETrainingResult(merges: merges, tokens: tokens, specialTokens: specials, sizeAfterMerge: sizes)
    }

    /// HF `Word::merge` on the `capacity` symbols at `s` (padded with `UInt32.max` past the word's end):
    /// replaces each non-overlapping (a, b), left to right, recording neighbour deltas.
    @inline(__always)
    static func mergeWord(_ s: UnsafeMutablePointer<UInt32>, _ capacity: Int, _ a: UInt32, _ b: UInt32, _ new: UInt32,
                          word: Int32, into changes: inout [(UInt64, Int64, Int32)]) {
        var n = capacity
        while n > 0 && s[n - 1] == UInt32.max { n -= 1 }
        // subtle: reading at r and writing at w ≤ r, the left neighbour s[w - 1] is already rewritten (as
        // in HF, where the word shrinks as it goes) and the right one s[r + 2] is not yet.
        var r = 0, w = 0
        while r < n {
            if r + 1 < n && s[r] == a && s[r + 1] == b {
                if w > 0 {
                    changes.append((UInt64(s[w - 1]) << 32 | UInt64(a), -1, word))
                    changes.append((UInt64(s[w - 1]) << 32 | UInt64(new), 1, word))
                }
                s[w] = new
                if r + 2 < n {
                    changes.append((UInt64(b) << 32 | UInt64(s[r + 2]), -1, word))
                    changes.append((UInt64(new) << 32 | UInt64(s[r + 2]), 1, word))
                }
                w += 1
                r += 2
            } else {
                s[w] = s[r]
                w += 1
                r += 1
            }
        }
        for k in w ..< n { s[k] = UInt32.max }
    }
}

/// HF's merge queue: a max-heap by count, ties to the smaller pair, each entry carrying its word list.
/// A list of one word (most entries pushed during the merges) is kept in the entry itself (slot < 0:
/// word -1 - slot) rather than in an array, whose header and allocation would cost 60 bytes.
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
        if pos.count == 1 { slot = -1 - pos[0] } else if let f = freeSlots.popLast() { slot = f; lists[Int(f)] = pos } else {
            slot = Int32(lists.count)
            lists.append(pos)
        }
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

    func positions(of e: Entry) -> [Int32] { e.slot < 0 ? [-1 - e.slot] : lists[Int(e.slot)] }

    mutating func release(_ e: Entry) {
        if e.slot < 0 { return }
        lists[Int(e.slot)] = []
        freeSlots.append(e.slot)
    }
}
