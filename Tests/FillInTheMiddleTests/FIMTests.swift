import FillInTheMiddle
import Testing

@Suite struct FIMTests {
    @Test func theShareOfChosenDocumentsIsWithinBinomialBounds() {
        let config = FIMConfig(rate: 0.1, spmRate: 0.5, seed: 42)
        let n = 20_000
        var chosen = 0, spm = 0
        for line in 1 ... n {
            if let plan = fimPlan(config, key: fimDocumentKey(inputIndex: 0, line: line), scalarCount: 100) {
                chosen += 1
                if plan.order == .spm { spm += 1 }
            }
        }
        let sd = (Double(n) * 0.1 * 0.9).squareRoot()
        #expect(abs(Double(chosen) - 2000) < 4 * sd, "chosen \(chosen)")
        #expect(abs(Double(spm) - Double(chosen) / 2) < 4 * (Double(chosen) * 0.25).squareRoot(), "spm \(spm) of \(chosen)")
    }

    @Test func choicesDependOnlyOnSeedAndPosition() {
        let a = FIMConfig(rate: 0.5, seed: 1), b = FIMConfig(rate: 0.5, seed: 2)
        let keys = (1 ... 200).map { fimDocumentKey(inputIndex: $0 % 3, line: $0) }
        let first = keys.map { fimPlan(a, key: $0, scalarCount: 50) }
        #expect(keys.map { fimPlan(a, key: $0, scalarCount: 50) } == first)
        #expect(keys.reversed().map { fimPlan(a, key: $0, scalarCount: 50) } == first.reversed())
        #expect(keys.map { fimPlan(b, key: $0, scalarCount: 50) } != first)
        #expect(keys.allSatisfy { fimPlan(FIMConfig(rate: 0, seed: 1), key: $0, scalarCount: 50) == nil })
        #expect(keys.allSatisfy { fimPlan(FIMConfig(rate: 1, spmRate: 0, seed: 1), key: $0, scalarCount: 50)?.order == .psm })
    }

    @Test func cutsAreUniformOverScalarsAndTheThreePartsRebuildTheText() {
        let text = "e\u{301}😀 中文 ﬁ\r\n🇩🇪 tail"
        let n = text.unicodeScalars.count
        var seenCuts = Set<Int>()
        for line in 1 ... 2000 {
            let plan = fimPlan(FIMConfig(rate: 1, seed: 9), key: fimDocumentKey(inputIndex: 0, line: line), scalarCount: n)!
            #expect(0 <= plan.cuts.0 && plan.cuts.0 <= plan.cuts.1 && plan.cuts.1 <= n)
            seenCuts.insert(plan.cuts.0); seenCuts.insert(plan.cuts.1)
            let (p, m, s) = fimSplit(text, plan)
            #expect(Array((p + m + s).utf8) == Array(text.utf8))
            #expect(p.unicodeScalars.count == plan.cuts.0 && m.unicodeScalars.count == plan.cuts.1 - plan.cuts.0)
        }
        #expect(seenCuts == Set(0 ... n))  // every position, both ends included, is drawn
    }

    @Test func layoutsFollowPSMAndSPM() {
        let t = FIMTokens(begin: 100, hole: 101, end: 102)
        #expect(fimAssemble(prefix: [1], middle: [2], suffix: [3], tokens: t, order: .psm) == [100, 1, 101, 3, 102, 2])
        #expect(fimAssemble(prefix: [1], middle: [2], suffix: [3], tokens: t, order: .spm) == [100, 101, 3, 102, 1, 2])
        #expect(fimAssemble(prefix: [], middle: [], suffix: [], tokens: t, order: .psm) == [100, 101, 102])
    }
}
