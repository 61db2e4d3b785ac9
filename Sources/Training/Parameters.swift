// The parameter list: names (transformers' DeepseekV3ForCausalLM, plus the released weights' MTP names
// under model.layers.{L+k}), shapes, and which tensors take weight decay or gradients. Parameters,
// gradients and optimizer moments are each one allocation laid out in this order.
// MTP module k (k = 0..<D) is model.layers.{L+k}: enorm, hnorm, eh_proj, one decoder layer, and
// shared_head.norm; it shares model.embed_tokens and lm_head (so shared_head.head is not stored).

/// One tensor of the model.
public struct ParameterSpec: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    /// AdamW weight decay applies (matrices only; norms and biases are exempt).
    public var decay: Bool
    /// Updated by the optimizer (false for the balancing bias, moved by `moeUpdateBias`).
    public var trainable: Bool
    public var offset = 0
    public var count: Int { shape.reduce(1, *) }
}

/// All tensors of `config`, in allocation order, with offsets filled in.
/// - Complexity: O(layers × experts).
public func parameterSizes(_ config: ModelConfig) -> [ParameterSpec] {
    let C = config.hiddenSize, H = config.numAttentionHeads
    var specs: [ParameterSpec] = []
    func add(_ name: String, _ shape: [Int], decay: Bool? = nil, trainable: Bool = true) {
        specs.append(ParameterSpec(name: name, shape: shape, decay: decay ?? (shape.count >= 2), trainable: trainable))
    }
    func ffn(_ p: String, _ I: Int) {
        add(p + ".gate_proj.weight", [I, C]); add(p + ".up_proj.weight", [I, C]); add(p + ".down_proj.weight", [C, I])
    }
    func layer(_ i: Int, moe: Bool) {
        let p = "model.layers.\(i)."
        add(p + "input_layernorm.weight", [C])
        if config.qLoraRank > 0 {
            add(p + "self_attn.q_a_proj.weight", [config.qLoraRank, C])
            add(p + "self_attn.q_a_layernorm.weight", [config.qLoraRank])
            add(p + "self_attn.q_b_proj.weight", [H * config.qkHeadDim, config.qLoraRank])
        } else {
            add(p + "self_attn.q_proj.weight", [H * config.qkHeadDim, C])
        }
        add(p + "self_attn.kv_a_proj_with_mqa.weight", [config.kvLoraRank + config.qkRopeHeadDim, C])
        add(p + "self_attn.kv_a_layernorm.weight", [config.kvLoraRank])
        add(p + "self_attn.kv_b_proj.weight", [H * (config.qkNopeHeadDim + config.vHeadDim), config.kvLoraRank])
        add(p + "self_attn.o_proj.weight", [C, H * config.vHeadDim])
        add(p + "post_attention_layernorm.weight", [C])
        if moe {
            add(p + "mlp.gate.weight", [config.nRoutedExperts, C])
            add(p + "mlp.gate.e_score_correction_bias", [config.nRoutedExperts], trainable: false)
            for e in 0..<config.nRoutedExperts { ffn(p + "mlp.experts.\(e)", config.moeIntermediateSize) }
            ffn(p + "mlp.shared_experts", config.moeIntermediateSize * config.nSharedExperts)
        } else {
            ffn(p + "mlp", config.intermediateSize)
        }
    }
    add("model.embed_tokens.weight", [config.vocabSize, C])
    for i in 0..<config.numHiddenLayers { layer(i, moe: config.isMoE(layer: i)) }
    add("model.norm.weight", [C])
    add("lm_head.weight", [config.vocabSize, C])
    for k in 0..<config.numNextnPredictLayers {
        let i = config.numHiddenLayers + k, p = "model.layers.\(i)."
        add(p + "enorm.weight", [C]); add(p + "hnorm.weight", [C]); add(p + "eh_proj.weight", [C, 2 * C])
        layer(i, moe: config.isMoE(layer: i))
        add(p + "shared_head.norm.weight", [C])
    }
    var offset = 0
    for i in specs.indices { specs[i].offset = offset; offset += specs[i].count }
    return specs
}

extension Array where Element == ParameterSpec {
    /// Total scalar count.
    public var totalCount: Int { last.map { $0.offset + $0.count } ?? 0 }
}
