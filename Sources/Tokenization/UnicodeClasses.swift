// Character classes for the pre-tokenizer scanners: Unicode general categories from ICU (CICU), folded
// into one 16-bit flag word per code point, plus the 25 White_Space code points that `\s` means in
// Oniguruma, fancy-regex and Python `regex`.
// Policy: categories come from the linked ICU (Unicode 15.0 for ICU 72). tokenizers 0.23.3 and
// tiktoken 0.14.0 use Unicode 16 tables, so characters assigned in Unicode 16 (e.g. Todhri U+105C0)
// classify differently; parity fixtures avoid them.
// Cost: one 2.2 MB table (UInt16 for every code point), filled on first use in about 10 ms.

import CICU

/// Flag bits of `CharClass.flags`.
@usableFromInline enum CharFlag {
    @usableFromInline static let letter: UInt16 = 1 << 0        // \p{L}
    @usableFromInline static let number: UInt16 = 1 << 1        // \p{N}
    @usableFromInline static let mark: UInt16 = 1 << 2          // \p{M}
    @usableFromInline static let punct: UInt16 = 1 << 3         // \p{P}
    @usableFromInline static let symbol: UInt16 = 1 << 4        // \p{S}
    @usableFromInline static let space: UInt16 = 1 << 5         // \s (White_Space)
    /// o200k's first class: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}].
    @usableFromInline static let upperish: UInt16 = 1 << 6
    /// o200k's second class: [\p{Ll}\p{Lm}\p{Lo}\p{M}].
    @usableFromInline static let lowerish: UInt16 = 1 << 7
    /// [\r\n].
    @usableFromInline static let newline: UInt16 = 1 << 8
    /// Characters of DeepSeek-V3's CJK split: U+4E00–U+9FA5, U+3040–U+309F, U+30A0–U+30FF.
    @usableFromInline static let cjk: UInt16 = 1 << 9
}

/// The flag word of every code point, indexed by scalar value (0 ..< 0x110000).
let charFlagTable: [UInt16] = {
    // ICU UCharCategory: 1 Lu, 2 Ll, 3 Lt, 4 Lm, 5 Lo, 6 Mn, 7 Me, 8 Mc, 9 Nd, 10 Nl, 11 No, 12 Zs, 13 Zl,
    // 14 Zp, 15 Cc, 16 Cf, 17 Co, 18 Cs, 19 Pd, 20 Ps, 21 Pe, 22 Pc, 23 Po, 24 Sm, 25 Sc, 26 Sk, 27 So,
    // 28 Pi, 29 Pf.
    var byCategory = [UInt16](repeating: 0, count: 32)
    let L = CharFlag.letter, U = CharFlag.upperish, W = CharFlag.lowerish, M = CharFlag.mark
    byCategory[1] = L | U
    byCategory[2] = L | W
    byCategory[3] = L | U
    byCategory[4] = L | U | W
    byCategory[5] = L | U | W
    for c in 6 ... 8 { byCategory[c] = M | U | W }
    for c in 9 ... 11 { byCategory[c] = CharFlag.number }
    for c in [19, 20, 21, 22, 23, 28, 29] { byCategory[c] = CharFlag.punct }
    for c in 24 ... 27 { byCategory[c] = CharFlag.symbol }
    let count = 0x110000
    var categories = [UInt8](repeating: 0, count: count)
    categories.withUnsafeMutableBufferPointer { CICU_fillCharTypes($0.baseAddress, 0, Int32(count)) }
    var table = [UInt16](repeating: 0, count: count)
    for i in 0 ..< count { table[i] = byCategory[Int(categories[i] & 31)] }
    for s: Int in [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000] {
        table[s] |= CharFlag.space
    }
    for s in 0x2000 ... 0x200A { table[s] |= CharFlag.space }
    table[0x0A] |= CharFlag.newline
    table[0x0D] |= CharFlag.newline
    for r in [0x4E00 ... 0x9FA5, 0x3040 ... 0x309F, 0x30A0 ... 0x30FF] { for s in r { table[s] |= CharFlag.cjk } }
    return table
}()

/// The same table as a pointer that lives for the whole process, so scanners index it without bounds
/// checks or reference counting.
nonisolated(unsafe) let charFlagPointer: UnsafePointer<UInt16> = {
    let p = UnsafeMutablePointer<UInt16>.allocate(capacity: charFlagTable.count)
    p.initialize(from: charFlagTable, count: charFlagTable.count)
    return UnsafePointer(p)
}()

/// The Unicode general-category flags of one scalar value (for tests and the trainer).
public func unicodeClassFlags(_ scalar: Unicode.Scalar) -> UInt16 { charFlagTable[Int(scalar.value)] }
