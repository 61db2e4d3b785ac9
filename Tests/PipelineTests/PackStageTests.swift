// The pack stage in-process on real tokenized text: rows of exactly L tokens ending in padding, every
// input token packed once (train + validation), and shards joined by ShardMerge equal to one run.
import Foundation
import Packing
import Pipeline
import Testing

@Suite struct PackStageTests {
    @Test(arguments: [PackingStrategy.bestFit, .concat])
    func rowsHoldExactlyLTokensEndingInPaddingAndEveryTokenOnce(strategy: PackingStrategy) throws {
        let f = try DatasetFixture("pack-stage")
        defer { f.remove() }
        let tokenized = try f.tokenize("t")
        var o = PackOptions(sequenceLength: 96)
        o.strategy = strategy; o.validFraction = 0.2; o.seed = 9; o.bufferDocs = 16
        let m = try PackStage(inputs: [f.dir + "/t"], options: o).run(output: f.dir + "/p")
        let pad = try #require(tokenized.options.eod).id
        #expect(m.options.padID == Int(pad) && m.tokenizer == tokenized.tokenizer && m.inputs == [f.dir + "/t"])
        #expect(m.report.documents + m.validation.documents == 60 && m.validation.documents > 0)
        #expect(m.report.tokens + m.validation.tokens == tokenized.counts.tokens)
        for (suffix, report) in [("", m.report), ("_valid", m.validation)] {
            let ds = try IndexedDatasetReader(prefix: f.dir + "/p" + suffix)
            #expect(ds.documentCount == report.rows)
            var padding = 0
            for r in 0 ..< ds.documentCount {
                let sequences = Int(ds.documentIndices[r]) ..< Int(ds.documentIndices[r + 1])
                #expect(sequences.reduce(0) { $0 + Int(ds.sequenceLengths[$1]) } == 96, "row \(r)")
                let last = ds.sequence(sequences.upperBound - 1)
                #expect(last.allSatisfy { $0 == pad })
                padding += last.count
            }
            #expect(padding == report.paddingTokens && ds.tokenCount - padding == report.tokens)
        }
        // The manifest read back is the one returned, with the hashes of the four files.
        let read = try #require(try PackedDatasetManifest.read(prefix: f.dir + "/p"))
        #expect(read.sha256?.keys.sorted() == [".bin", ".idx", "_valid.bin", "_valid.idx"])
        var withoutHashes = read
        withoutHashes.sha256 = nil
        #expect(withoutHashes == m)
        #expect(try DatasetVerification.check(prefix: f.dir + "/p_valid") == .verified)
    }

    @Test func shardsJoinedByMergeEqualOneRun() throws {
        let f = try DatasetFixture("pack-shards")
        defer { f.remove() }
        try f.tokenize("t")
        var o = PackOptions(sequenceLength: 64)
        o.bufferDocs = 10; o.validFraction = 0.15; o.seed = 4
        _ = try PackStage(inputs: [f.dir + "/t"], options: o).run(output: f.dir + "/one")
        for i in 0 ..< 3 {
            var s = o
            s.shard = Shard(index: i, count: 3)
            let m = try PackStage(inputs: [f.dir + "/t"], options: s).run(output: f.dir + "/part\(i)")
            #expect(m.shard?.trainBuffers == Shard.range(m.shard!.totalTrainBuffers, s.shard))
        }
        let result = try ShardMerge.run(shards: (0 ..< 3).reversed().map { f.dir + "/part\($0)" }, output: f.dir + "/merged",
                                        version: "test", verify: true, warn: { _ in })
        guard case .packed(3, let rows, let validRows?) = result else { Issue.record("\(result)"); return }
        #expect(rows > 0 && validRows > 0)
        for ext in [".bin", ".idx", ".json", "_valid.bin", "_valid.idx"] { #expect(try f.bytes("merged" + ext) == f.bytes("one" + ext), "\(ext) differs") }
        // Two shards of different runs (another seed) are refused.
        var other = o
        other.seed = 5; other.shard = Shard(index: 1, count: 3)
        _ = try PackStage(inputs: [f.dir + "/t"], options: other).run(output: f.dir + "/other1")
        #expect(throws: StageError(.data, "the shards' manifests disagree (tokenizer, inputs or options differ); they are not parts of one run")) {
            try ShardMerge.run(shards: [f.dir + "/part0", f.dir + "/other1", f.dir + "/part2"], output: f.dir + "/bad", version: "test", verify: false, warn: { _ in })
        }
    }
}
