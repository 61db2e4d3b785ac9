// `tokenmill train`: pretrain the DeepSeek-V3-style MoE model (Training target) on a token file, with
// metrics, validation and atomic checkpoints in the run directory.
import ArgumentParser
import Foundation
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the small DeepSeek-V3-style MoE model on a token stream.",
        discussion: """
        Example: tokenmill train --config tiny --data corpus_text_document --out runs/tiny --steps 200

        --config takes a preset (tiny, small) or a JSON file {"model": {...}, "training": {...}} whose \
        model fields follow transformers' DeepseekV3Config. --data takes a Megatron dataset prefix (.bin \
        with .idx) or a raw token file (.u16 or .i32). A packed dataset from `tokenmill pack` is read row \
        by row (windows of training.sequence_length): attention segments and RoPE positions restart at \
        the row start, at every EOD id and at a truncated piece; targets in the padding or crossing into a \
        truncated piece are masked, and the loss is the mean over the rest. Other data is a flat stream \
        cut into windows, segmented at EOD ids too when the EOD id is known (the dataset's PREFIX.json or \
        --eod-id). PREFIX_valid beside the data is the validation split; otherwise the stream's last \
        training.validation_fraction. The run directory receives metrics.jsonl and \
        checkpoint/ (model.safetensors with transformers' names, optimizer state, config.json, and \
        data.json: the data path and the tokenizer (path, SHA-256, vocabulary size) and normalization \
        its manifests name, which `tokenmill bpb --run` uses; a resumed run must keep its tokenizer). Without \
        --steps, --tokens or --minutes the run lasts training.steps steps. The cosine schedule ends at \
        training.steps (--steps only stops earlier, so a resumed run continues the same schedule); with \
        --tokens it ends with the token budget, and with --minutes at the steps the time allows, estimated \
        from the pace so far and re-estimated every step. metrics.jsonl gets one line per log step (losses, \
        lr, tokens/s, GFLOP/s, and per MoE layer the tokens each expert received) and per validation. When OPENBLAS_CORETYPE is \
        unset the command picks the best OpenBLAS kernel for the CPU and restarts itself once with it; \
        likewise it sets OPENBLAS_THREAD_TIMEOUT=4 when unset (idle BLAS threads sleep instead of spinning). \
        Memory: the parameters, gradients, AdamW moments and activations, allocated once at start and \
        independent of the data's size (the small preset at vocabulary 16384: about 1 GB); the data is \
        memory-mapped, not read into memory.
        """
    )

    @Option(help: "A preset (tiny, small) or a JSON config file.")
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

    @Option(help: "A live progress line on stderr: auto (only when stderr is a terminal), bar, or none.")
    var progress: ProgressMode = .auto

    @Flag(help: "Continue from the checkpoint in --out.")
    var resume = false

    @Option(name: .customLong("vocab-size"), help: "Override model.vocab_size (for presets).")
    var vocabSize: Int?

    @Option(help: "Threads for the element-wise loops (OpenBLAS uses OPENBLAS_NUM_THREADS; default: all cores).")
    var threads: Int?

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
        let kernel = selectBLASKernel()
        var runConfig: RunConfig
        do {
            runConfig = try RunConfig.load(config)
            if let vocabSize { runConfig.model.vocabSize = vocabSize; try runConfig.validate() }
        } catch let e as ConfigError {
            // Bad usage: the same exit code as argument-parser's ValidationError, without its usage dump.
            printError("error: \(e)")
            throw ExitCode(64)
        }
        if let threads { trainingThreads = threads }
        try reportingErrors {
            printError(kernel)
            let peak = measureSgemmGFLOPS()
            let live = ProgressReporter(verb: "train", enabled: progress == .bar || (progress == .auto && isatty(2) != 0))
            // What the run is trained on, for `bpb --run`; a resumed run must keep its tokenizer.
            let previous = try out.flatMap { o in try Checkpoint.directory(run: o).flatMap { try savedTrainingDataRecord(checkpoint: $0) } }
            let record = try resumedTrainingDataRecord(old: resume ? previous : nil, new: try trainingDataRecord(data: data), warn: { printError($0) })
            let trainer = try Trainer(config: runConfig, data: data, run: out, resume: resume, eod: eodID, log: { live.clear(); printError($0) })
            trainer.dataRecord = trainingDataRecordJSON(record)
            if live.enabled { trainer.progress = { live.show($0) } }
            defer { live.finish() }
            printError(trainer.data.summary)
            trainer.sgemmPeak = peak
            let m = runConfig.model
            printError(String(format: "model: %@ parameters, %d layers (%d dense) + %d MTP, %d routed experts top-%d; %d tokens a step; sgemm peak %.0f GFLOP/s",
                              formatCount(trainer.model.parameterCount), m.numHiddenLayers, m.firstKDenseReplace,
                              m.numNextnPredictLayers, m.nRoutedExperts, m.numExpertsPerTok, trainer.tokensPerStep, peak))
            if resume { printError("resuming at step \(trainer.state.step)") }
            try trainer.train(until: StopCondition(steps: steps, tokens: tokens, minutes: minutes))
            var summary = "trained to step \(trainer.state.step), \(formatCount(trainer.state.tokensSeen)) tokens"
            if let v = trainer.evaluate() { summary += String(format: ", validation loss %.4f", v) }
            printError(summary)
        }
    }
}
