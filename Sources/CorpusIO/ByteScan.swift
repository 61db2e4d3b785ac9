// Word-at-a-time byte tests (SWAR): eight bytes per step for the scanners' common case, where a long
// run of text holds none of the bytes they stop at.
// Performance notes: the JSON string scanner, JSON unescaping and the cleanup pre-check were byte loops
// and took a third of `normalize`'s time on the bundled corpus; testing eight bytes at once and
// falling back to the byte loop only for a word that hits made them memory-bound.

public enum ByteScan {
    @usableFromInline static let ones: UInt64 = 0x0101_0101_0101_0101
    @usableFromInline static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether some byte of `w` is less than `n` (n ≤ 128).
    @inlinable @inline(__always)
    public static func hasByteLess(_ w: UInt64, than n: UInt8) -> Bool {
        (w &- ones &* UInt64(n)) & ~w & highs != 0
    }

    /// Whether some byte of `w` equals `b`.
    @inlinable @inline(__always)
    public static func hasByte(_ w: UInt64, _ b: UInt8) -> Bool {
        let x = w ^ (ones &* UInt64(b))
        return (x &- ones) & ~x & highs != 0
    }

    /// Loads eight bytes at `offset` (no alignment needed).
    @inlinable @inline(__always)
    public static func word(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
