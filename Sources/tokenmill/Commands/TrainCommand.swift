// `tokenmill train`: pretrain the DeepSeek-V3-style MoE model (Training target) on a token file, with
// metrics, validation and atomic checkpoints in the run directory.
import ArgumentParser
import CorpusIO
import Foundation
import Packing
import Pipeline
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the small DeepSeek-V3-style MoE model on a token stream.",
        discussion: """
        Example: tokenmill train --config tiny --data corpus_text_document --out runs/tiny --steps 200

        --config takes a preset (tiny, small) or a JSON file {"model": {...}, "training": {...}} whose \
        model fields follow transformers' DeepseekV3Config, or the same as TOML (a .toml file with \
        [model] and [training] tables; `tokenmill prepare --help` lists the TOML accepted). --data takes a Megatron dataset prefix (.bin \
        with .idx) or a raw token file (.u16 or .i32). A packed dataset from `tokenmill pack` is read row \
        by row (windows of training.sequence_length): attention segments and RoPE positions restart at \
        the row start, at every EOD id and at a truncated piece; targets in the padding or crossing into a \
        truncated piece are masked, and the loss is the mean over the rest. Other data is a flat stream \
        cut into windows, segmented at EOD ids too when the EOD id is known (the dataset's PREFIX.json or \
        --eod-id). PREFIX_valid beside the data is the validation split; otherwise the stream's last \
        training.validation_fraction. The run directory receives metrics.jsonl and \
        checkpoint/ (model.safetensors with transformers' names, optimizer state, config.json, and \
        data.json: the data path and the tokenizer (path, SHA-256, vocabulary size) and normalization \
        its manifests name, which `tokenmill bpb --run` uses; a resumed run must keep its tokenizer).

        The vocabulary size (model.vocab_size) comes from the data's manifest when it names a tokenizer \
        (PREFIX.json of `tokenize`, or of `pack`, which copies its inputs'): the tokenizer's \
        vocabulary_size, added tokens included. --vocab-size, or model.vocab_size in a --config file, \
        may repeat it but not differ, not even to pad it or to shrink it to the data's largest id: a \
        differing --vocab-size is a usage error (exit 64), a differing config file an error in that \
        file (exit 1), both naming the two sizes and the manifest. Data without such a manifest (a raw \
        .u16/.i32 file) takes --vocab-size, else the config's vocab_size (presets: tiny 256, small \
        32768). --resume keeps the run's own size (RUN/checkpoint/tokenmill.json); data, --vocab-size \
        or a config file that say otherwise are refused the same way.

        Without \
        --steps, --tokens or --minutes the run lasts training.steps steps. The cosine schedule ends at \
        training.steps (--steps only stops earlier, so a resumed run continues the same schedule); with \
        --tokens it ends with the token budget, and with --minutes at the steps the time allows, estimated \
        from the pace so far and re-estimated every step. metrics.jsonl gets one line per log step (losses, \
        lr, tokens/s, GFLOP/s, and per MoE layer the tokens each expert received) and per validation; a line \
        that cannot be written (a full disk) is warned about once and counted in the last line, and the run goes \
        on. A NaN or infinite loss or gradient norm stops the run (exit 1, the last checkpoint kept) with one \
        line naming the step, which loss (or the gradient norm) went non-finite, and the first non-finite \
        tensor when there is one. When OPENBLAS_CORETYPE is \
        unset the command picks the best OpenBLAS kernel for the CPU and restarts itself once with it; \
        likewise it sets OPENBLAS_THREAD_TIMEOUT=4 when unset (idle BLAS threads sleep instead of spinning). \
        Memory: the parameters, gradients, AdamW moments and activations, allocated once at start and \
        independent of the data's size (the small preset at vocabulary 16384: about 1 GB); the data is \
        memory-mapped, not read into memory.
        """
    )

    @Option(help: "A preset (tiny, small) or a JSON or TOML (.toml) config file.")
    var config: String

    @Option(help: "The training tokens: a Megatron dataset prefix or a .u16/.i32 token file.")
    var data: String

    @Option(help: "The run directory for metrics.jsonl and checkpoints (none: nothing is saved).")
    var out: String?

    @Option(help: "Stop when this many optimizer steps have run in total.")
    var steps: Int?

    @Option(help: "Stop when this many tokens have been trained on in total.")
    var tokens: Int?

    @Option(help: "Stop after this many minutes of this invocation.")
    var minutes: Double?

    @Option(name: .customLong("eod-id"), help: "The end-of-document id that starts attention segments (default: from the dataset's manifest).")
    var eodID: Int?

    @Option(help: "Progress on stderr: auto (a live line when stderr is a terminal), bar, json (one JSON object per update: stage, event, message, seconds), or none.")
    var progress: ProgressMode = .auto

    @Flag(help: "Continue from the checkpoint in --out.")
    var resume = false

    @Option(name: .customLong("vocab-size"), help: "The model's vocabulary size (default: the data's manifest's tokenizer size, else the config's); must equal the manifest's (exit 64 if not).")
    var vocabSize: Int?

    @Option(help: "Threads for the element-wise loops (OpenBLAS uses OPENBLAS_NUM_THREADS; default: all cores).")
    var threads: Int?

    @Option(help: "Arithmetic of the linear layers: fp32, or fp8 (DeepSeek-V3's fine-grained FP8; overrides training.precision).")
    var precision: String?

    @Flag(name: .customLong("no-verify"), help: "Do not check the data (and the resumed checkpoint) against the SHA-256 their manifest (state.json) records.")
    var noVerify = false

    func validate() throws {
        if [steps != nil, tokens != nil, minutes != nil].filter({ $0 }).count > 1 {
            throw ValidationError("Give at most one of --steps, --tokens, --minutes.")
        }
        if let steps, steps < 1 { throw ValidationError("--steps must be positive.") }
        if let tokens, tokens < 1 { throw ValidationError("--tokens must be positive.") }
        if let minutes, minutes <= 0 { throw ValidationError("--minutes must be positive.") }
        if let vocabSize, vocabSize < 2 { throw ValidationError("--vocab-size must be at least 2.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
        if resume && out == nil { throw ValidationError("--resume needs --out RUN.") }
        if let eodID, eodID < 0 { throw ValidationError("--eod-id must not be negative.") }
    }

    func run() throws {
        var runConfig: RunConfig
        do {
            runConfig = try RunConfig.load(config)
            if let precision {
                runConfig.training.precision = precision
                try runConfig.validate()
            }
        } catch let e as ConfigError {
            // Bad usage: the same exit code as argument-parser's ValidationError, without its usage dump.
            printError("error: \(e)")
            throw ExitCode(64)
        } catch let e as ConfigFileError {
            printError("error: \(e)")   // a TOML syntax error, with its line: bad data
            throw ExitCode(1)
        }
        try TrainingThreads.$count.withValue(threads ?? TrainingThreads.count) { try reportingErrors {
            // What the run is trained on, for `bpb --run`; a resumed run must keep its tokenizer.
            let dataRecord = try trainingDataRecord(data: data)
            let checkpoint = out.flatMap { Checkpoint.directory(run: $0) }
            try verifyTrainingInputs(data: data, checkpoint: resume ? checkpoint : nil, noVerify: noVerify)
            let previous = try checkpoint.flatMap { try savedTrainingDataRecord(checkpoint: $0) }
            let record = try resumedTrainingDataRecord(old: resume ? previous : nil, new: dataRecord, warn: { printError($0) })
            let vocabulary = try resolveVocabularySize(flag: vocabSize, file: try configFileVocabularySize(config),
                                                       manifest: manifestVocabularySize(dataRecord),
                                                       run: resume ? try runVocabularySize(checkpoint: checkpoint) : nil)
            if let vocabulary {
                runConfig.model.vocabSize = vocabulary.size
                do { try runConfig.validate() } catch let e as ConfigError { throw ValidationError("\(e)") }
            }
            printError(OpenBLASSetup.description())
            let peak = measureSgemmGFLOPS()
            let live = ProgressReporter(stage: "train", mode: progress, isTerminal: standardErrorIsTerminal(),
                                        countsDocuments: false, write: writeStandardError)
            let trainer = try Trainer(config: runConfig, data: data, run: out, resume: resume, eod: eodID,
                                      layout: try DatasetManifest.trainingLayout(path: data), log: { live.clear(); printError($0) })
            trainer.dataRecord = trainingDataRecordJSON(record)
            if live.enabled { trainer.progress = { live.show($0) } }
            defer { live.finish() }
            printError(trainer.data.summary)
            trainer.sgemmPeak = peak
            let m = runConfig.model
            printError(String(format: "model: %@ parameters, vocabulary %@%@, %d layers (%d dense) + %d MTP, %d routed experts top-%d; %d tokens a step; sgemm peak %.0f GFLOP/s",
                              formatCount(trainer.model.parameterCount), formatCount(m.vocabSize), vocabulary.map { " (\($0.source))" } ?? "",
                              m.numHiddenLayers, m.firstKDenseReplace,
                              m.numNextnPredictLayers, m.nRoutedExperts, m.numExpertsPerTok, trainer.tokensPerStep, peak))
            if resume { printError("resuming at step \(trainer.state.step)") }
            do {
                try trainer.train(until: StopCondition(steps: steps, tokens: tokens, minutes: minutes))
            } catch {
                if let lost = trainer.metricsLossSummary { printError("warning: \(lost)") }
                throw error
            }
            var summary = "trained to step \(trainer.state.step), \(formatCount(trainer.state.tokensSeen)) tokens"
            if let v = trainer.evaluate() { summary += String(format: ", validation loss %.4f", v) }
            if let lost = trainer.metricsLossSummary { summary += "; warning: \(lost)" }
            printError(summary)
        } }
    }
}

/// A vocabulary size and where it was read.
struct VocabularySize {
    var size: Int
    /// The file that says so (a manifest, a config file, a checkpoint's tokenmill.json).
    var file: String
    /// How the model line names it: "from FILE" or "--vocab-size".
    var source: String
}

/// model.vocab_size as a --config file writes it (nil for a preset or a file without it).
func configFileVocabularySize(_ config: String) throws -> VocabularySize? {
    guard RunConfig.preset(config) == nil, let data = FileManager.default.contents(atPath: config),
          let top = try? RunConfig.readObject(data, source: config),
          let size = ((top["model"] as? [String: Any])?["vocab_size"] as? NSNumber)?.intValue else { return nil }
    return VocabularySize(size: size, file: config, source: "from \(config)")
}

/// The vocabulary size of the tokenizer the data's manifests name (`trainingDataRecord`), if any.
func manifestVocabularySize(_ record: TrainingDataRecord) -> VocabularySize? {
    guard let size = record.tokenizer?.vocabularySize, let manifest = record.manifest else { return nil }
    return VocabularySize(size: size, file: manifest, source: "from \(manifest)")
}

/// The vocabulary size of the run being resumed (its checkpoint's tokenmill.json), if there is one.
func runVocabularySize(checkpoint: String?) throws -> VocabularySize? {
    guard let checkpoint else { return nil }
    let path = checkpoint + "/tokenmill.json"
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    do {
        return VocabularySize(size: try RunConfig.decode(data, source: path).model.vocabSize, file: path, source: "the run's, from \(path)")
    } catch {
        throw RuntimeFailure(description: "\(path): \(error)")
    }
}

/// The model's vocabulary size: the resumed run's, else the data's manifest's, else --vocab-size
/// (nil: the config's as it stands). A --vocab-size that differs from the size that wins is a usage
/// error (`ValidationError`, exit 64); a config file's model.vocab_size or a manifest that differs, an
/// error in that file (exit 1). Each names both sizes and both files.
func resolveVocabularySize(flag: Int?, file: VocabularySize?, manifest: VocabularySize?, run: VocabularySize?) throws -> VocabularySize? {
    if let run {
        if let flag, flag != run.size {
            throw ValidationError("--vocab-size \(flag) differs from the vocabulary size \(run.size) of the run being resumed (\(run.file)); a resumed run keeps its own")
        }
        if let file, file.size != run.size {
            throw RuntimeFailure(description: "\(file.file): model.vocab_size \(file.size) differs from the vocabulary size \(run.size) of the run being resumed (\(run.file)); a resumed run keeps its own")
        }
        if let manifest, manifest.size != run.size {
            throw RuntimeFailure(description: "\(manifest.file): the data's tokenizer has vocabulary_size \(manifest.size), but the run being resumed has vocab_size \(run.size) (\(run.file)); resume on data made with the run's tokenizer")
        }
        return run
    }
    if let manifest {
        if let flag, flag != manifest.size {
            throw ValidationError("--vocab-size \(flag) differs from vocabulary_size \(manifest.size) of the data's tokenizer in \(manifest.file); omit --vocab-size to take it from the manifest")
        }
        if let file, file.size != manifest.size {
            throw RuntimeFailure(description: "\(file.file): model.vocab_size \(file.size) differs from vocabulary_size \(manifest.size) of the data's tokenizer in \(manifest.file); remove model.vocab_size to take it from the manifest")
        }
        return manifest
    }
    return flag.map { VocabularySize(size: $0, file: "", source: "--vocab-size") }
}
