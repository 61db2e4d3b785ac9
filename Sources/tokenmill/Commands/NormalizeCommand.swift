// `tokenmill normalize`: cleanups + Unicode normalization over a stream of documents.
import ArgumentParser
import CorpusIO
import Foundation
import Normalization
import Pipeline

extension NormalizationForm: ExpressibleByArgument {}

struct NormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Clean up and Unicode-normalize documents, streaming, on all cores, in input order.",
        discussion: """
        Example: tokenmill normalize --form nfkc -o clean.jsonl.zst corpora/train.jsonl.zst

        Cleanups run before the normalization form: drop a leading BOM, CRLF to LF, strip control \
        characters other than \\n and \\t; then empty documents are dropped. JSON records keep every \
        other field byte for byte. Writes .jsonl, or .jsonl.zst when the output name ends in .zst, and \
        beside it OUTPUT.tokenmill.json naming the form and cleanups, which `tokenize` copies into its \
        manifest so that `bpb --run` normalizes test text the same way. \
        Memory: about 4 MiB of read buffer plus 2 × threads batches of 1 MiB, whatever the input size \
        (a single record larger than that is held whole).
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: "The Unicode normalization form.")
    var form: NormalizationForm = .nfkc

    @Option(name: [.short, .long], help: "The output file (.jsonl or .jsonl.zst); stdout when omitted or '-'.")
    var output: String?

    @Flag(inversion: .prefixedNo, help: "Drop a byte order mark at the start of a document.")
    var dropBom = true

    @Flag(name: .customLong("crlf-to-lf"), inversion: .prefixedNo, help: "Turn CRLF line endings into LF.")
    var crlfToLF = true

    @Flag(inversion: .prefixedNo, help: "Strip control characters (Unicode Cc) other than \\n and \\t.")
    var stripControl = true

    @Flag(inversion: .prefixedNo, help: "Drop documents that are empty after normalization.")
    var dropEmpty = true

    func run() throws {
        try reportingErrors {
            var cleanups = Cleanups()
            cleanups.dropBOM = dropBom
            cleanups.crlfToLF = crlfToLF
            cleanups.stripControl = stripControl
            cleanups.dropEmpty = dropEmpty
            let reader = try input.makeReader()
            let runner = progressOptions.makeRunner("normalize")
            let out = try OutputFile(path: output)
            var summary = NormalizeSummary()
            try writing(to: out, progress: runner.progress) {
                summary = try NormalizeStage.run(reader: reader, form: form, cleanups: cleanups, output: out, runner: runner)
            }
            if let output, output != "-" {
                try writeNormalizationSidecar(output: output, record: NormalizationRecord(form: form, cleanups: cleanups), inputs: input.inputs)
            }
            printError(summary.line + String(format: "; %.2f s", runner.progress.elapsed))
        }
    }
}
