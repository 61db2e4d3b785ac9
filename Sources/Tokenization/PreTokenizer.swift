// Pre-tokenization: cutting text into the pieces BPE encodes one at a time, as a list of steps with
// Hugging Face's semantics (Split with its five behaviours and `invert`, Digits, ByteLevel).
// Policy: a Split whose regex is a preset's uses the hand-written scanner; any other regex runs on ICU.
// Pieces are byte ranges into one working buffer; a step that must change the text (ByteLevel's
// prefix space) appends the new piece to the buffer instead of editing in place. ByteLevel's byte →
// character mapping is implicit: the model works on bytes.
// Cost: each step is one pass over its pieces; two reused range arrays, no per-piece allocation.

/// How a Split step treats its matches (HF `SplitDelimiterBehavior`).
public enum SplitBehavior: String, Sendable, CaseIterable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
}

/// What a Split step looks for.
enum SplitPattern: Sendable {
    case scanner(ScannerKind)
    /// An ICU regex; `slot` indexes the per-thread matchers.
    case regex(ICURegexPattern, slot: Int)
    case literal([UInt8])
    /// Every \p{N} character on its own (Rust's `char::is_numeric`, used by HF's Digits).
    case numeric
}

/// One pre-tokenization step.
enum PreTokenizerStep: Sendable {
    case split(SplitPattern, SplitBehavior, invert: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
}

/// A sequence of pre-tokenization steps.
public struct PreTokenizer: Sendable {
    var steps: [PreTokenizerStep]
    /// A short description for messages and stats ("cl100k", "regex", ...).
    public var name: String

    init(steps: [PreTokenizerStep], name: String) {
        self.steps = steps
        self.name = name
    }

    /// The hand-written scanners of a preset, each as an Isolated split.
    public static func preset(_ preset: PreTokenizerPreset) -> PreTokenizer {
        PreTokenizer(steps: preset.scanners.map { .split(.scanner($0), .isolated, invert: false) }, name: preset.rawValue)
    }

    /// No splitting at all: the whole text is one piece.
    public static let none = PreTokenizer(steps: [], name: "none")

    /// The ICU patterns, by slot.
    var regexPatterns: [ICURegexPattern] {
        steps.compactMap { if case .split(.regex(let p, _), _, _) = $0 { return p } else { return nil } }
    }

    /// The preset these steps are, if they are exactly one preset's scanners.
    public var preset: PreTokenizerPreset? {
        let kinds = steps.map { step -> ScannerKind? in
            if case .split(.scanner(let k), .isolated, false) = step { return k }
            return nil
        }
        return PreTokenizerPreset.allCases.first { $0.scanners == kinds.compactMap { $0 } && kinds.allSatisfy { $0 != nil } }
    }

    /// Cuts `buffer[range]` into pieces, appended to `pieces`.
    func run(_ buffer: inout [UInt8], _ range: Range<Int>, into pieces: inout [Range<Int>], state: PreTokenizerState) throws {
        guard !steps.isEmpty else { if !range.isEmpty { pieces.append(range) }; return }
        var current = state.takeArray()
        var next = state.takeArray()
        defer { state.giveArray(current); state.giveArray(next) }
        current.append(range)
        for step in steps {
            next.removeAll(keepingCapacity: true)
            switch step {
            case let .split(pattern, behavior, invert):
                try buffer.withUnsafeBufferPointer { buf in
                    for piece in current { try split(buf.baseAddress!, piece, pattern, behavior, invert, into: &next, state: state) }
                }
            case let .byteLevel(addPrefixSpace, useRegex):
                for var piece in current {
                    if addPrefixSpace && (piece.isEmpty || buffer[piece.lowerBound] != 0x20) {
                        let start = buffer.count
                        buffer.append(0x20)
                        buffer.append(contentsOf: buffer[piece])
                        piece = start ..< buffer.count
                    }
                    if useRegex {
                        try buffer.withUnsafeBufferPointer { buf in
                            try split(buf.baseAddress!, piece, .scanner(.gpt2), .isolated, false, into: &next, state: state)
                        }
                    } else if !piece.isEmpty {
                        next.append(piece)
                    }
                }
            }
            swap(&current, &next)
        }
        pieces.append(contentsOf: current)
    }

    /// One Split over one piece, following HF's `NormalizedString::split`.
    private func split(_ base: UnsafePointer<UInt8>, _ piece: Range<Int>, _ pattern: SplitPattern, _ behavior: SplitBehavior,
                       _ invert: Bool, into out: inout [Range<Int>], state: PreTokenizerState) throws {
        // 1. Matches and the gaps between them, covering the piece.
        // Take the buffer out of `state` so it is uniquely referenced (no copy on write).
        var spans = state.spans
        state.spans = []
        spans.removeAll(keepingCapacity: true)
        var last = piece.lowerBound
        func add(_ s: Int, _ e: Int) {
            if s > last { spans.append((last, s, invert)) }
            spans.append((s, e, !invert))
            last = e
        }
        try forEachMatch(base, piece, pattern, state: state, add)
        if last < piece.upperBound { spans.append((last, piece.upperBound, invert)) }
        // 2. The behaviour decides what becomes a piece.
        let startCount = out.count
        switch behavior {
        case .isolated:
            for (s, e, _) in spans { out.append(s ..< e) }
        case .removed:
            for (s, e, isMatch) in spans where !isMatch { out.append(s ..< e) }
        case .contiguous:
            var previous = false
            for (s, e, isMatch) in spans {
                if isMatch == previous, out.count > startCount { out[out.count - 1] = out[out.count - 1].lowerBound ..< e }
                else { out.append(s ..< e) }
                previous = isMatch
            }
        case .mergedWithPrevious:
            var previous = false
            for (s, e, isMatch) in spans {
                if isMatch && !previous, out.count > startCount { out[out.count - 1] = out[out.count - 1].lowerBound ..< e }
                else { out.append(s ..< e) }
                previous = isMatch
            }
        case .mergedWithNext:
            var previous = false
            var reversed: [Range<Int>] = []
            for (s, e, isMatch) in spans.reversed() {
                if isMatch && !previous, !reversed.isEmpty { reversed[reversed.count - 1] = s ..< reversed[reversed.count - 1].upperBound }
                else { reversed.append(s ..< e) }
                previous = isMatch
            }
            out.append(contentsOf: reversed.reversed())
        }
        state.spans = spans
    }

    private func forEachMatch(_ base: UnsafePointer<UInt8>, _ piece: Range<Int>, _ pattern: SplitPattern, state: PreTokenizerState,
                              _ body: (Int, Int) -> Void) throws {
        switch pattern {
        case .scanner(let kind):
            let scanner = ByteScanner(p: base, end: piece.upperBound)
            var i = piece.lowerBound
            while i < piece.upperBound {
                let e = scanner.match(kind, at: i)
                if e > i { body(i, e); i = e } else { i += scanner.char(i).len }
            }
        case .numeric:
            let scanner = ByteScanner(p: base, end: piece.upperBound)
            var i = piece.lowerBound
            while i < piece.upperBound {
                let c = scanner.char(i)
                if c.flags & CharFlag.number != 0 { body(i, i + c.len) }
                i += c.len
            }
        case .literal(let needle):
            guard !needle.isEmpty else { return }
            var i = piece.lowerBound
            let n = needle.count
            while i + n <= piece.upperBound {
                if needle.withUnsafeBufferPointer({ memcmpEqual(base + i, $0.baseAddress!, n) }) { body(i, i + n); i += n } else { i += 1 }
            }
        case .regex(_, let slot):
            try state.matchers[slot].forEachMatch(base + piece.lowerBound, piece.count) { s, e in
                body(piece.lowerBound + s, piece.lowerBound + e)
            }
        }
    }
}

/// Per-thread state of a pre-tokenizer: ICU matchers and scratch arrays.
final class PreTokenizerState {
    let matchers: [ICURegexMatcher]
    var spans: [(Int, Int, Bool)] = []
    private var arrays: [[Range<Int>]] = []

    init(_ preTokenizer: PreTokenizer) {
        matchers = preTokenizer.regexPatterns.map { $0.makeMatcher() }
    }

    func takeArray() -> [Range<Int>] {
        if var a = arrays.popLast() { a.removeAll(keepingCapacity: true); return a }
        return []
    }

    func giveArray(_ a: [Range<Int>]) { arrays.append(a) }
}
