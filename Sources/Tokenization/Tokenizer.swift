// The tokenizer: added tokens, normalization, pre-tokenization and the BPE model, in Hugging Face's
// order. Encoding runs on a per-thread `TokenEncoder` (ICU matchers, scratch buffers and a cache of
// encoded pre-tokens); `Tokenizer` itself is immutable and shared.
// Policy: added tokens that are not special are always recognized in text (as HF does); special
// tokens only when the caller allows them (as tiktoken's `allowed_special`), otherwise their text is
// encoded like any other. Matching is leftmost-longest. Tokens with `normalized: false` are matched in
// the raw text, the others in the normalized text. Decoding maps model tokens to their bytes and added
// tokens to their content.
// Cost: the cache holds up to 262,144 pre-tokens shorter than 256 bytes per encoder and is cleared whole
// when full.

import CorpusIO
import Dispatch
import Foundation
import Normalization

/// A token added on top of the BPE vocabulary (HF `added_tokens`).
public struct AddedToken: Sendable, Hashable {
    public var id: Int
    public var content: String
    public var special: Bool
    public var normalized: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var singleWord: Bool

    public init(id: Int, content: String, special: Bool = true, normalized: Bool = false, lstrip: Bool = false,
                rstrip: Bool = false, singleWord: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
    }
}

/// A byte-level BPE tokenizer. Immutable and thread-safe; encode through `makeEncoder()` on each thread
/// or through the convenience methods.
public final class Tokenizer: Sendable {
    public let model: BPEModel
    public let preTokenizer: PreTokenizer
    /// Normalization forms applied in order (empty: none).
    public let normalizers: [NormalizationForm]
    public let addedTokens: [AddedToken]
    /// Extra settings kept so that a saved tokenizer.json round-trips (post-processor, decoder).
    public let extras: TokenizerExtras
    let decodeTable: [[UInt8]?]
    let rawMatcher: [Bool: AddedTokenMatcher]
    let normalizedMatcher: [Bool: AddedTokenMatcher]
    /// Idle encoders for the convenience methods (at most a few kept).
    private let pool = WorkerPool<TokenEncoder>(keep: 4)

    public init(model: BPEModel, preTokenizer: PreTokenizer, normalizers: [NormalizationForm] = [],
                addedTokens: [AddedToken] = [], extras: TokenizerExtras = TokenizerExtras()) {
        self.model = model
        self.preTokenizer = preTokenizer
        self.normalizers = normalizers.filter { $0 != .none }
        self.addedTokens = addedTokens
        self.extras = extras
        var table = model.tokenBytes
        for t in addedTokens {
            if t.id >= table.count { table += [[UInt8]?](repeating: nil, count: t.id + 1 - table.count) }
            table[t.id] = Array(t.content.utf8)
        }
        decodeTable = table
        let hasNormalizer = !self.normalizers.isEmpty
        var raw: [Bool: AddedTokenMatcher] = [:], normalized: [Bool: AddedTokenMatcher] = [:]
        for allow in [false, true] {
            let usable = addedTokens.filter { allow || !$0.special }
            raw[allow] = AddedTokenMatcher(usable.filter { !hasNormalizer || !$0.normalized })
            normalized[allow] = AddedTokenMatcher(hasNormalizer ? usable.filter { $0.normalized } : [])
        }
        rawMatcher = raw
        normalizedMatcher = normalized
    }

    /// One past the largest id (model vocabulary and added tokens).
    public var vocabularySize: Int { decodeTable.count }

    /// The id of a special or added token's content.
    public func addedTokenID(_ content: String) -> Int? { addedTokens.first { $0.content == content }?.id }

    /// The bytes of a token, or nil for an id with no token.
    public func tokenBytes(_ id: Int) -> [UInt8]? { id >= 0 && id < decodeTable.count ? decodeTable[id] : nil }

    /// A per-thread encoder.
    public func makeEncoder() throws -> TokenEncoder { try TokenEncoder(self) }

    /// Runs `body` with an encoder from a small shared pool (so convenience calls keep their cache).
    public func withEncoder<R>(_ body: (TokenEncoder) throws -> R) throws -> R {
        let encoder = try pool.take(orMake: makeEncoder)
        defer { encoder.splitPunctuationNewline = 0; encoder.startDocument(key: nil); pool.give(encoder) }
        return try body(encoder)
    }

    /// Encodes a string (with a pooled encoder; threads that encode a lot should own one from
    /// `makeEncoder()`).
    public func encode(_ text: String, allowSpecial: Bool = false) throws -> [Int] {
        try withEncoder { try $0.encode(text, allowSpecial: allowSpecial).map(Int.init) }
    }

    /// Encodes UTF-8 bytes (invalid sequences are encoded byte by byte, without normalization).
    public func encode(bytes: [UInt8], allowSpecial: Bool = false) throws -> [Int] {
        try withEncoder { try $0.encode(bytes: bytes, allowSpecial: allowSpecial).map(Int.init) }
    }

    /// Encodes a batch on `threads` threads; the result keeps the input order.
    public func encodeBatch(_ texts: [String], allowSpecial: Bool = false, threads: Int = 2) throws -> [[Int]] {
        let results = UnsafeResults<[Int]>(count: texts.count)
        let chunks = max(1, min(threads, texts.count))
        let failure = UnsafeResults<any Error>(count: chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            do {
                let encoder = try makeEncoder()
                var i = c
                while i < texts.count {
                    results.set(i, try encoder.encode(texts[i], allowSpecial: allowSpecial).map(Int.init))
                    i += chunks
                }
            } catch { failure.set(c, error) }
        }
        if let e = failure.values.compactMap({ $0 }).first { throw e }
        return results.values.map { $0 ?? [] }
    }

    /// The bytes of `ids` joined.
    /// - Throws: `TokenizerError.unknownID` for an id with no token.
    public func decodeBytes<C: Sequence>(_ ids: C) throws -> [UInt8] where C.Element: BinaryInteger {
        var out: [UInt8] = []
        for id in ids {
            let i = Int(id)
            guard i >= 0, i < decodeTable.count, let b = decodeTable[i] else { throw TokenizerError.unknownID(i, vocabularySize: decodeTable.count) }
            out.append(contentsOf: b)
        }
        return out
    }

    /// The text of `ids`; invalid UTF-8 (a cut multi-byte character) becomes U+FFFD, as in HF.
    public func decode<C: Sequence>(_ ids: C) throws -> String where C.Element: BinaryInteger {
        String(decoding: try decodeBytes(ids), as: UTF8.self)
    }
}

/// Settings with no effect on encoding that a tokenizer.json carries (kept for saving).
public struct TokenizerExtras: Sendable {
    /// The `post_processor` and `decoder` JSON text, verbatim (nil: the byte-level defaults).
    public var postProcessorJSON: String?
    public var decoderJSON: String?
    public init(postProcessorJSON: String? = nil, decoderJSON: String? = nil) {
        self.postProcessorJSON = postProcessorJSON
        self.decoderJSON = decoderJSON
    }
}

/// Results written by concurrent workers at distinct indices (raw storage: a Swift array property
/// written from several threads would trip the exclusivity checks).
final class UnsafeResults<T>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<T?>
    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }
    deinit {
        storage.baseAddress?.deinitialize(count: storage.count)
        storage.deallocate()
    }
    func set(_ i: Int, _ v: T) { storage[i] = v }
    var values: [T?] { Array(storage) }
}

/// Finds added tokens in text: leftmost, then longest.
struct AddedTokenMatcher: Sendable {
    struct Entry: Sendable { var bytes: [UInt8]; var id: Int32; var lstrip, rstrip, singleWord: Bool }
    /// Candidates by first byte, longest first.
    private var byFirst: [[Entry]]
    /// Bit b set when some token starts with byte b (a cheap test before looking at candidates).
    private var firstBits: [UInt64] = [0, 0, 0, 0]
    let isEmpty: Bool

    init(_ tokens: [AddedToken]) {
        var by = [[Entry]](repeating: [], count: 256)
        for t in tokens where !t.content.isEmpty {
            let b = Array(t.content.utf8)
            by[Int(b[0])].append(Entry(bytes: b, id: Int32(t.id), lstrip: t.lstrip, rstrip: t.rstrip, singleWord: t.singleWord))
        }
        for i in 0 ..< 256 { by[i].sort { $0.bytes.count > $1.bytes.count } }
        byFirst = by
        for i in 0 ..< 256 where !by[i].isEmpty { firstBits[i >> 6] |= 1 << UInt64(i & 63) }
        isEmpty = tokens.allSatisfy { $0.content.isEmpty }
    }

    /// Calls `text(range)` for each stretch of ordinary text and `token(id)` for each added token, in order.
    func split(_ p: UnsafePointer<UInt8>, _ range: Range<Int>, text: (Range<Int>) throws -> Void, token: (Int32) throws -> Void) rethrows {
        if isEmpty { if !range.isEmpty { try text(range) }; return }
        var textStart = range.lowerBound
        var i = range.lowerBound
        let end = range.upperBound
        let bits = (firstBits[0], firstBits[1], firstBits[2], firstBits[3])
        while i < end {
            let b = Int(p[i])
            let word = b < 128 ? (b < 64 ? bits.0 : bits.1) : (b < 192 ? bits.2 : bits.3)
            if word & (1 << UInt64(b & 63)) == 0 { i += 1; continue }
            var matched: Entry? = nil
            for e in byFirst[Int(p[i])] where i + e.bytes.count <= end {
                let ok = e.bytes.withUnsafeBufferPointer { memcmpEqual(p + i, $0.baseAddress!, $0.count) }
                if ok && (!e.singleWord || isWordBoundary(p, range, i, i + e.bytes.count)) { matched = e; break }
            }
            guard let m = matched else { i += 1; continue }
            var s = i, e = i + m.bytes.count
            if m.lstrip { while s > textStart && isASCIISpace(p[s - 1]) { s -= 1 } }
            if m.rstrip { while e < end && isASCIISpace(p[e]) { e += 1 } }
            if s > textStart { try text(textStart ..< s) }
            try token(m.id)
            i = e
            textStart = e
        }
        if textStart < end { try text(textStart ..< end) }
    }

    private func isWordBoundary(_ p: UnsafePointer<UInt8>, _ range: Range<Int>, _ s: Int, _ e: Int) -> Bool {
        func isWord(_ b: UInt8) -> Bool { isASCIILetter(b) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b >= 0x80 }
        if s > range.lowerBound && isWord(p[s - 1]) { return false }
        if e < range.upperBound && isWord(p[e]) { return false }
        return true
    }
}

@inline(__always) func isASCIISpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

/// One thread's encoder: normalizers, ICU matchers, scratch buffers and the pre-token cache.
public final class TokenEncoder {
    public let tokenizer: Tokenizer
    private var textNormalizers: [UTF8Normalizer] = []
    private let preState: PreTokenizerState
    private var work = MergeWork()
    private var buffer: [UInt8] = []
    private var pieces: [Range<Int>] = []
    private var cache = ByteStringTable(capacity: 1 << 10)
    private var cacheStarts: [Int32] = [0]
    private var cacheIDs: [Int32] = []
    static let cacheCapacity = 1 << 18
    static let cacheMaxLength = 256
    /// Pre-tokens encoded and how many came from the cache (for stats).
    public private(set) var piecesEncoded = 0
    public private(set) var cacheHits = 0
    /// Token-boundary randomization (DeepSeek-V3 §4.1): with this probability, a pre-token that joins
    /// punctuation and a line break (`!\n`, `.\n\n`) is encoded as its two parts instead. 0 = off.
    public var splitPunctuationNewline: Double = 0
    /// Seed of the randomization. Without a document key (`startDocument(key:)`), each encode call's
    /// choices depend only on the seed and its text; with one, on the seed, the key and the order of
    /// the calls since. Either way the output does not depend on thread count or order.
    public var seed: UInt64 = 0
    private var rng: UInt64 = 0
    /// True between `startDocument(key: k)` and `startDocument(key: nil)`: encode calls continue one stream.
    private var keyed = false
    /// Pre-tokens split by the randomization so far.
    public private(set) var randomizedSplits = 0
    /// Pre-tokens that join punctuation and a line break (those the randomization may split) encoded
    /// so far, whatever the rate.
    public private(set) var randomizationCandidates = 0

    init(_ tokenizer: Tokenizer) throws {
        self.tokenizer = tokenizer
        for form in tokenizer.normalizers { textNormalizers.append(try UTF8Normalizer(form)) }
        preState = PreTokenizerState(tokenizer.preTokenizer)
    }

    /// Seeds the token-boundary randomization for one document: the encode calls that follow draw
    /// from one stream that depends only on `seed` and `key` (a document's position, say), in call
    /// order, until the next call; nil goes back to seeding each call from its text. Keyed choices do
    /// not depend on the text, so identical documents at different positions are split differently.
    public func startDocument(key: UInt64?) {
        guard let key else { keyed = false; return }
        keyed = true
        // A multiplier other than FIM's, so a shared seed and key give unrelated streams.
        rng = seed ^ (key &* 0x9E6C_63D0_676A_9A99) ^ 0x7B0A_5D1E_C3A1_B4F2
    }

    /// The ids of `text`.
    public func encode(_ text: String, allowSpecial: Bool = false) throws -> [Int32] {
        var out: [Int32] = []
        try encode(text, allowSpecial: allowSpecial, into: &out)
        return out
    }

    /// Appends the ids of `text` to `out`.
    public func encode(_ text: String, allowSpecial: Bool = false, into out: inout [Int32]) throws {
        var t = text
        try t.withUTF8 { try encodeUTF8($0, valid: true, allowSpecial: allowSpecial, into: &out) }
    }

    /// The ids of UTF-8 bytes (invalid sequences are kept as bytes and skip normalization).
    public func encode(bytes: [UInt8], allowSpecial: Bool = false) throws -> [Int32] {
        var out: [Int32] = []
        let valid = String(validating: bytes, as: UTF8.self) != nil
        try bytes.withUnsafeBufferPointer { try encodeUTF8($0, valid: valid, allowSpecial: allowSpecial, into: &out) }
        return out
    }

    private func encodeUTF8(_ text: UnsafeBufferPointer<UInt8>, valid: Bool, allowSpecial: Bool, into out: inout [Int32]) throws {
        guard let base = text.baseAddress, text.count > 0 else { return }
        if splitPunctuationNewline > 0 && !keyed { rng = seed ^ ByteStringTable.hash(base, text.count) }
        let raw = tokenizer.rawMatcher[allowSpecial]!
        try raw.split(base, 0 ..< text.count, text: { range in
            if textNormalizers.isEmpty || !valid {
                try encodeSegment(UnsafeBufferPointer(rebasing: text[range]), into: &out)
                return
            }
            let s = try normalized(UnsafeBufferPointer(rebasing: text[range]))
            let normalizedMatcher = tokenizer.normalizedMatcher[allowSpecial]!
            try s.withUnsafeBufferPointer { u in
                guard let nb = u.baseAddress else { return }
                try normalizedMatcher.split(nb, 0 ..< u.count, text: { r in
                    try encodeSegment(UnsafeBufferPointer(rebasing: u[r]), into: &out)
                }, token: { out.append($0) })
            }
        }, token: { out.append($0) })
    }

    /// The text after every normalization form.
    private func normalized(_ text: UnsafeBufferPointer<UInt8>) throws -> [UInt8] {
        var current = Array(text)
        for n in textNormalizers {
            if let changed = try current.withUnsafeBufferPointer({ try n.normalize($0) }) { current = changed }
        }
        return current
    }

    /// Pre-tokenizes and BPE-encodes text with no added tokens in it.
    private func encodeSegment(_ segment: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) throws {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: segment)
        pieces.removeAll(keepingCapacity: true)
        try tokenizer.preTokenizer.run(&buffer, 0 ..< buffer.count, into: &pieces, state: preState)
        let model = tokenizer.model
        buffer.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!
            for var piece in pieces {
                if let cut = punctuationNewlineCut(base, piece) {
                    randomizationCandidates += 1
                    // One draw per candidate (also at rate 1), none at rate 0.
                    if splitPunctuationNewline > 0 && nextUniform() < splitPunctuationNewline {
                        randomizedSplits += 1
                        model.encodePiece(base + piece.lowerBound, cut - piece.lowerBound, into: &out, work: &work)
                        piece = cut ..< piece.upperBound
                    }
                }
                let p = base + piece.lowerBound
                let n = piece.count
                piecesEncoded += 1
                if n == 1 {
                    let id = model.byteIDs[Int(p[0])]
                    if id >= 0 { out.append(id) }
                    continue
                }
                if n < Self.cacheMaxLength {
                    if let k = cache.get(p, n) {
                        cacheHits += 1
                        out.append(contentsOf: cacheIDs[Int(cacheStarts[Int(k)]) ..< Int(cacheStarts[Int(k) + 1])])
                        continue
                    }
                    let before = out.count
                    model.encodePiece(p, n, into: &out, work: &work)
                    if cache.count >= Self.cacheCapacity {
                        cache.removeAll()
                        cacheStarts.removeAll(keepingCapacity: true)
                        cacheStarts.append(0)
                        cacheIDs.removeAll(keepingCapacity: true)
                    }
                    cache.insert(p, n, value: Int32(cacheStarts.count - 1))
                    cacheIDs.append(contentsOf: out[before...])
                    cacheStarts.append(Int32(cacheIDs.count))
                } else {
                    model.encodePiece(p, n, into: &out, work: &work)
                }
            }
        }
    }

    /// Where the line breaks start in a pre-token made of punctuation/symbols followed by CR/LF
    /// (optionally after one space), or nil for any other pre-token.
    private func punctuationNewlineCut(_ base: UnsafePointer<UInt8>, _ piece: Range<Int>) -> Int? {
        guard piece.count >= 2 else { return nil }
        let last = base[piece.upperBound - 1]
        guard last == 0x0A || last == 0x0D else { return nil }
        var cut = piece.upperBound
        while cut > piece.lowerBound && (base[cut - 1] == 0x0A || base[cut - 1] == 0x0D) { cut -= 1 }
        guard cut > piece.lowerBound else { return nil }
        let scanner = ByteScanner(p: base, end: cut)
        var i = piece.lowerBound
        if base[i] == 0x20 { i += 1 }
        guard i < cut else { return nil }
        while i < cut {
            let c = scanner.char(i)
            if c.flags & (CharFlag.punct | CharFlag.symbol) == 0 { return nil }
            i += c.len
        }
        return cut
    }

    /// A uniform double in [0, 1) from SplitMix64.
    private func nextUniform() -> Double {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }

    /// The pre-tokens of `text` (after added-token splitting and normalization), for tests and stats.
    public func preTokenize(_ text: String) throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        var t = text
        try t.withUTF8 { u in
            guard let base = u.baseAddress else { return }
            try tokenizer.rawMatcher[false]!.split(base, 0 ..< u.count, text: { range in
                var b = try normalized(UnsafeBufferPointer(rebasing: u[range]))
                var ps: [Range<Int>] = []
                try tokenizer.preTokenizer.run(&b, 0 ..< b.count, into: &ps, state: preState)
                for r in ps { result.append(Array(b[r])) }
            }, token: { _ in })
        }
        return result
    }
}
