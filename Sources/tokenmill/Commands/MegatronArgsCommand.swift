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
            let arguments = megatronArguments(runConfig, dataset: dataset, prepared: prepared)
            if json {
                let object = Dictionary(uniqueKeysWithValues: arguments.map { ($0.key, $0.value) })
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let words = arguments.flatMap(\.words)
                print(words.enumerated().map { $0.element + ($0.offset == words.count - 1 ? "" : " \\") }.joined(separator: "\n"))
            }
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

/// One Megatron-LM argument: its flag, argparse destination and value. `words` is how it is typed.
struct MegatronArgument {
    /// `absent`: Megatron-LM's default (the flag is not typed; JSON gives the value, e.g. null).
    enum Form { case value(String), storeTrue, storeFalse, absent }
    var flag: String
    var key: String
    var value: Any
    var form: Form

    var words: [String] {
        switch form {
        case .value(let text): return ["\(flag) \(shellQuoted(text))"]
        case .storeTrue, .storeFalse: return [flag]
        case .absent: return []
        }
    }
}

/// `text` as one shell word (single-quoted when it holds anything but safe characters).
func shellQuoted(_ text: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=+@%")
    return !text.isEmpty && text.allSatisfy(safe.contains) ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// A number as Python's argparse reads it back (integers without ".0", others in the shortest round-trip form).
private func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)" }

/// The arguments for `c` (and the packed dataset, when given), in pretrain_gpt.py's groups' order.
func megatronArguments(_ config: RunConfig, dataset: PackedDatasetInfo?, prepared: MegatronPreparation?) -> [MegatronArgument] {
    let m = config.model
    var out: [MegatronArgument] = []
    func int(_ flag: String, _ key: String, _ v: Int) { out.append(MegatronArgument(flag: flag, key: key, value: v, form: .value(String(v)))) }
    func real(_ flag: String, _ key: String, _ v: Double) { out.append(MegatronArgument(flag: flag, key: key, value: v, form: .value(number(v)))) }
    func text(_ flag: String, _ key: String, _ v: String) { out.append(MegatronArgument(flag: flag, key: key, value: v, form: .value(v))) }
    func on(_ flag: String, _ key: String) { out.append(MegatronArgument(flag: flag, key: key, value: true, form: .storeTrue)) }
    func off(_ flag: String, _ key: String) { out.append(MegatronArgument(flag: flag, key: key, value: false, form: .storeFalse)) }

    // Data.
    if let dataset {
        let prefix = prepared?.dataPrefix ?? dataset.prefix
        out.append(MegatronArgument(flag: "--data-path", key: "data_path", value: [prefix], form: .value(prefix)))
        text("--split", "split", "100,0,0")
        int("--seq-length", "seq_length", dataset.rowLength)
        if let dir = prepared?.tokenizerDirectory ?? dataset.tokenizerPath.map({ ($0 as NSString).deletingLastPathComponent }) {
            text("--tokenizer-type", "tokenizer_type", "HuggingFaceTokenizer")
            text("--tokenizer-model", "tokenizer_model", dir)
        }
        on("--reset-position-ids", "reset_position_ids")
        on("--reset-attention-mask", "reset_attention_mask")
        on("--eod-mask-loss", "eod_mask_loss")
    } else {
        int("--seq-length", "seq_length", config.training.sequenceLength)
    }
    // Model.
    int("--num-layers", "num_layers", m.numHiddenLayers)
    int("--hidden-size", "hidden_size", m.hiddenSize)
    int("--ffn-hidden-size", "ffn_hidden_size", m.intermediateSize)
    int("--num-attention-heads", "num_attention_heads", m.numAttentionHeads)
    int("--padded-vocab-size", "padded_vocab_size", m.vocabSize)
    int("--max-position-embeddings", "max_position_embeddings", m.maxPositionEmbeddings)
    text("--position-embedding-type", "position_embedding_type", "rope")
    // --rotary-base is an int in Megatron-LM; a fractional theta is printed as is and argparse rejects it.
    real("--rotary-base", "rotary_base", m.ropeTheta)
    text("--rope-type", "rope_type", "rope")
    // subtle: TokenMill rotates interleaved pairs; megatron-core rejects rotary_interleaved with MLA. For
    // training from scratch the two are the same model (one fixed permutation of q's and k's rope dims).
    off("--no-rope-fusion", "apply_rope_fusion")
    text("--normalization", "normalization", "RMSNorm")
    real("--norm-epsilon", "norm_epsilon", m.rmsNormEps)
    on("--swiglu", "swiglu")
    off("--disable-bias-linear", "add_bias_linear")
    on("--untie-embeddings-and-output-weights", "untie_embeddings_and_output_weights")
    real("--init-method-std", "init_method_std", m.initializerRange)
    real("--attention-dropout", "attention_dropout", 0)
    real("--hidden-dropout", "hidden_dropout", 0)
    // MLA.
    on("--multi-latent-attention", "multi_latent_attention")
    // No query compression is Megatron-LM's default (None); megatron-core's MLATransformerConfig defaults to 512.
    if m.qLoraRank > 0 { int("--q-lora-rank", "q_lora_rank", m.qLoraRank) } else {
        out.append(MegatronArgument(flag: "--q-lora-rank", key: "q_lora_rank", value: NSNull(), form: .absent))
    }
    int("--kv-lora-rank", "kv_lora_rank", m.kvLoraRank)
    int("--qk-head-dim", "qk_head_dim", m.qkNopeHeadDim)
    int("--qk-pos-emb-head-dim", "qk_pos_emb_head_dim", m.qkRopeHeadDim)
    int("--v-head-dim", "v_head_dim", m.vHeadDim)
    on("--qk-layernorm", "qk_layernorm")
    // MoE.
    int("--num-experts", "num_experts", m.nRoutedExperts)
    let dense = m.firstKDenseReplace, moe = m.numHiddenLayers - m.firstKDenseReplace
    let pattern = [dense > 0 ? "[0]*\(dense)" : nil, moe > 0 ? "[1]*\(moe)" : nil].compactMap { $0 }.joined(separator: "+")
    out.append(MegatronArgument(flag: "--moe-layer-freq", key: "moe_layer_freq",
                                value: Array(repeating: 0, count: dense) + Array(repeating: 1, count: moe), form: .value("(\(pattern))")))
    int("--moe-ffn-hidden-size", "moe_ffn_hidden_size", m.moeIntermediateSize)
    int("--moe-shared-expert-intermediate-size", "moe_shared_expert_intermediate_size", m.nSharedExperts * m.moeIntermediateSize)
    int("--moe-router-topk", "moe_router_topk", m.numExpertsPerTok)
    text("--moe-router-score-function", "moe_router_score_function", "sigmoid")
    real("--moe-router-topk-scaling-factor", "moe_router_topk_scaling_factor", m.routedScalingFactor)
    on("--moe-router-enable-expert-bias", "moe_router_enable_expert_bias")
    real("--moe-router-bias-update-rate", "moe_router_bias_update_rate", m.biasUpdateSpeed)
    out.append(MegatronArgument(flag: "--moe-router-load-balancing-type", key: "moe_router_load_balancing_type", value: "seq_aux_loss", form: .value("seq_aux_loss")))
    real("--moe-aux-loss-coeff", "moe_aux_loss_coeff", m.auxLossAlpha)
    // Multi-token prediction.
    if m.numNextnPredictLayers > 0 {
        int("--mtp-num-layers", "mtp_num_layers", m.numNextnPredictLayers)
        real("--mtp-loss-scaling-factor", "mtp_loss_scaling_factor", m.mtpLossWeight)
    } else {
        out.append(MegatronArgument(flag: "--mtp-num-layers", key: "mtp_num_layers", value: NSNull(), form: .absent))
    }
    return out
}
