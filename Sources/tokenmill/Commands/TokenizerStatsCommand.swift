// `tokenmill tokenizer-stats`: how well a tokenizer compresses a corpus — UTF-8 bytes per token overall
// and per field value, the share of the vocabulary used, and the longest tokens.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline
import Tokenization

struct TokenizerStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer-stats",
        abstract: "Measure a tokenizer on a corpus: bytes per token overall and per subset, vocabulary use, longest tokens.",
        discussion: """
        Example: tokenmill tokenizer-stats --tokenizer tokenizer.json --by meta.pile_set_name corpora/test.jsonl.zst

        Bytes are UTF-8 bytes of the text as read. The longest tokens are the vocabulary's longest (in \
        bytes), with how often each was used. Memory: one 8-byte counter per vocabulary id, plus 4 bytes \
        per token of the 2 × threads batches in flight.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(help: "Also break the counts down by the value of this JSON field (a dotted path).")
    var by: String?

    @Option(help: "How many of the longest tokens to list.")
    var longest = 10

    @Flag(help: "Recognize special tokens in the text.")
    var allowSpecial = false

    @Flag(help: "Print JSON instead of text: tokenizer, vocabulary_size, pretokenizer, vocabulary_used, overall, by, groups (per value), longest.")
    var json = false

    func validate() throws {
        if longest < 0 { throw ValidationError("--longest must be at least 0.") }
    }

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            let reader = try input.makeReader()
            let runner = progressOptions.makeRunner("tokenizer-stats")
            let report = try TokenizerStatsReport(tokenizer: tokenizer, name: tokenizerOptions.path, reader: reader, by: by,
                                                  allowSpecial: allowSpecial, runner: runner)
            runner.progress.finish()
            try writeStandardOutput((json ? try report.json(longest: longest) : report.text(longest: longest)) + "\n", what: "the report")
        }
    }
}
