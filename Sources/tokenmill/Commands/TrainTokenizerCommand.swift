// `tokenmill train-tokenizer`: count pre-tokens on all cores, then learn byte-level BPE merges exactly as
// Hugging Face's BpeTrainer does, and write tokenizer.json (and optionally .tiktoken) files.
import ArgumentParser
import CorpusIO
import Foundation
import Normalization
import Pipeline
import Tokenization

struct TrainTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-tokenizer",
        abstract: "Train a byte-level BPE tokenizer whose merges equal Hugging Face BpeTrainer's on the same input.",
        discussion: """
        Example: tokenmill train-tokenizer --vocab-size 32768,65536 --pretokenizer cl100k \
        --special-tokens '<|endoftext|>' -o tokenizer.json corpora/train.jsonl.zst

        Several sizes from one run write one file per size (tokenizer-32768.json, ...); the smaller \
        vocabulary's merges are a prefix of the larger's. Special tokens get ids 0, 1, ... and their \
        text in the corpus is never counted. Counts are 64-bit and do not depend on --threads. \
        --save-counts writes the word counts so shards can be counted separately and trained together \
        with --counts.

        Memory: without --max-memory, the distinct pre-tokens (their bytes + 44 B each) while counting \
        (--max-words spills sorted runs to disk and merges them at the end; with --save-counts and no -o \
        the merge streams to the file), then during the merges 12 + 18·V/32768 B plus 8 to 12 B per \
        byte for each distinct pre-token of two bytes or more (V the vocabulary size), plus \
        40 MiB + 256 B per vocabulary entry and about 64 MiB for the process; the estimate is printed \
        before the merges and the peak at the end. --max-memory SIZE bounds the peak resident memory of the whole run: \
        counting spills to --spill-dir to stay under it, and if the distinct pre-tokens do not all fit \
        in the merges, the rarest are set aside: every pre-token counted fewer than T times, for the \
        smallest T that fits. The run then prints how many were set aside and what share of the \
        corpus's pre-token bytes they hold; the merges are Hugging Face's for the pre-tokens kept. \
        When everything fits, the result is the same as without --max-memory.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(name: .customLong("vocab-size"), help: "Vocabulary sizes, comma-separated (special tokens and the 256 bytes included).")
    var vocabSizes: String

    @Option(help: "The pre-tokenizer: gpt2, cl100k, o200k, llama3, qwen2 or deepseek-v3.")
    var pretokenizer: PreTokenizerPreset = BPETrainerConfig().preset

    @Option(name: .customLong("special-tokens"), help: "Special tokens, comma-separated; they get the first ids.")
    var specialTokens: String = ""

    @Option(name: .customLong("min-frequency"), help: "Stop when the most frequent pair occurs fewer times than this.")
    var minFrequency: UInt64 = BPETrainerConfig().minFrequency

    @Option(help: "Unicode normalization before pre-tokenization (recorded in tokenizer.json).")
    var normalize: NormalizationForm = BPETrainerConfig().normalization

    @Option(name: [.short, .long], help: "The tokenizer.json to write; with several sizes, the size is added before the extension.")
    var output: String?

    @Flag(help: "Also write a .tiktoken file next to each tokenizer.json.")
    var tiktoken = false

    @Option(name: .customLong("save-counts"), help: "Write the word counts to this file.")
    var saveCounts: String?

    @Option(name: .customLong("counts"), help: "Add the word counts of a file written by --save-counts (repeatable); with no inputs, stdin is not read.")
    var countFiles: [String] = []

    @Option(name: .customLong("max-words"), help: "Bound the counting memory: whenever this many distinct pre-tokens are held, spill them as a sorted run to disk; runs are merged at the end (0: never spill).")
    var maxWords: Int = 0

    @Option(name: .customLong("max-memory"), help: "Bound the run's peak memory, like 512M, 4G or 4GiB (powers of 1024); the rarest pre-tokens are set aside when the merges would not fit.")
    var maxMemory: String?

    @Option(name: .customLong("spill-dir"), help: "The directory for spilled runs (default: the system temporary directory).")
    var spillDir: String?

    @Option(help: "With --save-counts: count only shard I of N (I/N, 0-based): a contiguous range of whole input files balanced by size, as tokenize --shard takes (the only files it reads); train from all shards' counts with --counts.")
    var shard: Shard?

    var sizes: [Int] { vocabSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    var specials: [String] { specialTokens.isEmpty ? [] : specialTokens.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }

    func validate() throws {
        let parts = vocabSizes.split(separator: ",", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.count == sizes.count else { throw ValidationError("--vocab-size takes positive integers separated by commas, like 32768,65536.") }
        let minimum = 256 + Set(specials).count
        if let bad = sizes.first(where: { $0 < minimum }) {
            throw ValidationError("--vocab-size \(bad) is below 256 bytes + \(Set(specials).count) special tokens = \(minimum).")
        }
        if specials.contains(where: \.isEmpty) { throw ValidationError("--special-tokens has an empty token.") }
        if output == nil && saveCounts == nil { throw ValidationError("give -o/--output for the tokenizer (or --save-counts to only count).") }
        if shard != nil && (saveCounts == nil || output != nil) { throw ValidationError("--shard counts a share of the inputs: give --save-counts and no -o (train from every shard's counts with --counts).") }
        if maxWords < 0 { throw ValidationError("--max-words must be 0 (never spill) or positive.") }
        if normalize == .nfkcCasefold { throw ValidationError("--normalize nfkc-casefold cannot be written to tokenizer.json; use nfc, nfkc, nfd, nfkd or none.") }
    }

    func run() throws {
        try reportingErrors {
            // Checked here rather than in validate() so the error is one line (exit 64).
            if let maxMemory {
                guard let bytes = parseMemorySize(maxMemory), bytes > 0 else {
                    throw ValidationError("--max-memory takes a size like 512M, 4G or 4GiB, not '\(maxMemory)'.")
                }
                let minimum = TokenizerTrainingJob.minimumMemory(threads: progressOptions.workerThreads, vocabSize: sizes.max() ?? 0)
                if bytes < minimum {
                    throw ValidationError("--max-memory \(maxMemory) is below the \(formatMemory(minimum)) a run with \(progressOptions.workerThreads) threads and vocabulary \(sizes.max() ?? 0) needs at least.")
                }
            }
            var config = BPETrainerConfig()
            config.vocabSizes = sizes.sorted()
            config.specialTokens = specials
            config.minFrequency = minFrequency
            config.preset = pretokenizer
            config.normalization = normalize
            var job = TokenizerTrainingJob(config: config)
            job.countFiles = countFiles
            job.maxWords = maxWords
            job.maxMemory = maxMemory.flatMap(parseMemorySize) ?? 0
            if let spillDir { job.spillDirectory = spillDir }
            job.saveCounts = saveCounts
            job.output = output
            job.tiktoken = tiktoken
            let input = self.input
            let shard = self.shard
            let makeReader: (() throws -> CorpusReader)? = !input.inputs.isEmpty || countFiles.isEmpty ? {
                guard let shard else { return try input.makeReader() }
                let inputs = try expandInputs(input.inputs)
                do {
                    let plan = try InputShardPlan(inputs: inputs, index: shard.index, count: shard.count)
                    return CorpusReader(inputs: inputs, files: plan.files, options: input.readOptions, warn: { printError($0) })
                } catch let e as ShardPlanError where e.isUsage { throw ValidationError(e.message) }
            } : nil
            try job.run(makeReader: makeReader, runner: progressOptions.makeRunner("train-tokenizer: counting"), log: { printError($0) })
        }
    }
}
