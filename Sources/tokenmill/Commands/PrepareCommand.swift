// `tokenmill prepare`: normalize → dedup → decontaminate → tokenize (with FIM) → pack in one process, from
// a JSON or TOML config (Pipeline's `PrepareConfig`), calling the stages the subcommands call and printing
// their summary lines. Dedup and decontamination are one `cleanCorpus` call (two passes over the text,
// three with a max_ngram_documents limit) writing OUTPUT.clean.jsonl.zst, which tokenize reads.
import ArgumentParser
import CorpusIO
import Deduplication
import Foundation
import Normalization
import Pipeline

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Run normalize → dedup → decontaminate → tokenize (with fill-in-the-middle) → pack in one process from a JSON or TOML config.",
        discussion: """
        Example: tokenmill prepare --config prepare.toml

        The config, as JSON (every key but the first three optional):
          {"inputs": ["corpora/train.jsonl.zst"], "output": "data/train", "tokenizer": "tokenizer.json",
           "text_field": "text",
           "normalize": {"form": "nfkc"},
           "dedup": {"enabled": true, "keep_numbers": true, "exact_only": false, "ngram": 5, "bands": 14, "rows": 8, "seed": 1, "sort_memory": 256},
           "decontaminate": {"against": ["corpora/test.jsonl.zst"], "ngram": 13, "max_ngram_documents": 10, "action": "remove"},
           "tokenize": {"fim_rate": 0.1, "fim_spm_rate": 0, "split_punctuation_newline": 0, "seed": 0, "append_eod": true},
           "pack": {"seq_len": 2048, "strategy": "best-fit", "valid_fraction": 0.01, "seed": 0}}
        or the same keys as TOML, with [normalize], [dedup], [decontaminate], [tokenize] and [pack] tables:
          inputs = ["corpora/train.jsonl.zst"]
          output = "data/train"
          tokenizer = "tokenizer.json"
          [pack]
          seq_len = 2048
        writes OUTPUT.normalized.jsonl.zst with its .tokenmill.json (when "normalize" is given; the \
        normalization is recorded in the manifests, for `bpb --run`); OUTPUT.clean.jsonl.zst, the \
        documents dedup and decontamination keep, with OUTPUT.clean.jsonl.zst.cleaning.json (what was \
        removed, and the test files by path and SHA-256: `train` copies it into the run's data.json, \
        and `bpb` warns when its test file is not among them), OUTPUT.dedup-removed.jsonl (one line per \
        removed duplicate) and OUTPUT.contamination.jsonl (one line per test document hit); \
        OUTPUT.bin/.idx/.json (the \
        tokenized documents) and OUTPUT.packed.* (when "pack" is given). Each stage is the subcommand of \
        the same name with these options (tokenize's keys are its options' names with underscores: \
        "split_punctuation_newline" is --split-punctuation-newline, the token-boundary randomization \
        rate), checked as that subcommand checks them, and prints its own summary line. An unknown key, \
        a value of the wrong type or out of range is an error that names the key. Memory: that of the largest stage (see their --help).

        Dedup runs unless "dedup" has "enabled": false, with `tokenmill dedup`'s defaults except \
        "keep_numbers" (true: documents that differ only in their numbers are not duplicates). \
        Decontamination runs when "decontaminate" lists test files in "against" (and "enabled" is not \
        false), with `tokenmill decontaminate`'s defaults except "max_ngram_documents" (10: a test \
        n-gram that more than 10 training documents hold is boilerplate, not contamination; 0 ignores \
        none). Positions in the lists are those of the documents tokenize would otherwise have read.

        The format follows the extension (.json or .toml), else the content (JSON starts with '{'). \
        TOML is read by a small strict reader: comments, [table] and [a.b] headers, bare, quoted and \
        dotted keys, basic and literal strings on one line, decimal 64-bit integers, decimal floats, \
        booleans, arrays (over several lines too) and one-line inline tables; multi-line strings, dates \
        and times, hexadecimal/octal/binary integers, inf/nan and arrays of tables are refused, like any \
        syntax error, with the line number (exit 1).
        """
    )

    @Option(help: "The config file: JSON (.json) or TOML (.toml).")
    var config: String

    @OptionGroup var progressOptions: ProgressOptions

    func run() throws {
        try reportingErrors {
            let prepare = try runningStage { try PrepareConfig.read(path: config) }
            let common = progressOptions
            var options = prepare.tokenizeOptions
            options.threads = common.workerThreads
            var tokenizeInputs = prepare.inputs
            if prepare.normalize != nil {
                let output = prepare.normalizedPath
                let runner = common.makeRunner("normalize")
                let out = try OutputFile(path: output)
                let reader = CorpusReader(inputs: try expandInputs(prepare.inputs), options: options.read, warn: { printError($0) })
                var summary = NormalizeSummary()
                try writing(to: out, progress: runner.progress) {
                    summary = try NormalizeStage.run(reader: reader, form: prepare.normalizationForm, cleanups: Cleanups(), output: out, runner: runner)
                }
                try writeNormalizationSidecar(output: output, record: NormalizationRecord(form: prepare.normalizationForm, cleanups: Cleanups()), inputs: prepare.inputs)
                printError(summary.line + String(format: "; %.2f s", runner.progress.elapsed))
                tokenizeInputs = [output]
            }
            if prepare.dedupEnabled || !prepare.decontaminationTargets.isEmpty {
                try clean(prepare, inputs: tokenizeInputs, read: options.read, threads: common.workerThreads)
                tokenizeInputs = [prepare.cleanedPath]
            } else {
                printError("dedup: off; decontaminate: off")
            }
            let stage = try runningStage { try TokenizeStage(tokenizer: try TokenizerOptions.load(path: prepare.tokenizer, preset: nil), tokenizerPath: prepare.tokenizer, options: options) }
            let inputs = try expandInputs(tokenizeInputs)
            let tokenized = try reporting(common.makeReporter("tokenize")) { progress in
                try stage.run(inputs: inputs, output: prepare.output, version: TokenMill.configuration.version, note: { printError($0) },
                              progress: { progress.update(documents: $0, bytes: $1) })
            }
            printError(tokenized.0.summaryLine(output: prepare.output, seconds: tokenized.1))
            guard let packOptions = prepare.packOptions else { return }
            try verifyDataset(prepare.output, noVerify: false, command: "pack")
            let packed = try reporting(common.makeReporter("pack")) { progress in
                try PackStage(inputs: [prepare.output], options: packOptions).run(output: prepare.packedPrefix, progress: { progress.update(documents: $0, bytes: 0) })
            }
            for line in packed.0.summaryLines(options: packOptions, seconds: packed.1) { printError(line) }
        }
    }

    /// Dedup and decontamination of `inputs` into `prepare.cleanedPath` with its sidecars; prints the two
    /// summary lines.
    private func clean(_ prepare: PrepareConfig, inputs: [String], read: ReadOptions, threads: Int) throws {
        let files = try expandInputs(inputs)
        if files.contains("-") { throw ValidationError("\(config): dedup and decontamination read the input twice: give files in 'inputs', not stdin.") }
        let options = try prepare.cleaningOptions(threads: threads)
        // The input is read two or three times: its warnings are printed on the last pass.
        var passes = (options.dedup ? 2 : 1) + (options.maxTrainingDocumentsPerNGram != nil && !options.testFiles.isEmpty ? 1 : 0)
        let open = { () -> CorpusReader in
            passes -= 1
            return CorpusReader(inputs: files, options: read, warn: passes == 0 ? { printError($0) } : { _ in })
        }
        var opened = Set<String>()
        let openTest = { (path: String) -> CorpusReader in
            CorpusReader(inputs: [path], options: read, warn: opened.insert(path).inserted ? { printError($0) } : { _ in })
        }
        let removed = options.dedup ? prepare.dedupRemovedPath : nil
        let hits = options.testFiles.isEmpty ? nil : prepare.contaminationPath
        let progress = progressOptions.makeReporter("clean")
        let parent = (absolutePath(prepare.cleanedPath) as NSString).deletingLastPathComponent
        let report = try withScratchDirectory(parent, kind: "prepare") { work in
            try cleanCorpus(open: open, openTest: openTest, output: prepare.cleanedPath, removedOutput: removed, contaminationOutput: hits,
                            workDirectory: work, options: options, warn: { printError($0) },
                            progress: { _, docs, bytes in progress.update(documents: docs, bytes: bytes) })
        }
        progress.finish()
        try writeCleaningSidecars(output: prepare.cleanedPath, inputs: inputs, record: CleaningRecord(report, options: options, removedList: removed, hitsList: hits),
                                  warn: { printError($0) })
        let time = String(format: "; %.2f s", progress.elapsed)
        printError(options.dedup ? dedupSummary(report) + skippedSuffix(report.skipped) + (options.testFiles.isEmpty ? time : "") : "dedup: off")
        printError(options.testFiles.isEmpty ? "decontaminate: off (no 'decontaminate.against' test files)" : decontaminationSummary(report, removed: options.removeContaminated) + (options.dedup ? "" : skippedSuffix(report.skipped)) + time)
    }
}
