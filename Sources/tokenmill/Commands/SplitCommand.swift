// `tokenmill split`: one streaming pass over a corpus into N balanced .jsonl.zst parts of whole records,
// so that `--shard I/N` tasks (whole files each) read only their share (library: CorpusIO.splitCorpus).
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split a corpus into N balanced .jsonl.zst parts of whole records, in one streaming pass, for --shard I/N.",
        discussion: """
        Example: tokenmill split --parts 16 -o corpus-parts big.jsonl.zst
                 tokenmill tokenize --shard 3/16 --tokenizer tokenizer.json -o data/train.shard3 corpus-parts

        Writes DIR/part-00000-of-00016.jsonl.zst … part-00015-of-00016.jsonl.zst (names that sort in \
        order). The records, in input order, keep their bytes: a JSON Lines record is copied as read (a \
        newline added to a last line without one; blank lines dropped), a plain-text document becomes \
        {"text": …}; a part boundary never splits a record, so the parts concatenated are the input's \
        records. Balance: the inputs' total decompressed size T is estimated as their size on disk × the \
        decompression ratio read so far (exact for uncompressed inputs and by the end of the input), and \
        each part closes after the record that brings it to the estimated remainder shared by the parts \
        left; the same input always gives the same parts. With fewer records than parts, the last parts \
        are empty. Stdin is refused (its size is unknown). Parts are written to a hidden directory inside \
        DIR and renamed into place only when all are complete (the last first, part 0 last), so an \
        interrupted run leaves no part under its final name; parts of a different split already in DIR \
        are an error. Sharding DIR then gives each task whole parts (InputShardPlan's rule), byte-identical \
        results after merge, and documents in the input's order. Memory: the 4 MiB read buffer, one batch \
        of about 1 MiB and one zstd stream (a few MB), whatever the input size.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: "How many parts to write.")
    var parts: Int

    @Option(name: [.short, .long], help: "The directory the parts go to (created if missing).")
    var output: String

    @Option(name: .customLong("zstd-level"), help: "The zstd level of the parts.")
    var zstdLevel: Int32 = 3

    func validate() throws {
        if parts < 1 || parts > 99_999 { throw ValidationError("--parts must be between 1 and 99,999.") }
        if !(1 ... 19).contains(zstdLevel) { throw ValidationError("--zstd-level must be between 1 and 19.") }
        if input.inputs.isEmpty || input.inputs.contains("-") { throw ValidationError("split balances parts by the inputs' size on disk: give files, not stdin.") }
    }

    func run() throws {
        try reportingErrors {
            let reader = try input.makeReader()
            let progress = progressOptions.makeReporter("split")
            let report = try splitCorpus(reader: reader, parts: parts, directory: output, zstdLevel: zstdLevel,
                                         progress: { progress.update(documents: $0, bytes: $1) })
            progress.finish()
            let sizes = report.parts.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? NSNumber)?.int64Value ?? 0 }
            printError("split: \(formatCount(report.records.reduce(0, +))) records (\(formatBytes(report.bytes.reduce(0, +)))) from \(formatCount(reader.inputs.count)) input\(reader.inputs.count == 1 ? "" : "s") (\(formatBytes(report.inputBytes)) read) → \(parts) parts of \(formatBytes(report.bytes.min()!))–\(formatBytes(report.bytes.max()!)) (\(formatBytes(sizes.reduce(0, +))) zstd) in \(output)" + String(format: "; %.2f s", progress.elapsed))
        }
    }
}
