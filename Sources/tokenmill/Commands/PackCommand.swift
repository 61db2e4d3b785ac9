// `tokenmill pack`: tokenized documents → rows of exactly L tokens, best-fit or concatenated.
import ArgumentParser
import CorpusIO
import Foundation
import Packing
import Pipeline

extension PackingStrategy: ExpressibleByArgument {}

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack tokenized documents (Megatron datasets from tokenize) into rows of exactly --seq-len tokens.",
        discussion: """
        Example: tokenmill pack --seq-len 2048 --valid-fraction 0.01 -o data/packed data/train

        best-fit (Ding et al. 2024): documents longer than L are cut into L-token chunks, and chunks go, \
        longest first, into the row with the least room that fits (segment tree, O(N log L)), over \
        buffers of --buffer-docs documents; only documents longer than L are truncated. concat: \
        documents back to back, cut every L tokens. Each row is written as one Megatron document whose \
        sequences are the document pieces it holds, always followed by one padding sequence of pad ids \
        (possibly empty): a trainer resets positions at each piece and masks the last sequence out of \
        the loss; Megatron-LM itself reads the file as an ordinary dataset. --valid-fraction holds out \
        whole documents (chosen by --seed and their position) into OUT_valid; each of the two streams \
        is cut into buffers of --buffer-docs documents, packed one buffer at a time, and the rows of all \
        buffers are shuffled together with --seed. The report gives both strategies' truncations and \
        padding.

        Shards: with --shard I/N (and --buffer-docs set), a run packs only a contiguous I-th of the \
        buffers and writes its rows unshuffled; `tokenmill merge` joins the N outputs, shuffling the \
        rows as one run does, into exactly the single run's OUT.* and OUT_valid.* files.

        Memory: the index of the inputs (20 bytes per document), one buffer's packing plan (about 100 \
        bytes per document of the buffer; the whole input by default), and, when shuffling without \
        --shard, 24 bytes per piece of the output (about one per document and row) to write the rows in \
        shuffled order: about 150 bytes per input document in all by default (measured: 1.1 GB for 7.3 \
        million documents); ids are read from the mapped inputs, whose pages are let go every 64 MiB \
        read (at most about 128 MiB of them resident).
        """
    )

    @Argument(help: "Input dataset prefixes (PREFIX.bin + PREFIX.idx, as written by tokenize).")
    var inputs: [String]

    @Flag(name: .customLong("no-verify"), help: "Do not check the inputs' .bin/.idx against the SHA-256 their manifests (PREFIX.json) record.")
    var noVerify = false

    @Option(name: [.short, .long], help: "The output prefix: writes OUT.bin, OUT.idx and OUT.json (and OUT_valid.*).")
    var output: String

    @Option(name: .customLong("seq-len"), help: "Tokens per row (at least 2).")
    var sequenceLength: Int

    @Option(help: "best-fit (few truncations) or concat (concatenate and cut).")
    var strategy: PackingStrategy = .bestFit

    @Option(name: .customLong("buffer-docs"), help: "Documents packed together at a time (0: the whole input).")
    var bufferDocs: Int = 0

    @Option(name: .customLong("pad-id"), help: "The id padding uses (default: the end-of-text id in the inputs' manifests).")
    var padID: Int?

    @Option(help: "The seed for shuffling rows and choosing validation documents.")
    var seed: UInt64 = 0

    @Flag(inversion: .prefixedNo, help: "Shuffle the rows.")
    var shuffle = true

    @Option(name: .customLong("valid-fraction"), help: "The share of documents held out into OUT_valid (0 to 1).")
    var validFraction: Double = 0

    @Option(help: "Pack only shard I of N (I/N, 0-based): the I-th contiguous range of the --buffer-docs buffers, rows unshuffled. `tokenmill merge` joins the N outputs into exactly the single run's files.")
    var shard: Shard?

    @OptionGroup var progressOptions: ProgressOptions

    var options: PackOptions {
        var o = PackOptions(sequenceLength: sequenceLength)
        o.strategy = strategy; o.bufferDocs = bufferDocs; o.padID = padID; o.seed = seed
        o.shuffle = shuffle; o.validFraction = validFraction; o.shard = shard
        return o
    }

    func validate() throws { try runningStage { try options.validate() } }

    func run() throws {
        try reportingErrors {
            if noVerify {
                printError("pack: --no-verify: the inputs' .bin/.idx are not checked against the SHA-256 in their manifests")
            } else {
                for prefix in inputs { try verifyDataset(prefix, noVerify: false, command: "pack") }
            }
            let options = self.options
            let (m, seconds) = try reporting(progressOptions.makeReporter("pack")) { progress in
                try PackStage(inputs: inputs, options: options).run(output: output, progress: { progress.update(documents: $0, bytes: 0) })
            }
            for line in m.summaryLines(options: options, seconds: seconds) { printError(line) }
        }
    }
}
