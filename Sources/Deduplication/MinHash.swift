// MinHash signatures and LSH band keys over word n-gram shingles.
// Policy: the datatrove defaults — word 5-grams, 14 bands of 8 hashes (112 in all), seed 1 — with
// universal hashing h_i(x) = (a_i·x + b_i) mod (2^61 − 1), a_i ∈ [1, p), b_i ∈ [0, p) drawn from
// SplitMix64(seed). (datatrove lets the product wrap at 2^64 before the modulo; here the product is taken
// in full 128 bits, so each h_i is a true universal hash.) A document with fewer words than one shingle
// gets no signature and can only be an exact duplicate. Two documents share a band's key when all its
// `rows` minima are equal; the probability for shingle-set Jaccard s is 1 − (1 − s^rows)^bands
// (50% at about s = 0.68 for the defaults; datatrove quotes (1/bands)^(1/rows) = 0.72).
// Cost: bands × rows multiply-modulo steps per shingle (the whole dedup of the 31.7 MB training split
// takes 1.9 s of CPU in a release build); the key of a band is a 64-bit hash of its minima (two
// documents with different minima share it with probability 2^-64).

import CorpusIO

/// MinHash and LSH parameters.
public struct MinHashConfig: Sendable, Equatable, CustomStringConvertible {
    /// Words per shingle.
    public var ngram = 5
    /// LSH bands.
    public var bands = 14
    /// Hashes per band.
    public var rows = 8
    /// Seed of the hash functions' parameters; runs that are compared must use the same.
    public var seed: UInt64 = 1
    /// Turn every number into "0" before shingling (datatrove's default); off keeps number values, so
    /// documents that differ only in their numbers (templated arithmetic problems) stay apart.
    public var normalizeNumbers = true

    public init(ngram: Int = 5, bands: Int = 14, rows: Int = 8, seed: UInt64 = 1, normalizeNumbers: Bool = true) {
        self.ngram = ngram; self.bands = bands; self.rows = rows; self.seed = seed; self.normalizeNumbers = normalizeNumbers
    }

    public var hashCount: Int { bands * rows }

    public var description: String {
        "word \(ngram)-grams, \(bands) bands of \(rows), seed \(seed), numbers \(normalizeNumbers ? "normalized" : "kept")"
    }

    /// The probability that documents whose shingle sets have Jaccard similarity `s` share a band.
    public func candidateProbability(_ s: Double) -> Double {
        1 - pow1p(1 - pow1p(s, rows), bands)
    }

    private func pow1p(_ x: Double, _ k: Int) -> Double { (0 ..< k).reduce(1.0) { r, _ in r * x } }
}

/// Computes signatures and band keys. Immutable and thread-safe.
public struct MinHasher: Sendable {
    public static let prime: UInt64 = (1 << 61) - 1
    public let config: MinHashConfig
    let a: [UInt64]
    let b: [UInt64]

    public init(config: MinHashConfig) {
        precondition(config.ngram >= 1 && config.bands >= 1 && config.rows >= 1, "MinHash needs ngram, bands and rows ≥ 1")
        self.config = config
        var rng = SplitMix64(seed: config.seed)
        var a: [UInt64] = [], b: [UInt64] = []
        for _ in 0 ..< config.hashCount {
            a.append(1 + rng.next() % (MinHasher.prime - 1))
            b.append(rng.next() % MinHasher.prime)
        }
        self.a = a
        self.b = b
    }

    /// x mod (2^61 − 1) for x < 2^64.
    @inline(__always)
    static func reduce(_ x: UInt64) -> UInt64 {
        let r = (x & prime) &+ (x >> 61)
        return r >= prime ? r - prime : r
    }

    /// (a·x + b) mod (2^61 − 1) for a, x, b < 2^61.
    @inline(__always)
    static func affine(_ a: UInt64, _ x: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: x)
        // a·x < 2^122: split as low 61 bits + the rest (< 2^61), both < p after one fold.
        let folded = (low & prime) &+ ((low >> 61) | (high << 3))
        return reduce(reduce(folded) &+ b)
    }

    /// The minimum of each hash function over the shingles, or nil when there are none.
    /// - Complexity: O(shingles × bands × rows).
    public func signature(shingles: [UInt64]) -> [UInt64]? {
        guard !shingles.isEmpty else { return nil }
        let count = config.hashCount
        var mins = [UInt64](repeating: UInt64.max, count: count)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                mins.withUnsafeMutableBufferPointer { m in
                    for s in shingles {
                        let x = MinHasher.reduce(s)
                        for i in 0 ..< count {
                            let h = MinHasher.affine(a[i], x, b[i])
                            if h < m[i] { m[i] = h }
                        }
                    }
                }
            }
        }
        return mins
    }

    /// One 64-bit key per band: a hash of the band's index and its `rows` minima.
    public func bandKeys(signature: [UInt64]) -> [UInt64] {
        precondition(signature.count == config.hashCount, "a signature of \(signature.count) hashes for \(config.hashCount)")
        return (0 ..< config.bands).map { band in
            var h = mix64(UInt64(band) &+ 0x5DED_0000)
            for r in 0 ..< config.rows { h = mix64(h &* 0x9E37_79B9_7F4A_7C15 &+ signature[band * config.rows + r]) }
            return h
        }
    }

    /// The share of equal minima: an unbiased estimate of the shingle sets' Jaccard similarity.
    public static func estimatedJaccard(_ x: [UInt64], _ y: [UInt64]) -> Double {
        precondition(x.count == y.count, "signatures of different lengths")
        return Double(zip(x, y).filter { $0 == $1 }.count) / Double(x.count)
    }
}
