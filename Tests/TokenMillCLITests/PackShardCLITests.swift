import Foundation
import Packing
import Testing
import TokenMillTestSupport

@Suite final class PackShardCLITests {
    let dir: URL
    let source: String

    /// The bundled test corpus, twice over, tokenized with Pythia's tokenizer (about 1,000 documents).
    init() throws {
        dir = try makeTemporaryDirectory("packshards")
        source = dir.appendingPathComponent("src").path
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let r = try runTokenmill(["tokenize", "--progress", "none", "--tokenizer", try tokenizerFixture("pythia/tokenizer.json"),
                                  "-o", source, corpus, corpus])
        #expect(r.status == 0, "\(r.stderr)")
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    private func bytes(_ prefix: String, _ ext: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: prefix + ext))
    }

    @Test func threeShardsMergedEqualOneRunForBothStrategies() throws {
        for strategy in ["best-fit", "concat"] {
            let options = ["pack", "--progress", "none", "--seq-len", "256", "--strategy", strategy, "--buffer-docs", "100",
                           "--seed", "9", "--valid-fraction", "0.1"]
            let single = dir.appendingPathComponent("single-\(strategy)").path
            let one = try runTokenmill(options + ["-o", single, source])
            #expect(one.status == 0, "\(one.stderr)")
            var parts: [String] = []
            for i in [2, 0, 1] {  // any order
                let part = dir.appendingPathComponent("part\(i)-\(strategy)").path
                let r = try runTokenmill(options + ["--shard", "\(i)/3", "-o", part, source])
                #expect(r.status == 0, "\(r.stderr)")
                #expect(r.stderr.hasPrefix("pack \(strategy) (shard \(i)/3): "))
                #expect(try IndexedDatasetReader(prefix: part).documentCount > 0)
                parts.append(part)
            }
            let merged = dir.appendingPathComponent("merged-\(strategy)").path
            let m = try runTokenmill(["merge", "-o", merged] + parts)
            #expect(m.status == 0, "\(m.stderr)")
            #expect(m.stderr.hasPrefix("merge: 3 pack shards → "))
            for ext in [".bin", ".idx", ".json", "_valid.bin", "_valid.idx"] {
                #expect(try bytes(single, ext) == bytes(merged, ext), "\(strategy): \(ext) differs")
            }
            // The split and the shuffle did something: a validation set, and rows not in packing order.
            let valid = try IndexedDatasetReader(prefix: single + "_valid")
            #expect(valid.documentCount > 0 && valid.document(0).count == 256)
            let unshuffled = dir.appendingPathComponent("unshuffled-\(strategy)").path
            #expect(try runTokenmill(options + ["--no-shuffle", "-o", unshuffled, source]).status == 0)
            #expect(try bytes(single, ".bin") != bytes(unshuffled, ".bin"))
            #expect(try bytes(single, ".bin").count == bytes(unshuffled, ".bin").count)
        }
    }

    @Test func shardsThatDoNotBelongTogetherAreRefused() throws {
        let options = ["pack", "--progress", "none", "--seq-len", "512", "--buffer-docs", "200", "--seed", "1"]
        func part(_ i: Int, of n: Int, _ extra: [String] = [], name: String) throws -> String {
            let prefix = dir.appendingPathComponent(name).path
            let r = try runTokenmill(options + extra + ["--shard", "\(i)/\(n)", "-o", prefix, source])
            #expect(r.status == 0, "\(r.stderr)")
            return prefix
        }
        let p0 = try part(0, of: 2, name: "a0"), p1 = try part(1, of: 2, name: "a1")
        let otherSeed = try part(1, of: 2, ["--seed", "2"], name: "b1")
        let bad = dir.appendingPathComponent("bad").path
        func merge(_ shards: [String]) throws -> CommandResult { try runTokenmill(["merge", "-o", bad] + shards) }

        let missing = try merge([p0])
        #expect(missing.status == 1 && missing.stderr == "error: shards 0/2 are not exactly 0…N−1 of one N\n")
        let duplicated = try merge([p0, p1, p1])
        #expect(duplicated.status == 1 && duplicated.stderr == "error: shards 0/2, 1/2, 1/2 are not exactly 0…N−1 of one N\n")
        let mixed = try merge([p0, otherSeed])
        #expect(mixed.status == 1 && mixed.stderr == "error: the shards' manifests disagree (tokenizer, inputs or options differ); they are not parts of one run\n")
        let kinds = try merge([p0, source])
        #expect(kinds.status == 1 && kinds.stderr == "error: \(source).json: not a pack shard, but \(p0) is; merge joins shards of one kind\n")
        let unsharded = dir.appendingPathComponent("whole").path
        #expect(try runTokenmill(options + ["-o", unsharded, source]).status == 0)
        let notShard = try merge([p0, unsharded])
        #expect(notShard.status == 1 && notShard.stderr == "error: \(unsharded).json: not a shard (written without pack --shard)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("bad") }.isEmpty)

        let noBuffers = try runTokenmill(["pack", "--seq-len", "512", "--shard", "0/2", "-o", bad, source])
        #expect(noBuffers.status == 64 && noBuffers.stderr.hasPrefix("Error: --shard needs --buffer-docs N"))
    }
}
