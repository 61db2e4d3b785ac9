// Unicode normalization of UTF-8 bytes, straight through CICU: the one ICU entry point that
// TextNormalizer (documents) and the tokenizer's encoder (pre-normalization of text) share.
// Policy: works on bytes and never compares Strings: Swift's String `==` is canonical equivalence, so
// "é" (U+00E9) equals "e\u{301}" and a String-level "did it change?" test misses NFC/NFD rewrites.
// Cost: ASCII-only text is returned untouched (every form but NFKC_Casefold leaves ASCII alone); other
// text goes through ICU's quick check and, only when needed, a full normalization.

import CICU

/// One thread's ICU normalizer for one form.
public final class UTF8Normalizer {
    public let form: NormalizationForm
    private let icu: OpaquePointer

    public init(_ form: NormalizationForm) throws {
        self.form = form
        guard let code = form.icuForm else { throw NormalizationError(message: "no normalizer for form 'none'") }
        var status: Int32 = 0
        guard let n = CICU_normalizerOpen(code, &status) else {
            throw NormalizationError(message: "ICU: cannot open the \(form.rawValue) normalizer: \(String(cString: CICU_errorName(status)))")
        }
        icu = n
    }

    deinit { CICU_normalizerClose(icu) }

    /// The normalized bytes of `text`, or nil when `text` is already normalized.
    public func normalize(_ text: UnsafeBufferPointer<UInt8>) throws -> [UInt8]? {
        guard let base = text.baseAddress, text.count > 0 else { return nil }
        if form != .nfkcCasefold {
            if isASCII(UnsafeRawBufferPointer(text)) { return nil }
        }
        var out: UnsafePointer<UInt8>? = nil
        var outLength: Int64 = 0
        var status: Int32 = 0
        let r = CICU_normalizeUTF8(icu, base, Int64(text.count), &out, &outLength, &status)
        if r < 0 { throw NormalizationError(message: "ICU: \(form.rawValue) failed: \(String(cString: CICU_errorName(status)))") }
        if r == 0 { return nil }
        return Array(UnsafeBufferPointer(start: out, count: Int(outLength)))
    }
}
