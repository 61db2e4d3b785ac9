// `tokenmill tokenize`: documents → a Megatron-LM indexed dataset (PREFIX.bin + PREFIX.idx) with a
// manifest (PREFIX.json) saying what produced it.
import ArgumentParser
import CorpusIO
import FillInTheMiddle
import Foundation
import Packing
import Pipeline
import Tokenization

enum DTypeOption: String, ExpressibleByArgument, CaseIterable {
    case auto, uint16, int32
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize documents into a Megatron-LM indexed dataset (PREFIX.bin + PREFIX.idx), one entry per document.",
        discussion: """
        Example: tokenmill tokenize --tokenizer tokenizer.json -o data/train corpora/train.jsonl.zst

        Each non-empty document becomes one entry (one sequence, one document) with the end-of-text \
        token appended, exactly as Megatron-LM's tools/preprocess_data.py --append-eod writes it; \
        documents that encode to nothing are skipped and counted. The element type follows \
        megatron-core's rule: uint16 when the vocabulary (added tokens included) has fewer than 65,500 \
        ids, else int32. PREFIX.json records the tokenizer's SHA-256, the inputs, the options and the \
        counts, and the inputs' normalization when `tokenmill normalize` wrote them and their \
        OUTPUT.tokenmill.json sidecars agree (else null), and the SHA-256 of the finished .bin and .idx \
        ("sha256", checked by train, merge, pack, inspect and megatron-args --prepare). The three files appear only when complete; \
        until then the data is written to hidden \
        .PREFIX.*.partial files with a checkpoint every --checkpoint-every batches, and --resume continues \
        a killed run from there (byte-identical to an uninterrupted run).

        Fill-in-the-middle (DeepSeek-V3 uses --fim-rate 0.1, PSM): a chosen document is cut at two \
        positions drawn uniformly over its characters, the parts are encoded separately and the entry \
        becomes <|fim_begin|> prefix <|fim_hole|> suffix <|fim_end|> middle <|endoftext|> (PSM) or \
        <|fim_begin|> <|fim_hole|> suffix <|fim_end|> prefix middle <|endoftext|> (SPM). Which \
        documents and where depends only on --seed and the document's position (input, line).

        Token-boundary randomization (DeepSeek-V3 §4.1): --split-punctuation-newline P encodes each \
        pre-token that joins punctuation and line breaks (".\\n", "!\\n\\n", " });\\n") as two parts, the \
        punctuation and the line breaks, with probability P, so the model also sees them apart. The \
        decisions depend only on --seed and the document's position (input, line), like FIM's, so \
        --threads and --shard do not change the output; PREFIX.json records P ("split_punctuation_newline") \
        and how many such pre-tokens were split and how many there were.

        Order: the entries follow the inputs in the order given (directories and globs expanded in sorted \
        order), each file's documents in file order, whatever --threads is. --shard I/N reads only a \
        contiguous range of whole input files, balanced by size on disk (shard i starts at the file \
        boundary nearest i/N of the total size, each shard at least one file), and holds their documents \
        in that order; `tokenmill merge` concatenates the N shards in shard order, which is the single \
        run's order, so the merged files equal one run's byte for byte. A shard prints (and PREFIX.json \
        records as shard.input_bytes) the bytes it read. With fewer input files than shards, --shard is \
        refused: run `tokenmill split --parts N` first. Memory: the tokenizer, 12 bytes per \
        document for the index, and about 2 × threads batches of 1 MiB.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: [.short, .long], help: "The output prefix: writes PREFIX.bin, PREFIX.idx and PREFIX.json.")
    var output: String

    @Flag(name: .customLong("append-eod"), inversion: .prefixedNo, help: "Append the end-of-text token to every document.")
    var appendEOD = true

    @Option(name: .customLong("eod-token"), help: "The end-of-text token's text (default: the tokenizer's <|endoftext|>, <｜end▁of▁sentence｜>, <|end_of_text|> or </s>).")
    var eodToken: String?

    @Flag(help: "Recognize special tokens (like <|endoftext|>) in the text.")
    var allowSpecial = false

    @Option(help: "The element type: auto (megatron-core's rule), uint16 or int32.")
    var dtype: DTypeOption = .auto

    @Option(name: .customLong("fim-rate"), help: "The share of documents turned into fill-in-the-middle examples (0 to 1).")
    var fimRate: Double = FIMConfig().rate

    @Option(name: .customLong("fim-spm-rate"), help: "The share of fill-in-the-middle examples in SPM order instead of PSM (0 to 1).")
    var fimSPMRate: Double = FIMConfig().spmRate

    @Option(name: .customLong("fim-tokens"), help: "The FIM sentinel tokens as BEGIN,HOLE,END (default: the tokenizer's <｜fim▁begin｜>/<｜fim▁hole｜>/<｜fim▁end｜>, <|fim_begin|>/…, or <fim_prefix>/<fim_suffix>/<fim_middle>).")
    var fimTokens: String?

    @Option(name: .customLong("split-punctuation-newline"), help: "Token-boundary randomization (DeepSeek-V3): the probability (0 to 1) of encoding a pre-token that joins punctuation and line breaks as its two parts.")
    var splitProbability: Double = 0

    @Option(help: "The seed of every random choice (which documents get FIM, where they are cut, and which pre-tokens --split-punctuation-newline splits).")
    var seed: UInt64 = FIMConfig().seed

    @Flag(help: "Continue an interrupted run of the same command where its last checkpoint left off; the result is byte-identical to an uninterrupted run.")
    var resume = false

    @Option(name: .customLong("checkpoint-every"), help: "Save a resume checkpoint every this many input batches (about 1 MiB each).")
    var checkpointEvery: Int = 32

    @Option(help: "Process only shard I of N (I/N, 0-based): a contiguous range of whole input files balanced by size, the only files this run opens. `tokenmill merge` joins the N outputs into exactly the single run's files.")
    var shard: Shard?

    func validate() throws {
        try runningStage { try TokenizeOptions.validate(fimRate: fimRate, fimSPMRate: fimSPMRate, splitPunctuationNewline: splitProbability, checkpointEvery: checkpointEvery, fimTokens: fimTokens) }
    }

    func run() throws {
        try reportingErrors {
            var options = TokenizeOptions()
            options.appendEOD = appendEOD
            options.eodToken = eodToken
            options.allowSpecial = allowSpecial
            options.dtype = switch dtype { case .auto: nil; case .uint16: .uint16; case .int32: .int32 }
            options.fim = FIMConfig(rate: fimRate, spmRate: fimSPMRate, seed: seed)
            options.fimTokens = fimTokens?.split(separator: ",").map(String.init)
            options.splitPunctuationNewline = splitProbability
            options.shard = shard
            options.resume = resume
            options.checkpointEvery = checkpointEvery
            options.threads = progressOptions.workerThreads
            options.read = input.readOptions
            let stage = try runningStage { try TokenizeStage(tokenizer: try tokenizerOptions.load(), tokenizerPath: tokenizerOptions.path, options: options) }
            let inputs = try expandInputs(input.inputs)
            let (m, seconds) = try reporting(progressOptions.makeReporter("tokenize")) { progress in
                try stage.run(inputs: inputs, output: output, version: TokenMill.configuration.version, note: { printError($0) },
                              resumed: { printError("tokenize: resuming at input batch \($0) with \(formatCount($1)) documents written") },
                              progress: { progress.update(documents: $0, bytes: $1) })
            }
            printError(m.summaryLine(output: output, seconds: seconds) + (m.shard.map { shardReadSuffix($0, inputs: inputs) } ?? ""))
        }
    }
}

/// "; shard I/N read files a–b of F: X of Y" for a shard's summary line (the evidence that it read only its share).
func shardReadSuffix(_ shard: TokenizedDatasetManifest.Shard, inputs: [String]) -> String {
    guard let files = shard.files, let bytes = shard.inputBytes,
          let plan = try? InputShardPlan(inputs: inputs, index: shard.index, count: shard.count) else { return "" }
    return "; shard \(shard.index)/\(shard.count) read \(plan.filesDescription): \(formatBytes(bytes)) of \(formatBytes(plan.totalBytes)) (\(files.count) file\(files.count == 1 ? "" : "s"))"
}

extension Shard: ExpressibleByArgument {
    /// `--shard I/N`.
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { "\(index)/\(count)" }
}
