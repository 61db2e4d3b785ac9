// `tokenmill merge`: joins the outputs of `tokenize --shard I/N` or `pack --shard I/N` into the files one
// run would write; the kind comes from the shards' manifests.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the shard outputs of tokenize or pack --shard I/N into the files a single run writes, byte for byte.",
        discussion: """
        Example: tokenmill merge -o data/train data/train.shard0 data/train.shard1

        The shards' manifests (PREFIX.json) say which command wrote them. tokenize shards: each read a \
        contiguous range of whole input files (shard.files in its manifest); merge checks that the \
        ranges tile the inputs and concatenates the shards' documents in shard order, the single run's \
        order (shards written by TokenMills before this, which took every N-th batch, are refused: \
        tokenize them again). pack shards: each holds the rows of a \
        contiguous range of buffers, unshuffled; merge concatenates them and writes them in the order \
        the single run's --seed gives, for OUT and for OUT_valid (from the shards' PREFIX_valid). Either \
        way OUT.bin, OUT.idx and OUT.json (and OUT_valid.*) equal a single run's. The shards must come \
        from the same tokenizer, inputs and options, and every shard 0…N−1 must be given once. Memory: \
        the shards' indexes (20 bytes per document), plus 8 bytes per row for pack shards; ids are read \
        from the mapped shards.
        """
    )

    @Argument(help: "The shard prefixes, in any order.")
    var shards: [String]

    @Option(name: [.short, .long], help: "The output prefix: writes OUT.bin, OUT.idx and OUT.json.")
    var output: String

    @Flag(name: .customLong("no-verify"), help: "Do not check the shards' .bin/.idx against the SHA-256 their manifests record.")
    var noVerify = false

    func run() throws {
        try reportingErrors {
            if noVerify { printError("merge: --no-verify: the shards' .bin/.idx are not checked against the SHA-256 in their manifests") }
            let result = try runningStage {
                try ShardMerge.run(shards: shards, output: output, version: TokenMill.configuration.version, verify: !noVerify, warn: { printError($0) })
            }
            switch result {
            case .tokenized(let n, let documents):
                printError("merge: \(n) shards → \(formatCount(documents)) documents in \(output).bin/.idx")
            case .packed(let n, let rows, let validationRows):
                printError("merge: \(n) pack shards → \(formatCount(rows)) rows in \(output).bin/.idx" +
                           (validationRows.map { ", \(formatCount($0)) validation rows in \(output)_valid.bin/.idx" } ?? ""))
            }
        }
    }
}
