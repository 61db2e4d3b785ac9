// The file plan of `--shard I/N`: contiguous ranges of whole files that tile the inputs, cut where the
// rule says, every shard non-empty; and a reader over a range numbers inputs as the whole run does and
// reads only those files.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct InputShardPlanTests {
    @Test func cutsAreNearestToEqualSharesOfTheSize() {
        // Prefix sums 0, 10, 20, 30, 130, 140: halves of 140 at 70 → after file 3 (30 is 40 away, 130 is 60).
        #expect(InputShardPlan.boundaries(sizes: [10, 10, 10, 100, 10], parts: 2) == [0, 3, 5])
        // One huge file first: the later shards still get one file each.
        #expect(InputShardPlan.boundaries(sizes: [1000, 1, 1, 1], parts: 3) == [0, 1, 2, 4])
        // As many files as shards: one each, whatever the sizes.
        #expect(InputShardPlan.boundaries(sizes: [5, 0, 7], parts: 3) == [0, 1, 2, 3])
        // Empty files only: ties go to the earlier boundary.
        #expect(InputShardPlan.boundaries(sizes: [0, 0, 0, 0], parts: 2) == [0, 1, 4])
        #expect(InputShardPlan.boundaries(sizes: [3, 3, 3, 3, 3, 3], parts: 3) == [0, 2, 4, 6])
        #expect(InputShardPlan.boundaries(sizes: [4], parts: 1) == [0, 1])
    }

    @Test func randomPlansTileTheFilesAndStayNearTheIdealCut() {
        let seed = UInt64(Date().timeIntervalSince1970)
        var rng = SplitMix64(seed: seed)
        for _ in 0 ..< 500 {
            let f = Int(rng.next() % 40) + 1, n = Int(rng.next() % UInt64(f)) + 1
            let sizes = (0 ..< f).map { _ in Int64(rng.next() % 1000) }
            let cuts = InputShardPlan.boundaries(sizes: sizes, parts: n)
            #expect(cuts.count == n + 1 && cuts.first == 0 && cuts.last == f, "seed \(seed): \(sizes) \(n) → \(cuts)")
            #expect(zip(cuts, cuts.dropFirst()).allSatisfy { $0 < $1 }, "seed \(seed): \(sizes) \(n) → \(cuts)")
            // Unless a clamp (one file per shard) moved it, each cut is the boundary nearest ⌊i·S/N⌋.
            var prefix: [Int64] = [0]
            for s in sizes { prefix.append(prefix.last! + s) }
            for i in 1 ..< n where cuts[i] > cuts[i - 1] + 1 && cuts[i] < f - (n - i) {
                let ideal = Double(prefix[f] * Int64(i) / Int64(n))
                let k = cuts[i]
                let here = abs(Double(prefix[k]) - ideal)
                #expect(here <= abs(Double(prefix[k - 1]) - ideal) && here <= abs(Double(prefix[k + 1]) - ideal),
                        "seed \(seed): \(sizes) \(n) → \(cuts), cut \(i)")
            }
        }
    }

    @Test func aShardReadsOnlyItsFilesAndKeepsTheirOrdinals() throws {
        let dir = try makeTemporaryDirectory("shard-plan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let texts = ["a", "bb", "ccc", "dddd"]
        var inputs: [String] = []
        for (k, t) in texts.enumerated() {
            let path = dir.appendingPathComponent("in\(k).jsonl").path
            try Data(String(repeating: "{\"text\":\"\(t)\"}\n", count: 10 * (k + 1)).utf8).write(to: URL(fileURLWithPath: path))
            inputs.append(path)
        }
        let plan = try InputShardPlan(inputs: inputs, index: 1, count: 2)
        let sizes = inputs.map { (try! FileManager.default.attributesOfItem(atPath: $0)[.size] as! NSNumber).int64Value }
        #expect(plan.sizes == sizes && plan.files == 3 ..< 4 && plan.paths == [inputs[3]])
        let reader = CorpusReader(inputs: inputs, files: plan.files, options: ReadOptions(), warn: { _ in })
        var seen: [(Int, String)] = []
        try reader.forEachDocument { seen.append(($0.inputIndex, $0.text)) }
        #expect(seen.count == 40 && seen.allSatisfy { $0 == (3, "dddd") })
        #expect(reader.inputBytesRead == sizes[3])
        // Fewer files than shards, stdin and a missing file: errors that say so.
        let tooFew = #expect(throws: ShardPlanError.self) { try InputShardPlan(inputs: inputs, index: 0, count: 5) }
        #expect(tooFew?.isUsage == true && tooFew?.message.contains("tokenmill split --parts 5") == true)
        #expect(throws: ShardPlanError.self) { try InputShardPlan(inputs: ["-"], index: 0, count: 1) }
        let missing = #expect(throws: ShardPlanError.self) { try InputShardPlan(inputs: [dir.path + "/nope"], index: 0, count: 1) }
        #expect(missing?.isUsage == false && missing?.message.hasPrefix(dir.path + "/nope: cannot stat") == true)
    }
}
