// The model and training configuration: one JSON file, {"model": {...}, "training": {...}}. Model field
// names follow transformers' DeepseekV3Config (so `config.json` for export is a rename-free copy), plus
// TokenMill's training-only knobs (mtp_loss_weight, aux_loss_alpha, bias_update_speed). Presets: `tiny`
// (tests; trains in seconds) and `small` (issue 5: d_model 256, 4 layers of which 1 dense, 1 shared + 16
// routed experts of hidden 256, top-4, 4 heads, sequence 512).
// Policy: unknown fields are errors (named); inconsistent sizes are errors (named).
import CorpusIO
import Foundation

/// Every size of the model, with transformers' DeepseekV3Config names.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var vocabSize = 256
    public var hiddenSize = 32
    public var numHiddenLayers = 2
    public var firstKDenseReplace = 1
    public var intermediateSize = 64
    public var moeIntermediateSize = 32
    public var nSharedExperts = 1
    public var nRoutedExperts = 4
    public var numExpertsPerTok = 2
    public var routedScalingFactor = 2.5
    public var numAttentionHeads = 2
    /// 0 means no query compression (transformers' `q_lora_rank: null`).
    public var qLoraRank = 0
    public var kvLoraRank = 16
    public var qkNopeHeadDim = 8
    public var qkRopeHeadDim = 8
    public var vHeadDim = 8
    public var maxPositionEmbeddings = 64
    public var ropeTheta = 10000.0
    public var rmsNormEps = 1e-6
    /// Multi-token prediction depth D (DeepSeek-V3: 1).
    public var numNextnPredictLayers = 1
    /// λ: weight of the MTP loss (averaged over the D modules).
    public var mtpLossWeight = 0.3
    /// α: weight of the sequence-wise balance loss.
    public var auxLossAlpha = 0.0001
    /// γ: per-step move of the aux-loss-free balancing bias.
    public var biasUpdateSpeed = 0.001
    public var initializerRange = 0.02

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case firstKDenseReplace = "first_k_dense_replace", intermediateSize = "intermediate_size"
        case moeIntermediateSize = "moe_intermediate_size", nSharedExperts = "n_shared_experts"
        case nRoutedExperts = "n_routed_experts", numExpertsPerTok = "num_experts_per_tok"
        case routedScalingFactor = "routed_scaling_factor", numAttentionHeads = "num_attention_heads"
        case qLoraRank = "q_lora_rank", kvLoraRank = "kv_lora_rank", qkNopeHeadDim = "qk_nope_head_dim"
        case qkRopeHeadDim = "qk_rope_head_dim", vHeadDim = "v_head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", ropeTheta = "rope_theta", rmsNormEps = "rms_norm_eps"
        case numNextnPredictLayers = "num_nextn_predict_layers", mtpLossWeight = "mtp_loss_weight"
        case auxLossAlpha = "aux_loss_alpha", biasUpdateSpeed = "bias_update_speed"
        case initializerRange = "initializer_range"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ModelConfig.defaults
        func get<T: Decodable>(_ k: CodingKeys, _ v: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? v }
        vocabSize = try get(.vocabSize, d.vocabSize); hiddenSize = try get(.hiddenSize, d.hiddenSize)
        numHiddenLayers = try get(.numHiddenLayers, d.numHiddenLayers)
        firstKDenseReplace = try get(.firstKDenseReplace, d.firstKDenseReplace)
        intermediateSize = try get(.intermediateSize, d.intermediateSize)
        moeIntermediateSize = try get(.moeIntermediateSize, d.moeIntermediateSize)
        nSharedExperts = try get(.nSharedExperts, d.nSharedExperts); nRoutedExperts = try get(.nRoutedExperts, d.nRoutedExperts)
        numExpertsPerTok = try get(.numExpertsPerTok, d.numExpertsPerTok)
        routedScalingFactor = try get(.routedScalingFactor, d.routedScalingFactor)
        numAttentionHeads = try get(.numAttentionHeads, d.numAttentionHeads)
        qLoraRank = (try c.decodeIfPresent(Int?.self, forKey: .qLoraRank) ?? nil) ?? 0
        kvLoraRank = try get(.kvLoraRank, d.kvLoraRank); qkNopeHeadDim = try get(.qkNopeHeadDim, d.qkNopeHeadDim)
        qkRopeHeadDim = try get(.qkRopeHeadDim, d.qkRopeHeadDim); vHeadDim = try get(.vHeadDim, d.vHeadDim)
        maxPositionEmbeddings = try get(.maxPositionEmbeddings, d.maxPositionEmbeddings)
        ropeTheta = try get(.ropeTheta, d.ropeTheta); rmsNormEps = try get(.rmsNormEps, d.rmsNormEps)
        numNextnPredictLayers = try get(.numNextnPredictLayers, d.numNextnPredictLayers)
        mtpLossWeight = try get(.mtpLossWeight, d.mtpLossWeight); auxLossAlpha = try get(.auxLossAlpha, d.auxLossAlpha)
        biasUpdateSpeed = try get(.biasUpdateSpeed, d.biasUpdateSpeed)
        initializerRange = try get(.initializerRange, d.initializerRange)
    }

    static let defaults = ModelConfig()

    /// The `tiny` preset: a few thousand parameters, for tests.
    public static var tiny: ModelConfig { ModelConfig() }

    /// The `small` preset of issue 5.
    public static var small: ModelConfig {
        var c = ModelConfig()
        c.vocabSize = 32768; c.hiddenSize = 256; c.numHiddenLayers = 4; c.firstKDenseReplace = 1
        c.intermediateSize = 1024; c.moeIntermediateSize = 256; c.nSharedExperts = 1; c.nRoutedExperts = 16
        c.numExpertsPerTok = 4; c.numAttentionHeads = 4; c.qLoraRank = 0; c.kvLoraRank = 128
        c.qkNopeHeadDim = 64; c.qkRopeHeadDim = 32; c.vHeadDim = 64; c.maxPositionEmbeddings = 512
        // subtle: DeepSeek-V3's γ = 0.001 is tuned for 14.8T tokens at a small learning rate. In runs of a
        // few hundred steps at lr 2e-3, routers move faster than that bias can follow: measured on bytes
        // of the bundled corpus, max/min expert load was still ~2000 after 50 steps at γ = 0.001 and fell
        // to ~90 after 30 steps at 0.01. While the residual stream collapses (see the small training
        // preset's embedding_lr_scale) every token ranks the experts alike and no γ helps. With that
        // scale, over steps 21-25: max/min 161 in the first MoE layer at γ 0.001, 11 at 0.01.
        c.biasUpdateSpeed = 0.01
        // subtle: DeepSeek-V3's α = 0.0001 counts on batches of thousands of sequences; a step here holds 4,
        // and experts specialize by content. With the router's slower learning rate (the small training
        // preset's router_lr_scale), α 0.03 kept every MoE layer under max/min 2 for every ten-step window
        // after warm-up (steps 31-100) on the demo's data, with validation loss at step 50 no worse (6.115
        // against 6.116 at α 0.0001, whose MTP layer reached 2.5 and 2.2; α 0.01: 2.1 at step 60).
        c.auxLossAlpha = 0.03
        return c
    }

    /// Throws `ConfigError` naming the first inconsistent field.
    public func validate() throws {
        func need(_ ok: Bool, _ field: String, _ why: String) throws {
            if !ok { throw ConfigError(field: field, message: why) }
        }
        try need(vocabSize >= 2, "vocab_size", "must be at least 2")
        try need(hiddenSize >= 1, "hidden_size", "must be positive")
        try need(numHiddenLayers >= 1, "num_hidden_layers", "must be positive")
        try need((0...numHiddenLayers).contains(firstKDenseReplace), "first_k_dense_replace", "must be in 0...num_hidden_layers")
        try need(intermediateSize >= 1, "intermediate_size", "must be positive")
        try need(moeIntermediateSize >= 1, "moe_intermediate_size", "must be positive")
        try need(nSharedExperts >= 1, "n_shared_experts", "must be at least 1")
        try need(nRoutedExperts >= 1, "n_routed_experts", "must be positive")
        try need((1...nRoutedExperts).contains(numExpertsPerTok), "num_experts_per_tok", "must be in 1...n_routed_experts")
        try need(numAttentionHeads >= 1, "num_attention_heads", "must be positive")
        try need(qLoraRank >= 0, "q_lora_rank", "must be 0 (none) or positive")
        try need(kvLoraRank >= 1, "kv_lora_rank", "must be positive")
        try need(qkNopeHeadDim >= 0, "qk_nope_head_dim", "must not be negative")
        try need(qkRopeHeadDim >= 2 && qkRopeHeadDim % 2 == 0, "qk_rope_head_dim", "must be even and at least 2")
        try need(vHeadDim >= 1, "v_head_dim", "must be positive")
        try need(maxPositionEmbeddings >= 1, "max_position_embeddings", "must be positive")
        try need(rmsNormEps > 0, "rms_norm_eps", "must be positive")
        try need(numNextnPredictLayers >= 0, "num_nextn_predict_layers", "must not be negative")
        try need(mtpLossWeight >= 0, "mtp_loss_weight", "must not be negative")
        try need(auxLossAlpha >= 0, "aux_loss_alpha", "must not be negative")
        try need(biasUpdateSpeed >= 0, "bias_update_speed", "must not be negative")
        try need(vocabSize <= Int(Int32.max), "vocab_size", "must fit in int32")
    }

    var qkHeadDim: Int { qkNopeHeadDim + qkRopeHeadDim }
    func isMoE(layer: Int) -> Bool { layer >= firstKDenseReplace }
}

/// Optimization and schedule settings.
public struct TrainingConfig: Codable, Equatable, Sendable {
    /// Tokens per row (the model's context); at most max_position_embeddings.
    public var sequenceLength = 32
    /// Rows per micro-batch.
    public var microBatchSize = 4
    /// Micro-batches per optimizer step.
    public var gradientAccumulation = 1
    public var learningRate = 3e-3
    public var minLearningRate = 3e-4
    /// Multiplies the embedding's learning rate (its Adam step; weight decay stays lr·weight_decay).
    public var embeddingLRScale = 1.0
    /// Multiplies the output head's (lm_head, shared by the MTP modules) learning rate, likewise.
    public var headLRScale = 1.0
    /// Multiplies the routers' (every MoE layer's `mlp.gate.weight`) learning rate, likewise.
    public var routerLRScale = 1.0

    public var warmupSteps = 20
    /// Steps of the cosine schedule (the run may stop earlier by --steps/--tokens/--minutes).
    public var steps = 200
    public var weightDecay = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var epsilon = 1e-8
    public var gradientClip = 1.0
    public var seed: UInt64 = 1234
    public var logEvery = 10
    public var checkpointEvery = 100
    public var evalEvery = 50
    public var evalBatches = 4
    /// Fraction of the token file held out (at its end) for validation.
    public var validationFraction = 0.02
    /// "fp32" (default) or "fp8": the linear GEMMs of attention, dense FFN and experts on E4M3 operands
    /// (FP8Linear.swift), AdamW moments in bfloat16.
    public var precision = "fp32"
    /// fp8 only: "fine-grained" (1×128 activation tiles, 128×128 weight blocks) or "per-tensor".
    public var fp8Scaling = "fine-grained"
    /// fp8 only: "fp32" (partial sums promoted to FP32 every 128 of K) or "limited" (~14-bit accumulator,
    /// never promoted: the report's tensor-core experiment).
    public var fp8Accumulation = "fp32"

    public init() {}

    /// The FP8 settings of `precision`, nil for fp32.
    public var fp8Settings: FP8Settings? {
        guard precision == "fp8" else { return nil }
        return FP8Settings(scaling: FP8Scaling(rawValue: fp8Scaling) ?? .fineGrained,
                           accumulation: FP8Accumulation(rawValue: fp8Accumulation) ?? .fp32)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sequenceLength = "sequence_length", microBatchSize = "micro_batch_size"
        case gradientAccumulation = "gradient_accumulation", learningRate = "learning_rate"
        case minLearningRate = "min_learning_rate", embeddingLRScale = "embedding_lr_scale", headLRScale = "head_lr_scale"
        case routerLRScale = "router_lr_scale"
        case warmupSteps = "warmup_steps", steps
        case weightDecay = "weight_decay", beta1, beta2, epsilon, gradientClip = "gradient_clip", seed
        case logEvery = "log_every", checkpointEvery = "checkpoint_every", evalEvery = "eval_every"
        case evalBatches = "eval_batches", validationFraction = "validation_fraction"
        case precision, fp8Scaling = "fp8_scaling", fp8Accumulation = "fp8_accumulation"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingConfig()
        func get<T: Decodable>(_ k: CodingKeys, _ v: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? v }
        sequenceLength = try get(.sequenceLength, d.sequenceLength); microBatchSize = try get(.microBatchSize, d.microBatchSize)
        gradientAccumulation = try get(.gradientAccumulation, d.gradientAccumulation)
        learningRate = try get(.learningRate, d.learningRate)
        minLearningRate = try get(.minLearningRate, d.minLearningRate)
        embeddingLRScale = try get(.embeddingLRScale, d.embeddingLRScale)
        headLRScale = try get(.headLRScale, d.headLRScale)
        routerLRScale = try get(.routerLRScale, d.routerLRScale)
        warmupSteps = try get(.warmupSteps, d.warmupSteps); steps = try get(.steps, d.steps)
        weightDecay = try get(.weightDecay, d.weightDecay); beta1 = try get(.beta1, d.beta1); beta2 = try get(.beta2, d.beta2)
        epsilon = try get(.epsilon, d.epsilon); gradientClip = try get(.gradientClip, d.gradientClip); seed = try get(.seed, d.seed)
        logEvery = try get(.logEvery, d.logEvery); checkpointEvery = try get(.checkpointEvery, d.checkpointEvery)
        evalEvery = try get(.evalEvery, d.evalEvery); evalBatches = try get(.evalBatches, d.evalBatches)
        validationFraction = try get(.validationFraction, d.validationFraction)
        precision = try get(.precision, d.precision); fp8Scaling = try get(.fp8Scaling, d.fp8Scaling)
        fp8Accumulation = try get(.fp8Accumulation, d.fp8Accumulation)
    }

    /// Writes every field; the precision fields only for an fp8 run. subtle: an fp32 run's config (and so
    /// its `tokenmill.json`, checkpoint and the demo's stage keys) stays byte-identical to the files of
    /// runs from before `precision` existed, and reading treats the missing fields as fp32.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequenceLength, forKey: .sequenceLength); try c.encode(microBatchSize, forKey: .microBatchSize)
        try c.encode(gradientAccumulation, forKey: .gradientAccumulation); try c.encode(learningRate, forKey: .learningRate)
        try c.encode(minLearningRate, forKey: .minLearningRate); try c.encode(embeddingLRScale, forKey: .embeddingLRScale)
        try c.encode(headLRScale, forKey: .headLRScale); try c.encode(routerLRScale, forKey: .routerLRScale)
        try c.encode(warmupSteps, forKey: .warmupSteps); try c.encode(steps, forKey: .steps)
        try c.encode(weightDecay, forKey: .weightDecay); try c.encode(beta1, forKey: .beta1); try c.encode(beta2, forKey: .beta2)
        try c.encode(epsilon, forKey: .epsilon); try c.encode(gradientClip, forKey: .gradientClip); try c.encode(seed, forKey: .seed)
        try c.encode(logEvery, forKey: .logEvery); try c.encode(checkpointEvery, forKey: .checkpointEvery)
        try c.encode(evalEvery, forKey: .evalEvery); try c.encode(evalBatches, forKey: .evalBatches)
        try c.encode(validationFraction, forKey: .validationFraction)
        if precision != "fp32" {
            try c.encode(precision, forKey: .precision); try c.encode(fp8Scaling, forKey: .fp8Scaling)
            try c.encode(fp8Accumulation, forKey: .fp8Accumulation)
        }
    }
}

/// The whole file: {"model": ..., "training": ...}.
public struct RunConfig: Codable, Equatable, Sendable {
    public var model: ModelConfig
    public var training: TrainingConfig

    public init(model: ModelConfig, training: TrainingConfig) {
        self.model = model
        self.training = training
    }

    /// A preset by name: `tiny` or `small`.
    public static func preset(_ name: String) -> RunConfig? {
        switch name {
        case "tiny":
            var t = TrainingConfig()
            t.steps = 2000; t.warmupSteps = 50; t.evalEvery = 250; t.evalBatches = 16; t.checkpointEvery = 500; t.logEvery = 50
            return RunConfig(model: .tiny, training: t)
        case "small":
            var t = TrainingConfig()
            // Sized for runs of about ten minutes on two cores (a few hundred steps of 2048 tokens); with
            // --minutes or --tokens the cosine ends with the run, so the schedule fits the budget.
            t.sequenceLength = 512; t.microBatchSize = 4; t.gradientAccumulation = 1
            t.learningRate = 2e-3; t.minLearningRate = 2e-4; t.warmupSteps = 30; t.steps = 2000
            // subtle: at one learning rate for all tensors, the residual stream of every token collapses
            // onto one shared direction while the unigram is learned (Adam moves the wide shared matrices
            // far faster than the embedding rows): loss stalls near 8 nats for ~80 steps and every token
            // ranks the experts alike. An embedding step 200× larger (lr 0.4, as μP and modded-nanogpt give
            // the input layer a much larger rate) keeps tokens apart: on the demo's data, validation loss
            // after 454,656 tokens 4.59 instead of 5.94 (×10: 6.23, ×50: 5.67, ×200: 5.27, all at step 100;
            // ×1000 worse than ×200 at step 50). The head learning 3× faster shortens what is left of
            // the collapse in the deeper MoE layers (it needs a smaller shared component to give the
            // unigram): validation 5.10 against 5.27 at step 100; at ×10 the loss climbed back at the peak rate.
            t.embeddingLRScale = 200
            t.headLRScale = 3
            // subtle: Adam moves every router weight by about lr a step; while tokens share a large common
            // component, that shifts an expert's affinity for all tokens at once by far more than γ and the
            // bias cannot follow (max/min per ten-step window 55-1,387 in the MTP layer over steps 31-50).
            // At a tenth of the rate the bias keeps up: every window after step 30 at most 2.5, validation
            // loss no worse (step 100: 5.037 against 5.032 at α 0.01, 5.065 against 5.090 at α 0.0001).
            t.routerLRScale = 0.1
            t.logEvery = 10; t.checkpointEvery = 200; t.evalEvery = 50; t.evalBatches = 4
            return RunConfig(model: .small, training: t)
        default: return nil
        }
    }

    /// Loads a preset name or a JSON or TOML file (`decode`); unknown fields and inconsistent sizes throw
    /// `ConfigError`, TOML syntax `ConfigFileError` (with the line).
    public static func load(_ nameOrPath: String) throws -> RunConfig {
        if let p = preset(nameOrPath) { return p }
        guard let data = FileManager.default.contents(atPath: nameOrPath) else {
            throw ConfigError(field: nameOrPath, message: "no such preset or readable file (presets: tiny, small)")
        }
        return try decode(data, source: nameOrPath)
    }

    /// A config file's top-level object: TOML when `source` ends in .toml (the same tables and keys as
    /// the JSON: `[model]`, `[training]`), else JSON.
    public static func readObject(_ data: Data, source: String) throws -> [String: Any] {
        if source.lowercased().hasSuffix(".toml") { return try parseTOML(Array(data), path: source) }
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError(field: source, message: "not a JSON object")
        }
        return top
    }

    /// Decodes and validates JSON or TOML (`readObject`), naming the first unknown or inconsistent field.
    public static func decode(_ data: Data, source: String = "config") throws -> RunConfig {
        let top = try readObject(data, source: source)
        let sections: [String: Set<String>] = [
            "model": Set(ModelConfig.CodingKeys.allCases.map(\.rawValue)),
            "training": Set(TrainingConfig.CodingKeys.allCases.map(\.rawValue)),
        ]
        for (key, value) in top {
            guard let known = sections[key] else { throw ConfigError(field: key, message: "unknown section (expected model, training)") }
            guard let dict = value as? [String: Any] else { throw ConfigError(field: key, message: "must be an object") }
            for k in dict.keys where !known.contains(k) { throw ConfigError(field: "\(key).\(k)", message: "unknown field") }
        }
        let config: RunConfig
        do {
            let m = try top["model"].map { try JSONDecoder().decode(ModelConfig.self, from: JSONSerialization.data(withJSONObject: $0)) } ?? ModelConfig()
            let t = try top["training"].map { try JSONDecoder().decode(TrainingConfig.self, from: JSONSerialization.data(withJSONObject: $0)) } ?? TrainingConfig()
            config = RunConfig(model: m, training: t)
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ConfigError(field: ctx.codingPath.map(\.stringValue).joined(separator: "."), message: "wrong type")
        }
        try config.validate()
        return config
    }

    public func validate() throws {
        try model.validate()
        let t = training
        func need(_ ok: Bool, _ field: String, _ why: String) throws {
            if !ok { throw ConfigError(field: "training." + field, message: why) }
        }
        try need(t.sequenceLength >= 1 && t.sequenceLength <= model.maxPositionEmbeddings, "sequence_length",
                 "must be in 1...model.max_position_embeddings (\(model.maxPositionEmbeddings))")
        try need(t.microBatchSize >= 1, "micro_batch_size", "must be positive")
        try need(t.gradientAccumulation >= 1, "gradient_accumulation", "must be positive")
        try need(t.learningRate > 0, "learning_rate", "must be positive")
        try need(t.minLearningRate >= 0 && t.minLearningRate <= t.learningRate, "min_learning_rate", "must be in 0...learning_rate")
        try need(t.embeddingLRScale > 0 && t.embeddingLRScale.isFinite, "embedding_lr_scale", "must be positive")
        try need(t.headLRScale > 0 && t.headLRScale.isFinite, "head_lr_scale", "must be positive")
        try need(t.routerLRScale > 0 && t.routerLRScale.isFinite, "router_lr_scale", "must be positive")
        try need(t.warmupSteps >= 0, "warmup_steps", "must not be negative")
        try need(t.steps >= 1, "steps", "must be positive")
        try need((0..<1).contains(t.beta1), "beta1", "must be in [0, 1)")
        try need((0..<1).contains(t.beta2), "beta2", "must be in [0, 1)")
        try need(t.gradientClip > 0, "gradient_clip", "must be positive")
        try need(t.logEvery >= 1, "log_every", "must be positive")
        try need(t.checkpointEvery >= 1, "checkpoint_every", "must be positive")
        try need(t.evalEvery >= 1, "eval_every", "must be positive")
        try need(t.validationFraction >= 0 && t.validationFraction < 1, "validation_fraction", "must be in [0, 1)")
        try need(["fp32", "fp8"].contains(t.precision), "precision", "must be fp32 or fp8")
        try need(FP8Scaling(rawValue: t.fp8Scaling) != nil, "fp8_scaling", "must be fine-grained or per-tensor")
        try need(FP8Accumulation(rawValue: t.fp8Accumulation) != nil, "fp8_accumulation", "must be fp32 or limited")
    }

    /// Pretty, key-sorted JSON.
    public func encoded() -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try! e.encode(self)
    }
}

/// A bad configuration: the field (dotted path) and what is wrong.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var field: String
    public var message: String
    public var description: String { "config field '\(field)': \(message)" }
}
