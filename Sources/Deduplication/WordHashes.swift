// Words and word n-grams as 64-bit hashes: the text simplification that dedup's shingles and
// decontamination's n-grams share.
// Policy (as datatrove's `simplify_text`, written anew): canonical decomposition (NFD) with nonspacing
// marks (Mn) dropped, so "é" and "e" are one letter; lowercase; a number (ASCII digits with at most one
// inner '.' or ',' group, or any run of Unicode Nd digits) becomes the single digit "0" when
// `normalizeNumbers` is on; punctuation (P*), separators (Z*), controls (C*) and ASCII symbols split
// words; every other scalar (letters, other marks, numbers, non-ASCII symbols) belongs to a word.
// Cost: one pass over the UTF-8 bytes; pure-ASCII text never touches ICU or String; a word costs one
// FNV-1a step a byte and one 64-bit mix. No word strings are built.

import CorpusIO
import Normalization

/// The finalizer of SplitMix64 (Stafford's mix13): a bijection of UInt64 that spreads every input bit.
@inline(__always)
func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Turns documents into the 64-bit hashes of their simplified words. Not thread-safe (it owns an ICU
/// normalizer): use one per thread.
public final class WordHasher {
    public let normalizeNumbers: Bool
    private let nfd: UTF8Normalizer

    public init(normalizeNumbers: Bool) throws {
        self.normalizeNumbers = normalizeNumbers
        self.nfd = try UTF8Normalizer(.nfd)
    }

    /// The hashes of the words of `text`, in order.
    /// - Complexity: O(bytes of `text`).
    public func words(_ text: String) throws -> [UInt64] {
        var text = text
        return try text.withUTF8 { utf8 -> [UInt64] in
            if let decomposed = try nfd.normalize(utf8) {
                return decomposed.withUnsafeBufferPointer { scan($0) }
            }
            return scan(utf8)
        }
    }

    private static let fnvOffset: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let fnvPrime: UInt64 = 0x0000_0100_0000_01B3

    private func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(bytes.count / 5)
        var h = WordHasher.fnvOffset
        var inWord = false
        var inNumber = false  // the last thing added to the word was a number's "0"
        @inline(__always) func add(_ b: UInt8) { h = (h ^ UInt64(b)) &* WordHasher.fnvPrime; inWord = true }
        @inline(__always) func end() {
            if inWord { out.append(mix64(h)) }
            h = WordHasher.fnvOffset; inWord = false; inNumber = false
        }
        let n = bytes.count
        var i = 0
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                i += 1
                switch b {
                case UInt8(ascii: "a") ... UInt8(ascii: "z"): add(b); inNumber = false
                case UInt8(ascii: "A") ... UInt8(ascii: "Z"): add(b | 0x20); inNumber = false
                case UInt8(ascii: "0") ... UInt8(ascii: "9"):
                    guard normalizeNumbers else { add(b); continue }
                    add(UInt8(ascii: "0"))
                    // subtle: the whole number is one "0": skip its other digits and one inner '.' or ','
                    // group followed by digits ("3.14", "1,000" → "0"; "1,000,000" → "0" "0", as datatrove).
                    while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
                    if i + 1 < n, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ","),
                       bytes[i + 1] >= 0x30, bytes[i + 1] <= 0x39 {
                        i += 1
                        while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
                    }
                    inNumber = true
                default: end()
                }
                continue
            }
            // A multi-byte scalar (the input is valid UTF-8: it came from a String or from ICU).
            let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            var value = UInt32(b) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
            for k in 1 ..< length where i + k < n { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
            let start = i
            i = min(n, i + length)
            guard let scalar = Unicode.Scalar(value) else { end(); continue }
            switch scalar.properties.generalCategory {
            case .nonspacingMark:
                continue  // dropped: diacritics after NFD
            case .decimalNumber where normalizeNumbers:
                if !inNumber { add(UInt8(ascii: "0")); inNumber = true }
            case .uppercaseLetter, .titlecaseLetter:
                for u in scalar.properties.lowercaseMapping.utf8 { add(u) }
                inNumber = false
            case .lowercaseLetter, .otherLetter, .modifierLetter, .spacingMark, .enclosingMark,
                 .decimalNumber, .letterNumber, .otherNumber,
                 .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
                for k in start ..< i { add(bytes[k]) }
                inNumber = false
            default:
                end()  // punctuation, separators, controls, format characters, unassigned
            }
        }
        end()
        return out
    }
}

/// The hash of each run of `n` consecutive words (none when there are fewer than `n` words).
/// Order matters: "a b" and "b a" hash differently.
/// - Complexity: O(words × n).
public func ngramHashes(_ words: [UInt64], n: Int) -> [UInt64] {
    precondition(n >= 1, "n-grams need n ≥ 1")
    guard words.count >= n else { return [] }
    var out = [UInt64](repeating: 0, count: words.count - n + 1)
    words.withUnsafeBufferPointer { w in
        for start in 0 ..< out.count {
            var h = UInt64(n)
            for k in 0 ..< n { h = mix64(h &* 0x9E37_79B9_7F4A_7C15 &+ w[start + k]) }
            out[start] = h
        }
    }
    return out
}
