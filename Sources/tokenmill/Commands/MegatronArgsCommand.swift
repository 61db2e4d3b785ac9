// `tokenmill megatron-args`: the Megatron-LM (pretrain_gpt.py, megatron-core 0.16 era) arguments that train
// TokenMill's model on a TokenMill packed dataset: one argument per line with ` \` continuations, or with
// --json one object mapping each argument's argparse destination (the megatron-core config field where
// the names agree) to its value. The model comes from a run directory (RUN/checkpoint/tokenmill.json) or
// a --config preset/file as `train` takes; the data from a packed dataset's manifest (PREFIX.json).
// --prepare DIR writes what Megatron needs to read the rows as TokenMill trains on them (see
// `MegatronPreparation`). Policy: usage errors exit 64; an unreadable or inconsistent run, config or
// dataset is one `error:` line naming the file, exit 1.
import ArgumentParser
import CorpusIO
import Foundation
import Packing
import Pipeline
import Training

struct MegatronArgsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "megatron-args",
        abstract: "Print Megatron-LM pretrain_gpt.py arguments for a TokenMill model and packed dataset.",
        discussion: """
        Example: tokenmill megatron-args --config small --vocab-size 50277 --data data/packed --prepare data/megatron

        The model (--run RUN or --config) maps to MLA (--multi-latent-attention, LoRA ranks, head dims, plain \
        RoPE, the latent RMSNorms via --qk-layernorm), DeepSeekMoE (sigmoid router with \
        expert bias, top-k normalized then scaled by routed_scaling_factor, shared experts, the first \
        first_k_dense_replace layers dense via --moe-layer-freq, the sequence-wise balance loss), MTP, \
        RMSNorm, SwiGLU, untied embeddings, no biases, no dropout. TokenMill routes without groups \
        (n_group = topk_group = 1), so no group-limited routing flags are given. --padded-vocab-size is \
        the model's vocab_size, so Megatron pads no further.

        The data (--data PREFIX, a `tokenmill pack` output; with --run, the run's data by default) gives \
        --seq-length L (the row length), the tokenizer and --reset-position-ids --reset-attention-mask \
        --eod-mask-loss. Megatron's GPTDataset samples a dataset's sequences, not its documents: on pack's \
        own files (each row a document of piece sequences) it would shuffle the pieces and cut windows \
        across rows. --prepare DIR writes DIR/rows.idx (each row one sequence; DIR/rows.bin links to the \
        pack's .bin) and DIR/tokenizer (tokenizer.json and a tokenizer_config.json naming the EOD token as \
        eos_token, which Megatron's HuggingFaceTokenizer takes as its EOD), and the arguments point there: \
        every Megatron sample is then one TokenMill row, plus one look-ahead label (see the README).
        """
    )

    @Option(name: .customLong("run"), help: "A run directory from `tokenmill train --out` (its checkpoint's tokenmill.json and data.json).")
    var runDirectory: String?

    @Option(help: "A preset (tiny, small) or a JSON config file, as `tokenmill train` takes.")
    var config: String?

    @Option(name: .customLong("vocab-size"), help: "Override model.vocab_size (for presets, as `train --vocab-size`).")
    var vocabSize: Int?

    @Option(help: "A packed dataset prefix from `tokenmill pack` (default with --run: the run's data).")
    var data: String?

    @Option(help: "Write DIR/rows.idx + DIR/rows.bin (a link to the pack's .bin) and DIR/tokenizer, and point the arguments there.")
    var prepare: String?

    @Flag(name: .customLong("no-verify"), help: "With --prepare: do not check the pack's .bin/.idx against the SHA-256 its manifest records.")
    var noVerify = false

    @Flag(help: "Print a JSON object (argparse destination → value) instead of command-line arguments.")
    var json = false

    func validate() throws {
        if (runDirectory == nil) == (config == nil) { throw ValidationError("Give exactly one of --run RUN and --config PRESET|FILE.") }
        if let vocabSize, vocabSize < 2 { throw ValidationError("--vocab-size must be at least 2.") }
        if prepare != nil && data == nil && runDirectory == nil { throw ValidationError("--prepare needs --data PREFIX (or --run with its data).") }
    }

    func run() throws {
        try reportingErrors {
            var (runConfig, source, runData) = try loadModel()
            if data == nil, runData == nil, prepare != nil {
                throw RuntimeFailure(description: "\(source): the run records no training data; pass --data PREFIX")
            }
            if let vocabSize {
                runConfig.model.vocabSize = vocabSize
                do { try runConfig.validate() } catch let e as ConfigError { throw RuntimeFailure(description: "\(source): \(e)") }
            }
            let dataset = try (data ?? runData).map { try PackedDatasetInfo(prefix: $0) }
            if let dataset {
                let m = runConfig.model
                if dataset.vocabularySize.map({ $0 > m.vocabSize }) == true {
                    throw RuntimeFailure(description: "\(dataset.prefix).json: the tokenizer's \(dataset.vocabularySize!) ids do not fit model.vocab_size \(m.vocabSize) of \(source) (pass --vocab-size)")
                }
                if dataset.rowLength > m.maxPositionEmbeddings {
                    throw RuntimeFailure(description: "\(dataset.prefix).json: rows of \(dataset.rowLength) tokens exceed model.max_position_embeddings \(m.maxPositionEmbeddings) of \(source); pack with --seq-len ≤ \(m.maxPositionEmbeddings)")
                }
            }
            var prepared: MegatronPreparation?
            if let prepare, let dataset {
                // --prepare reads the pack's index and points Megatron at its .bin: both must be what the manifest recorded.
                try verifyDataset(dataset.prefix, noVerify: noVerify, command: "megatron-args")
                prepared = try MegatronPreparation.write(dataset, into: prepare)
            }
            let megatronData = dataset.map { d in
                MegatronData(prefix: prepared?.dataPrefix ?? d.prefix, rowLength: d.rowLength,
                             tokenizerDirectory: prepared?.tokenizerDirectory ?? d.tokenizerPath.map { ($0 as NSString).deletingLastPathComponent })
            }
            let arguments = MegatronArgument.arguments(runConfig, data: megatronData)
            print(json ? try MegatronArgument.json(arguments) : MegatronArgument.commandLine(arguments))
            if let dataset, prepared == nil {
                printError("note: \(dataset.prefix) holds each row as a document of piece sequences; Megatron's GPTDataset samples sequences, so it would shuffle pieces across rows. Pass --prepare DIR for row-aligned samples.")
            }
            if runConfig.model.numExpertsPerTok == 1 {
                printError("note: with top-1 routing Megatron gates by the raw sigmoid score, TokenMill by the normalized one (1)")
            }
        }
    }

    /// The run config (and where it came from, and the run's data path) of --run or --config.
    private func loadModel() throws -> (RunConfig, String, String?) {
        if let config {
            do { return (try RunConfig.load(config), config, nil) } catch let e as ConfigError {
                throw RuntimeFailure(description: e.field == config ? "\(config): \(e.message)" : "\(config): \(e)")
            }
        }
        let run = runDirectory!
        guard let dir = Checkpoint.directory(run: run) else {
            throw RuntimeFailure(description: "\(run)/checkpoint/state.json: no checkpoint (not a run directory of `tokenmill train --out`)")
        }
        let path = dir + "/tokenmill.json"
        guard let bytes = FileManager.default.contents(atPath: path) else { throw RuntimeFailure(description: "\(path): missing or unreadable") }
        let config: RunConfig
        do { config = try RunConfig.decode(bytes, source: path) } catch let e as ConfigError {
            throw RuntimeFailure(description: e.field == path ? "\(path): \(e.message)" : "\(path): \(e)")
        }
        let record = try savedTrainingDataRecord(checkpoint: dir)
        let data = record?.dataResolved ?? record?.data
        return (config, path, data)
    }
}
