// The Megatron-LM (pretrain_gpt.py, megatron-core 0.16 era) arguments that train TokenMill's model: the
// mapping from a `RunConfig` (and a packed dataset's prefix, row length and tokenizer) to Megatron's
// flags, argparse destinations and values, and the two ways `tokenmill megatron-args` prints them (one
// argument per line with ` \` continuations, or one JSON object). MLA, DeepSeekMoE (sigmoid router with
// expert bias, no group-limited routing), MTP, RMSNorm, SwiGLU, untied embeddings, no biases, no dropout.
// Policy: pure functions of their inputs; output bytes are stable across versions (tools/check-megatron
// runs them through Megatron's own argument parser).
import Foundation

/// The packed data Megatron reads: its prefix (PREFIX.bin/.idx), its row length (the sequence length)
/// and the directory of its Hugging Face tokenizer, if any.
public struct MegatronData: Sendable, Equatable {
    public var prefix: String
    public var rowLength: Int
    public var tokenizerDirectory: String?
    public init(prefix: String, rowLength: Int, tokenizerDirectory: String?) {
        self.prefix = prefix; self.rowLength = rowLength; self.tokenizerDirectory = tokenizerDirectory
    }
}

/// One Megatron-LM argument: its flag, argparse destination and value. `words` is how it is typed.
public struct MegatronArgument {
    /// `absent`: Megatron-LM's default (the flag is not typed; JSON gives the value, e.g. null).
    public enum Form: Equatable, Sendable { case value(String), storeTrue, storeFalse, absent }
    public var flag: String
    /// The argparse destination (the megatron-core config field where the names agree).
    public var key: String
    /// The value as JSON gives it: Int, Double, String, Bool, an array of them, or NSNull.
    public var value: Any
    public var form: Form

    public init(flag: String, key: String, value: Any, form: Form) { self.flag = flag; self.key = key; self.value = value; self.form = form }

    /// How the argument is typed: `--flag VALUE` (the value shell-quoted), `--flag`, or nothing.
    public var words: [String] {
        switch form {
        case .value(let text): return ["\(flag) \(shellQuoted(text))"]
        case .storeTrue, .storeFalse: return [flag]
        case .absent: return []
        }
    }
}

/// `text` as one shell word (single-quoted when it holds anything but safe characters).
public func shellQuoted(_ text: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=+@%")
    return !text.isEmpty && text.allSatisfy(safe.contains) ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// A number as Python's argparse reads it back (integers without ".0", others in the shortest round-trip form).
private func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)" }

extension MegatronArgument {
/// The arguments for `config` (and the packed dataset, when given), in pretrain_gpt.py's groups' order.
public static func arguments(_ config: RunConfig, data: MegatronData?) -> [MegatronArgument] {
    let m = config.model
    var out: [MegatronArgument] = []
    func int(_ flag: String, _ key: String, _ v: Int) { out.append(MegatronArgument(flag: flag, key: key, value: v, form: .value(String(v)))) }
    func real(_ flag: String, _ key: String, _ v: Double) { out.append(MegatronArgument(flag: flag, key: key, value: v, form: .value(number(v)))) }
    func text(_ flag: String, _ key: String, _ v: String) { out.append(MegatronArgument(flag: flag, key: key, value: v, form: .value(v))) }
    func on(_ flag: String, _ key: String) { out.append(MegatronArgument(flag: flag, key: key, value: true, form: .storeTrue)) }
    func off(_ flag: String, _ key: String) { out.append(MegatronArgument(flag: flag, key: key, value: false, form: .storeFalse)) }

    // Data.
    if let data {
        out.append(MegatronArgument(flag: "--data-path", key: "data_path", value: [data.prefix], form: .value(data.prefix)))
        text("--split", "split", "100,0,0")
        int("--seq-length", "seq_length", data.rowLength)
        if let dir = data.tokenizerDirectory {
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

/// The arguments as typed on a command line: one per line, continued with ` \`.
public static func commandLine(_ arguments: [MegatronArgument]) -> String {
    let words = arguments.flatMap(\.words)
    return words.enumerated().map { $0.element + ($0.offset == words.count - 1 ? "" : " \\") }.joined(separator: "\n")
}

/// The arguments as one JSON object (argparse destination → value), pretty-printed with sorted keys,
/// "/" unescaped.
/// - Throws: `ConfigError` naming the first argument whose value JSON cannot hold (a non-finite number).
public static func json(_ arguments: [MegatronArgument]) throws(ConfigError) -> String {
    if let bad = arguments.first(where: { ($0.value as? Double).map { !$0.isFinite } ?? false }) {
        throw ConfigError(field: bad.key, message: "\(bad.value) cannot be written as JSON")
    }
    let object = Dictionary(uniqueKeysWithValues: arguments.map { ($0.key, $0.value) })
    let data: Data
    do { data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) } catch {
        throw ConfigError(field: "megatron arguments", message: "cannot be written as JSON (\(error))")
    }
    return String(decoding: data, as: UTF8.self)
}
}
