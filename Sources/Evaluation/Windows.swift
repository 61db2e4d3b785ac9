// Rolling scoring windows over one document, lm-evaluation-harness's `loglikelihood_rolling`
// convention (utils.get_rolling_token_windows + make_disjoint_window, context_len = 1), generalized to a
// stride S ≤ T:
//   the document is e = [EOD] + tokens (n tokens, so e has n + 1 ids); token k is predicted from e[0...k];
//   window 1 reads e[0 ..< min(T, n)] and scores tokens[0 ..< min(T, n)];
//   every later window scores the next min(S, remaining) tokens tokens[lo ..< hi] and reads the T ids
//   e[hi − T ..< hi] before them, so each scored token sees as much context as a T-long window allows.
// Every token is scored exactly once. S = T is lm-evaluation-harness's convention (disjoint scored
// blocks, the last one with overlapping context); S < T gives every token at least T − S tokens of
// context, at about T/S times the forward work. Starting with EOD is the trainer's convention: a
// packed segment starts at an EOD whose targets are the next document's tokens.
// Worked example, n = 10, T = 4, S = 4: windows read e[0..<4], e[4..<8], e[7..<11] and score tokens
// 0..<4, 4..<8 and 8..<10 (the last window's first two positions are context only).

/// One model input: `length` ids of the EOD-prefixed document starting at `start`; its positions
/// `scoredFrom ..< length` are scored (position p predicts e[start + p + 1] = tokens[start + p]).
public struct ScoringWindow: Equatable, Sendable {
    public var start: Int
    public var length: Int
    public var scoredFrom: Int
    public init(start: Int, length: Int, scoredFrom: Int) {
        self.start = start; self.length = length; self.scoredFrom = scoredFrom
    }
    /// The document's tokens this window scores: tokens[start + scoredFrom ..< start + length].
    public var scoredTokens: Range<Int> { (start + scoredFrom) ..< (start + length) }
}

/// The windows of a document of `tokenCount` tokens for context `T` and stride `S` (1 ≤ S ≤ T).
/// - Complexity: O(1 + n/S) windows.
public func rollingWindows(tokenCount n: Int, context T: Int, stride S: Int) -> [ScoringWindow] {
    precondition(T >= 1 && S >= 1 && S <= T && n >= 0)
    guard n > 0 else { return [] }
    var windows = [ScoringWindow(start: 0, length: min(T, n), scoredFrom: 0)]
    var done = min(T, n)
    while done < n {
        let hi = min(done + S, n)
        let start = hi - T   // ≥ 0: hi > done ≥ T
        windows.append(ScoringWindow(start: start, length: T, scoredFrom: done - start))
        done = hi
    }
    return windows
}

/// The number of windows `rollingWindows` gives, without building them.
public func rollingWindowCount(tokenCount n: Int, context T: Int, stride S: Int) -> Int {
    n == 0 ? 0 : 1 + (max(0, n - T) + S - 1) / S
}
