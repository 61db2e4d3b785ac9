// `tokenmill decode`: JSON lines of token ids → JSON lines of text, the inverse of `encode`,
// streaming, on all cores, in order.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline
import Tokenization

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode JSON lines of token ids back into text, one JSON line {\"text\": ...} per record, in input order.",
        discussion: """
        Example: tokenmill decode --tokenizer tokenizer.json ids.jsonl.zst

        Each record's ids field (an array of integers) is replaced by the text field; other fields are \
        kept in order. An id outside the vocabulary is an error naming the file and line. Bytes that \
        are not valid UTF-8 (a character cut between tokens) become U+FFFD, as in Hugging Face.
        """
    )

    @Argument(help: "Input files (.jsonl, .jsonl.zst, .jsonl.gz); stdin when none or '-'.")
    var inputs: [String] = []

    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: [.short, .long], help: "The output file (.jsonl or .jsonl.zst); stdout when omitted or '-'.")
    var output: String?

    @Option(name: .customLong("ids-field"), help: "The field holding the ids.")
    var idsField = "ids"

    @Option(name: .customLong("text-field"), help: "The field the text is written to.")
    var textField = "text"

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            var readOptions = ReadOptions()
            readOptions.textLayout = .jsonl
            let reader = CorpusReader(inputs: try expandInputs(inputs), options: readOptions, warn: { printError($0) })
            let runner = progressOptions.makeRunner("decode")
            let out = try OutputFile(path: output)
            var summary = DecodeStage.Output()
            try writing(to: out, progress: runner.progress) {
                summary = try DecodeStage(tokenizer: tokenizer, idsField: idsField, textField: textField).run(reader: reader, output: out, runner: runner)
            }
            printError(summary.line + String(format: "; %.2f s", runner.progress.elapsed))
        }
    }
}
