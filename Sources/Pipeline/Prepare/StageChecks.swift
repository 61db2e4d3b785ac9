// What the tokenize and pack stages check and print, whoever runs them (their verbs, `prepare`): the
// option ranges, named as the caller names its options, and the one-line summaries for stderr.
import CorpusIO
import Foundation
import Packing

extension TokenizeOptions {
    /// Checks the values a caller gives before any work: `name` turns an option's long name
    /// ("fim-rate") into how the caller spells it (the CLI: "--fim-rate").
    /// - Throws: `StageError.usage` for the first value out of range.
    public static func validate(fimRate: Double, fimSPMRate: Double, splitPunctuationNewline: Double, checkpointEvery: Int,
                                fimTokens: String?, name: (String) -> String = { "--" + $0 }) throws(StageError) {
        if !(0 ... 1).contains(fimRate) { throw StageError(.usage, "\(name("fim-rate")) must be between 0 and 1.") }
        if !(0 ... 1).contains(fimSPMRate) { throw StageError(.usage, "\(name("fim-spm-rate")) must be between 0 and 1.") }
        if !(0 ... 1).contains(splitPunctuationNewline) { throw StageError(.usage, "\(name("split-punctuation-newline")) must be between 0 and 1.") }
        if checkpointEvery < 1 { throw StageError(.usage, "\(name("checkpoint-every")) must be at least 1.") }
        if let fimTokens, fimTokens.split(separator: ",").count != 3 { throw StageError(.usage, "\(name("fim-tokens")) takes three tokens: BEGIN,HOLE,END.") }
    }
}

extension PackOptions {
    /// Checks the options before any work (`name` as in `TokenizeOptions.validate`).
    /// - Throws: `StageError.usage` for the first value out of range.
    public func validate(name: (String) -> String = { "--" + $0 }) throws(StageError) {
        if sequenceLength < 2 { throw StageError(.usage, "\(name("seq-len")) must be at least 2.") }
        if bufferDocs < 0 { throw StageError(.usage, "\(name("buffer-docs")) must be 0 (all) or more.") }
        if !(0 ..< 1).contains(validFraction) { throw StageError(.usage, "\(name("valid-fraction")) must be at least 0 and below 1.") }
        if let shard, shard.count > 1, bufferDocs == 0 {
            throw StageError(.usage, "\(name("shard")) needs \(name("buffer-docs")) N: shards pack whole buffers (give the single run the same \(name("buffer-docs"))).")
        }
    }
}

extension TokenizedDatasetManifest {
    /// The line `tokenize` prints when it is done: counts, element type, end-of-text, FIM and boundary
    /// randomization when used, skips when any, and the seconds it took.
    public func summaryLine(output: String, seconds: Double) -> String {
        let c = counts
        return "tokenize: \(formatCount(c.documents)) documents, \(formatBytes(Int64(c.textBytes))) → \(formatCount(c.tokens)) tokens (\(options.dtype), \(options.eod.map { "EOD \($0.id) appended" } ?? "no EOD")) in \(output).bin/.idx" +
            (options.fimRate > 0 ? ", FIM \(formatCount(c.fimPSM)) PSM + \(formatCount(c.fimSPM)) SPM" : "") +
            (options.splitPunctuationNewline > 0 ? ", punctuation + line break split \(formatCount(c.punctuationNewlineSplit)) of \(formatCount(c.punctuationNewlineEligible))" : "") +
            (c.emptySkipped > 0 ? ", \(formatCount(c.emptySkipped)) empty skipped" : "") + (c.malformedSkipped > 0 ? ", \(formatCount(c.malformedSkipped)) skipped" : "") +
            String(format: "; %.2f s", seconds)
    }
}

extension PackedDatasetManifest {
    /// The two lines `pack` prints when it is done: the chosen strategy's report (and the validation
    /// split's), then both strategies' on the same documents.
    public func summaryLines(options: PackOptions, seconds: Double) -> [String] {
        func line(_ name: String, _ r: PackingReport) -> String {
            "\(name): \(formatCount(r.documents)) documents → \(formatCount(r.rows)) rows of \(options.sequenceLength); truncated \(formatCount(r.truncatedDocuments)) (\(String(format: "%.2f", 100 * r.truncatedShare))%), padding \(formatCount(r.paddingTokens)) tokens (\(String(format: "%.2f", 100 * r.paddingShare))%)"
        }
        let name = "pack \(options.strategy.rawValue)" + (options.shard.map { " (shard \($0.index)/\($0.count))" } ?? "")
        return [line(name, report) + (options.validFraction > 0 ? "; validation: \(formatCount(validation.documents)) documents → \(formatCount(validation.rows)) rows" : "") + String(format: "; %.2f s", seconds),
                "  for comparison on the same documents: " + line("best-fit", bestFit) + "; " + line("concat", concat)]
    }
}

extension ReadOptions {
    /// Checks that the text field is a dotted path of non-empty keys (`name` spells the option).
    /// - Throws: `StageError.usage` when it is not.
    public static func validate(textField: String, name: String = "--text-field") throws(StageError) {
        if textField.isEmpty || textField.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
            throw StageError(.usage, "\(name) must be a dotted path of non-empty keys, like 'text' or 'meta.body'.")
        }
    }
}
