import Packing
import Testing

@Suite struct RowOrderTests {
    @Test(arguments: [0, 1, 2, 17, 1000])
    func isAPermutationDecidedByTheSeedAlone(count: Int) {
        let a = shuffledRowOrder(count: count, seed: 42)
        #expect(a.sorted() == Array(0 ..< count))
        #expect(shuffledRowOrder(count: count, seed: 42) == a)
        if count >= 17 { #expect(shuffledRowOrder(count: count, seed: 43) != a && a != Array(0 ..< count)) }
    }

    /// Pinned: pack and merge write rows in this order, so it must not change between releases.
    @Test func theOrderIsPinned() {
        #expect(shuffledRowOrder(count: 10, seed: 0) == [4, 9, 2, 5, 1, 7, 6, 0, 3, 8])  // SplitMix64(0) + Lemire, computed independently in Python
    }
}
