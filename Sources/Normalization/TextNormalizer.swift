// Unicode normalization (through ICU) and the byte-level cleanups that go with it.
// Policy: cleanups run first, in this order — drop a leading BOM, CRLF → LF, strip control characters
// (General Category Cc) other than \n and \t — then the normalization form. Empty results can be dropped
// by the caller (`Cleanups.dropEmpty`).
// Cost: pure-ASCII text skips ICU entirely (every form but NFKC_Casefold leaves ASCII unchanged); other
// text goes UTF-8 → UTF-16 → ICU quick check (→ normalize) → UTF-8. One ICU normalizer per thread.

import CICU
#if canImport(Glibc)
import Glibc
#endif
import CorpusIO

/// The normalization forms `tokenmill normalize --form` offers.
public enum NormalizationForm: String, Sendable, CaseIterable {
    case nfc, nfkc, nfkcCasefold = "nfkc-casefold", nfd, nfkd, none

    var icuForm: Int32? {
        switch self {
        case .nfc: return Int32(CICU_NFC)
        case .nfkc: return Int32(CICU_NFKC)
        case .nfkcCasefold: return Int32(CICU_NFKC_CF)
        case .nfd: return Int32(CICU_NFD)
        case .nfkd: return Int32(CICU_NFKD)
        case .none: return nil
        }
    }
}

/// Cleanups applied before normalization; each can be switched off.
public struct Cleanups: Sendable, Equatable {
    public var dropBOM = true
    public var crlfToLF = true
    public var stripControl = true
    public var dropEmpty = true
    public init() {}
    public static let none: Cleanups = { var c = Cleanups(); c.dropBOM = false; c.crlfToLF = false; c.stripControl = false; c.dropEmpty = false; return c }()
}

/// A stage that rewrites a document's text in place.
public protocol Normalizer {
    /// Rewrites `text`; returns whether it changed.
    mutating func normalize(_ text: inout String) throws -> Bool
}

/// An ICU error during normalization.
public struct NormalizationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The Unicode version of the linked ICU's data (for example "15.0").
public var icuUnicodeVersion: String {
    var buffer = [CChar](repeating: 0, count: 32)
    CICU_unicodeVersion(&buffer, 32)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Cleanups plus one normalization form. Not thread-safe: use one per thread.
public final class TextNormalizer: Normalizer {
    public let form: NormalizationForm
    public let cleanups: Cleanups
    private let icu: UTF8Normalizer?

    public init(form: NormalizationForm, cleanups: Cleanups = Cleanups()) throws {
        self.form = form
        self.cleanups = cleanups
        icu = form == .none ? nil : try UTF8Normalizer(form)
    }

    public func normalize(_ text: inout String) throws -> Bool {
        var changed = false
        if cleanups.dropBOM || cleanups.crlfToLF || cleanups.stripControl {
            changed = applyCleanups(&text)
        }
        guard let icu else { return changed }
        var t = text
        guard let result = try t.withUTF8({ try icu.normalize($0) }) else { return changed }
        let normalized = String(decoding: result, as: UTF8.self)
        // subtle: String's == is canonical equivalence (NFC == NFD); compare the bytes.
        if sameBytes(normalized, text) { return changed }
        text = normalized
        return true
    }

    /// Drops a leading BOM, turns CRLF into LF and strips Cc characters other than \n and \t.
    private func applyCleanups(_ text: inout String) -> Bool {
        guard needsCleanup(text) else { return false }
        var scalars = String.UnicodeScalarView()
        var pendingCR = false
        for (i, s) in text.unicodeScalars.enumerated() {
            if i == 0 && cleanups.dropBOM && s == "\u{FEFF}" { continue }
            if pendingCR {
                pendingCR = false
                if s != "\n" && !cleanups.stripControl { scalars.append("\r") }
            }
            if s == "\r" && cleanups.crlfToLF { pendingCR = true; continue }
            if cleanups.stripControl && s.properties.generalCategory == .control && s != "\n" && s != "\t" { continue }
            scalars.append(s)
        }
        if pendingCR && !cleanups.stripControl { scalars.append("\r") }
        text = String(scalars)
        return true
    }

    /// A fast byte scan: is there a BOM, a CR, or a control character to remove?
    private func needsCleanup(_ text: String) -> Bool {
        var t = text
        return t.withUTF8 { b in
            let n = b.count
            if cleanups.dropBOM, n >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { return true }
            let raw = UnsafeRawBufferPointer(b)
            var i = 0
            while i < n {
                // Fast path: a word without control bytes, DEL or 0xC2 (the lead byte of U+0080–U+009F).
                if i + 8 <= n {
                    let w = ByteScan.word(raw, i)
                    if !ByteScan.hasByteLess(w, than: 0x20) && !ByteScan.hasByte(w, 0x7F) && !ByteScan.hasByte(w, 0xC2) { i += 8; continue }
                }
                let c = b[i]
                i += 1
                if c < 0x20 {
                    if c == 0x0A || c == 0x09 { continue }
                    if c == 0x0D && (cleanups.crlfToLF || cleanups.stripControl) { return true }
                    if cleanups.stripControl { return true }
                } else if cleanups.stripControl && (c == 0x7F || (c == 0xC2 && i < n && b[i] < 0xA0)) {
                    return true
                }
            }
            return false
        }
    }
}

/// Whether two strings have the same UTF-8 bytes (String's == is canonical equivalence).
func sameBytes(_ a: String, _ b: String) -> Bool {
    var a = a, b = b
    return a.withUTF8 { x in b.withUTF8 { y in x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0) } }
}

/// Whether every byte is ASCII, eight bytes at a time.
@inline(__always) func isASCII(_ raw: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = raw.count
    while i + 8 <= n {
        if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
        i += 8
    }
    while i < n { if raw[i] >= 0x80 { return false }; i += 1 }
    return true
}
