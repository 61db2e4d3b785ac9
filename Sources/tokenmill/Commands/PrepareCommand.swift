// `tokenmill prepare`: normalize → tokenize (with FIM) → pack in one process, from a JSON or TOML config
// (Pipeline's `PrepareConfig`), calling the stages the subcommands call and printing their summary lines.
import ArgumentParser
import CorpusIO
import Foundation
import Normalization
import Pipeline

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Run normalize → tokenize (with fill-in-the-middle) → pack in one process from a JSON or TOML config.",
        discussion: """
        Example: tokenmill prepare --config prepare.toml

        The config, as JSON (every key but the first three optional):
          {"inputs": ["corpora/train.jsonl.zst"], "output": "data/train", "tokenizer": "tokenizer.json",
           "text_field": "text",
           "normalize": {"form": "nfkc"},
           "tokenize": {"fim_rate": 0.1, "fim_spm_rate": 0, "split_punctuation_newline": 0, "seed": 0, "append_eod": true},
           "pack": {"seq_len": 2048, "strategy": "best-fit", "valid_fraction": 0.01, "seed": 0}}
        or the same keys as TOML, with [normalize], [tokenize] and [pack] tables:
          inputs = ["corpora/train.jsonl.zst"]
          output = "data/train"
          tokenizer = "tokenizer.json"
          [pack]
          seq_len = 2048
        writes OUTPUT.normalized.jsonl.zst with its .tokenmill.json (when "normalize" is given; the \
        normalization is recorded in the manifests, for `bpb --run`), OUTPUT.bin/.idx/.json (the \
        tokenized documents) and OUTPUT.packed.* (when "pack" is given). Each stage is the subcommand of \
        the same name with these options (tokenize's keys are its options' names with underscores: \
        "split_punctuation_newline" is --split-punctuation-newline, the token-boundary randomization \
        rate), checked as that subcommand checks them, and prints its own summary line. An unknown key, \
        a value of the wrong type or out of range is an error that names the key. Memory: that of the largest stage (see their --help).

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
}
