// Regular expressions no hand-written scanner knows run on ICU's engine (uregex through CICU), over
// UTF-8 text without conversion.
// Policy: the pattern is rewritten so `\s`/`\S` mean White_Space (the 25 characters Oniguruma and
// fancy-regex use; ICU's own `\s` is [\t\n\f\r\p{Z}], without U+000B and U+0085). Other syntax is
// passed through; ICU and Oniguruma agree on \p{..}, possessive and lazy quantifiers, (?i:...) and
// look-ahead. A compiled pattern is shared; every thread clones its own matcher (uregex is not
// thread-safe).

import CICU

/// A compiled ICU pattern; `makeMatcher()` gives each thread its own.
final class ICURegexPattern: @unchecked Sendable {
    let source: String
    private let template: OpaquePointer

    /// Compiles `pattern`; `path` names it in errors.
    init(_ pattern: String, path: String) throws {
        source = pattern
        let rewritten = Array(Self.rewrite(pattern).utf8)
        var status: Int32 = 0, offset: Int32 = -1
        guard let re = rewritten.withUnsafeBufferPointer({ CICU_regexOpen($0.baseAddress, Int64($0.count), &status, &offset) }) else {
            throw TokenizerError.invalid(path: path, "ICU cannot compile the regex \(pattern.debugDescription): \(String(cString: CICU_errorName(status)))" + (offset >= 0 ? " at offset \(offset)" : ""), hint: nil)
        }
        template = re
    }

    deinit { CICU_regexClose(template) }

    func makeMatcher() -> ICURegexMatcher {
        var status: Int32 = 0
        guard let re = CICU_regexClone(template, &status) else {
            fatalError("ICU: uregex_clone failed: \(String(cString: CICU_errorName(status)))")
        }
        return ICURegexMatcher(re)
    }

    /// `\s` → `\p{White_Space}`, `\S` → `\P{White_Space}`; every other escape is copied.
    static func rewrite(_ pattern: String) -> String {
        var out = ""
        var it = pattern.unicodeScalars.makeIterator()
        while let c = it.next() {
            if c == "\\", let d = it.next() {
                switch d {
                case "s": out += "\\p{White_Space}"
                case "S": out += "\\P{White_Space}"
                default: out.unicodeScalars.append(c); out.unicodeScalars.append(d)
                }
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// One thread's ICU matcher.
final class ICURegexMatcher {
    private let re: OpaquePointer
    init(_ re: OpaquePointer) { self.re = re }
    deinit { CICU_regexClose(re) }

    /// Calls `body(start, end)` (offsets relative to `p`) for every non-empty match in `p[0..<n]`.
    func forEachMatch(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) throws {
        let rc = CICU_regexSetText(re, p, Int64(n))
        if rc != 0 { throw TokenizerError.usage("ICU regex: \(String(cString: CICU_errorName(rc)))") }
        var s: Int64 = 0, e: Int64 = 0, status: Int32 = 0
        while true {
            let r = CICU_regexFindNext(re, &s, &e, &status)
            if r < 0 { throw TokenizerError.usage("ICU regex: \(String(cString: CICU_errorName(status)))") }
            if r == 0 { break }
            if e > s { body(Int(s), Int(e)) }
        }
    }
}
