// `tokenmill stats`: document, byte and character counts with length quantiles, overall and by field.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Count documents, UTF-8 bytes and characters, with document-length quantiles, overall and per field value.",
        discussion: """
        Example: tokenmill stats --by meta.pile_set_name --json corpora/test.jsonl.zst

        Bytes are UTF-8 bytes of the text as read (before any normalization); characters are Unicode \
        scalars. Length quantiles (p10, p50, p90, p99 of bytes per document) come from a fixed-size \
        histogram and are within 1.6%; counts, minimum and maximum are exact. Documents without the \
        --by field are counted under "unknown". Memory: about 30 KiB per distinct field value plus the \
        reader's buffers (about 4 MiB + 2 × threads MiB), whatever the input size.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: "Also break the counts down by the value of this JSON field (a dotted path, e.g. meta.pile_set_name).")
    var by: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        try reportingErrors {
            let reader = try input.makeReader()
            let runner = progressOptions.makeRunner("stats")
            let report = try StatsReport(reader: reader, by: by, runner: runner)
            runner.progress.finish()
            print(json ? report.json : report.table)
            printError(report.line + String(format: "; %.2f s", runner.progress.elapsed))
        }
    }
}
