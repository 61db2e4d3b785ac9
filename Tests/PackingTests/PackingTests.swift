import struct CorpusIO.SplitMix64
import Packing
import Testing

private func check(_ rows: [[Piece]], lengths: [Int], L: Int, _ context: Comment? = nil) {
    // Every token of every document appears exactly once; every row fits.
    var covered = lengths.map { [Bool](repeating: false, count: $0) }
    for row in rows {
        #expect(row.reduce(0) { $0 + $1.length } <= L, context)
        for p in row {
            for t in p.offset ..< p.offset + p.length {
                #expect(!covered[p.document][t], context)
                covered[p.document][t] = true
            }
        }
    }
    #expect(covered.allSatisfy { $0.allSatisfy { $0 } }, context)
}

@Suite struct PackingTests {
    /// Ding et al. 2024, Figure 1: L = 8, documents of 14, 7, 5, 2, 3 tokens.
    @Test func theFigureFromTheFewerTruncationsPaper() {
        let lengths = [14, 7, 5, 2, 3], L = 8
        var best = PackingReport(), concat = PackingReport()
        let rows = packBestFit(lengths: lengths, sequenceLength: L, report: &best)
        check(rows, lengths: lengths, L: L)
        #expect(best.truncatedDocuments == 1)   // only the 14-token document, which L forces
        #expect(best.rows == 4 && best.paddingTokens == 4 * 8 - 31)
        check(packConcat(lengths: lengths, sequenceLength: L, report: &concat), lengths: lengths, L: L)
        #expect(concat.truncatedDocuments == 3)  // 14, 7 and 2 (or 3) cross a cut
        #expect(concat.rows == 4)
    }

    @Test(arguments: [2, 7, 64, 512])
    func randomDocumentsAreAllPlacedOnceAndBestFitTruncatesLess(L: Int) {
        let seed: UInt64 = 20_261_210
        var rng = SplitMix64(seed: seed)
        let lengths = (0 ..< 2000).map { _ in Int.random(in: 0 ... 3 * L, using: &rng) }
        var best = PackingReport(), concat = PackingReport()
        let b = packBestFit(lengths: lengths, sequenceLength: L, report: &best)
        let c = packConcat(lengths: lengths, sequenceLength: L, report: &concat)
        let context: Comment = "seed \(seed)"
        check(b, lengths: lengths, L: L, context)
        check(c, lengths: lengths, L: L, context)
        #expect(best.tokens == concat.tokens && best.documents == concat.documents, context)
        #expect(best.truncatedDocuments == lengths.filter { $0 > L }.count, context)
        #expect(best.truncatedDocuments <= concat.truncatedDocuments, context)
        #expect(best.rows * L == best.tokens + best.paddingTokens, context)
    }

    @Test func bestFitChoosesTheTightestRow() {
        // Rows with room 3 and 5 exist; a 3-token piece goes to the room-3 row, not the room-5 row.
        var r = PackingReport()
        let rows = packBestFit(lengths: [7, 5, 3], sequenceLength: 10, report: &r)
        #expect(rows == [[Piece(document: 0, offset: 0, length: 7), Piece(document: 2, offset: 0, length: 3)],
                         [Piece(document: 1, offset: 0, length: 5)]])
    }
}
