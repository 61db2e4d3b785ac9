// Corpus statistics: documents, UTF-8 bytes, characters (Unicode scalars) and quantiles of document
// length in bytes, mergeable across batches, shards and threads.
// Policy: quantiles come from a log-linear histogram (64 linear sub-buckets per power of two, as
// HdrHistogram does), so memory is fixed (~30 KiB per group) and any quantile is within 1.6% of the
// exact order statistic; counts, bytes, characters, minimum and maximum are exact.

/// Statistics of a set of documents.
public struct CorpusStats: Sendable, Equatable {
    public private(set) var documents = 0
    public private(set) var bytes = 0
    public private(set) var characters = 0
    public private(set) var minBytes = Int.max
    public private(set) var maxBytes = 0
    private var histogram = [UInt64](repeating: 0, count: 64 * 64)

    public init() {}

    /// Adds one document.
    public mutating func add(_ text: String) {
        var t = text
        let (b, c) = t.withUTF8 { buf -> (Int, Int) in
            var continuation = 0
            for byte in buf where byte & 0xC0 == 0x80 { continuation += 1 }
            return (buf.count, buf.count - continuation)
        }
        add(bytes: b, characters: c)
    }

    /// Adds one document given its sizes.
    public mutating func add(bytes b: Int, characters c: Int) {
        documents += 1
        bytes += b
        characters += c
        minBytes = min(minBytes, b)
        maxBytes = max(maxBytes, b)
        histogram[Self.bucket(b)] += 1
    }

    /// Adds every document counted in `other`.
    public mutating func merge(_ other: CorpusStats) {
        documents += other.documents
        bytes += other.bytes
        characters += other.characters
        minBytes = min(minBytes, other.minBytes)
        maxBytes = max(maxBytes, other.maxBytes)
        for i in histogram.indices { histogram[i] += other.histogram[i] }
    }

    /// The `q`-quantile (0...1) of document length in bytes, nearest-rank, within 1.6%.
    public func quantile(_ q: Double) -> Int {
        guard documents > 0 else { return 0 }
        if q <= 0 { return minBytes }
        if q >= 1 { return maxBytes }
        let rank = UInt64(max(1, (q * Double(documents)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, n) in histogram.enumerated() where n > 0 {
            seen += n
            if seen >= rank { return min(max(Self.representative(i), minBytes), maxBytes) }
        }
        return maxBytes
    }

    // Bucket layout: values below 64 are exact; above, the top 6 bits after the leading one select one of
    // 64 sub-buckets of the value's power of two.
    static func bucket(_ v: Int) -> Int {
        if v < 64 { return v }
        let exponent = Int.bitWidth - v.leadingZeroBitCount - 1   // ≥ 6
        let sub = (v >> (exponent - 6)) & 63
        return (exponent - 5) * 64 + sub
    }

    static func representative(_ bucket: Int) -> Int {
        if bucket < 64 { return bucket }
        let exponent = bucket / 64 + 5
        let sub = bucket % 64
        let low = (64 + sub) << (exponent - 6)
        let width = 1 << (exponent - 6)
        return low + width / 2
    }
}
