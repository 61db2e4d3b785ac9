import Evaluation
import Testing

@Suite struct WindowTests {
    /// Every token 0..<n is scored exactly once, each window reads ≤ T ids inside [EOD] + tokens, token k
    /// sees at least min(k + 1, T − S + 1) ids of context (its whole prefix when k < T), and
    /// each window's last scored token sees min(k + 1, T).
    @Test(arguments: [0, 1, 3, 4, 5, 7, 8, 9, 16, 17, 100], [(4, 4), (4, 1), (4, 3), (1, 1), (8, 3)])
    func everyTokenScoredExactlyOnce(n: Int, ts: (Int, Int)) {
        let (T, S) = ts
        let windows = rollingWindows(tokenCount: n, context: T, stride: S)
        #expect(windows.count == rollingWindowCount(tokenCount: n, context: T, stride: S))
        var scored = [Int](repeating: 0, count: n)
        for w in windows {
            #expect(w.start >= 0 && w.length <= T && w.length >= 1 && w.start + w.length <= n)
            #expect(w.scoredFrom >= 0 && w.scoredFrom < w.length)
            for k in w.scoredTokens { scored[k] += 1 }
            // Context: position p predicts token k = start + p, having read the p + 1 ids e[start ... k]
            // (token k could see at most min(k + 1, T): its whole prefix, or a full window).
            for p in w.scoredFrom..<w.length {
                let k = w.start + p, context = p + 1
                if k < T { #expect(context == k + 1, "token \(k) sees \(context) ids") }   // the first T tokens see their whole prefix
                #expect(context >= min(k + 1, T - S + 1), "token \(k) sees \(context) ids")   // at least T − S + 1 once past the first window
            }
            // The window ends at its last scored token, which sees as much context as a T-id window allows.
            #expect(w.length == min(w.start + w.length, T))
        }
        #expect(scored.allSatisfy { $0 == 1 })
        if n > 0 { #expect(windows[0] == ScoringWindow(start: 0, length: min(T, n), scoredFrom: 0)) }
        // Later windows are full T-id windows.
        for w in windows.dropFirst() { #expect(w.length == T) }
    }

    /// The worked example of Windows.swift and lm-evaluation-harness's rolling windows (T = 4).
    @Test func workedExample() {
        #expect(rollingWindows(tokenCount: 10, context: 4, stride: 4) == [
            ScoringWindow(start: 0, length: 4, scoredFrom: 0),   // [EOD] t0 t1 t2 → t0..t3
            ScoringWindow(start: 4, length: 4, scoredFrom: 0),   // e[4..<8] = t3..t6 → t4..t7
            ScoringWindow(start: 6, length: 4, scoredFrom: 2),   // e[6..<10] = t5..t8 → t8, t9
        ])
        #expect(rollingWindows(tokenCount: 6, context: 4, stride: 1) == [
            ScoringWindow(start: 0, length: 4, scoredFrom: 0),
            ScoringWindow(start: 1, length: 4, scoredFrom: 3),
            ScoringWindow(start: 2, length: 4, scoredFrom: 3),
        ])
        #expect(rollingWindows(tokenCount: 2, context: 4, stride: 2) == [ScoringWindow(start: 0, length: 2, scoredFrom: 0)])
        #expect(rollingWindows(tokenCount: 0, context: 4, stride: 4).isEmpty)
    }
}
