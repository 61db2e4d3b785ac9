// `tokenmill encode`: documents → one JSON line of token ids each, streaming, on all cores, in order.
// Also holds what the tokenizer commands share: `TokenizerOptions`.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline
import Tokenization

extension PreTokenizerPreset: ExpressibleByArgument {}

/// Which tokenizer to load: shared by encode, decode and tokenizer-stats.
struct TokenizerOptions: ParsableArguments {
    @Option(name: .customLong("tokenizer"), help: "The tokenizer: a tokenizer.json, a vocab.json (with merges.txt beside it), a .tiktoken file, or a directory holding one.")
    var path: String

    @Option(help: "The pre-tokenizer of a .tiktoken file whose name does not imply one (gpt2, cl100k, o200k, llama3, qwen2, deepseek-v3).")
    var pretokenizer: PreTokenizerPreset?

    /// Loads the tokenizer; a missing choice (a .tiktoken file without --pretokenizer) is a usage error.
    func load() throws -> Tokenizer { try Self.load(path: path, preset: pretokenizer) }

    /// `Tokenizer.load` with its usage errors as argument-parser's (exit 64); for commands whose
    /// tokenizer path may come from elsewhere (`bpb --run`).
    static func load(path: String, preset: PreTokenizerPreset?) throws -> Tokenizer {
        do { return try Tokenizer.load(path: path, preset: preset) } catch TokenizerError.usage(let m) { throw ValidationError(m) }
    }
}

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode documents into token ids, one JSON line {\"ids\": [...]} per document, in input order.",
        discussion: """
        Example: tokenmill encode --tokenizer tokenizer.json -o ids.jsonl.zst corpora/test.jsonl.zst

        JSON records keep their other fields; the text field is replaced by "ids" (--keep-text keeps \
        it, and so does a nested --text-field). --split-punctuation-newline P with --seed S encodes \
        pre-tokens that join punctuation and line breaks as two parts with probability P \
        (DeepSeek-V3's token-boundary randomization); the decisions depend only on S and the document's \
        position (input, line), as in `tokenmill tokenize`, which gives the same ids. Special tokens' text is encoded as ordinary text unless --allow-special is given; added \
        tokens that are not special are always recognized, as in Hugging Face tokenizers. Memory: the \
        tokenizer plus about 2 × threads batches of 1 MiB.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: [.short, .long], help: "The output file (.jsonl or .jsonl.zst); stdout when omitted or '-'.")
    var output: String?

    @Flag(help: "Recognize special tokens (like <|endoftext|>) in the text.")
    var allowSpecial = false

    @Flag(help: "Keep the text field next to the ids.")
    var keepText = false

    @Option(name: .customLong("split-punctuation-newline"), help: "Token-boundary randomization (DeepSeek-V3): the probability (0 to 1) of encoding a pre-token that joins punctuation and line breaks as its two parts.")
    var splitProbability: Double = 0

    @Option(help: "Seed of the token-boundary randomization; the same seed gives byte-identical output.")
    var seed: UInt64 = 0

    func validate() throws {
        if !(0 ... 1).contains(splitProbability) { throw ValidationError("--split-punctuation-newline must be between 0 and 1.") }
    }

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            let reader = try input.makeReader()
            let runner = progressOptions.makeRunner("encode")
            let stage = EncodeStage(tokenizer: tokenizer, textPath: reader.options.textPath, allowSpecial: allowSpecial,
                                    keepText: keepText, splitProbability: splitProbability, seed: seed)
            let out = try OutputFile(path: output)
            var summary = EncodeSummary()
            try writing(to: out, progress: runner.progress) { summary = try stage.run(reader: reader, output: out, runner: runner) }
            printError(summary.line + String(format: "; %.2f s", runner.progress.elapsed))
        }
    }
}
