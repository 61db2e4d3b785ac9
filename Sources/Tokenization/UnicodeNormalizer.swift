// Unicode normalization of UTF-8 bytes for the encoder, straight through CICU.
// Policy: works on bytes and never compares Strings: Swift's String `==` is canonical equivalence, so
// "é" (U+00E9) equals "e\u{301}" and a String-level "did it change?" test misses NFC/NFD rewrites.
// Cost: ASCII-only text is returned untouched (every form but NFKC_Casefold leaves ASCII alone); other
// text goes through ICU's quick check and, only when needed, a full normalization.

import CICU
import Normalization

/// One thread's ICU normalizer for one form.
final class UTF8Normalizer {
    let form: NormalizationForm
    private let icu: OpaquePointer

    init(_ form: NormalizationForm) throws {
        self.form = form
        let code: Int32
        switch form {
        case .nfc: code = Int32(CICU_NFC)
        case .nfkc: code = Int32(CICU_NFKC)
        case .nfd: code = Int32(CICU_NFD)
        case .nfkd: code = Int32(CICU_NFKD)
        case .nfkcCasefold: code = Int32(CICU_NFKC_CF)
        case .none: throw TokenizerError.usage("no normalizer for form 'none'")
        }
        var status: Int32 = 0
        guard let n = CICU_normalizerOpen(code, &status) else {
            throw TokenizerError.usage("ICU cannot open the \(form.rawValue) normalizer: \(String(cString: CICU_errorName(status)))")
        }
        icu = n
    }

    deinit { CICU_normalizerClose(icu) }

    /// The normalized bytes of `text`, or nil when `text` is already normalized.
    func normalize(_ text: UnsafeBufferPointer<UInt8>) throws -> [UInt8]? {
        guard let base = text.baseAddress, text.count > 0 else { return nil }
        if form != .nfkcCasefold {
            var ascii = true
            for b in text where b >= 0x80 { ascii = false; break }
            if ascii { return nil }
        }
        var out: UnsafePointer<UInt8>? = nil
        var outLength: Int64 = 0
        var status: Int32 = 0
        let r = CICU_normalizeUTF8(icu, base, Int64(text.count), &out, &outLength, &status)
        if r < 0 { throw TokenizerError.usage("ICU: \(form.rawValue) normalization failed: \(String(cString: CICU_errorName(status)))") }
        if r == 0 { return nil }
        return Array(UnsafeBufferPointer(start: out, count: Int(outLength)))
    }
}
