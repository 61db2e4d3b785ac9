// Import from transformers: a DeepseekV3ForCausalLM folder (config.json plus model.safetensors, or
// shards listed in model.safetensors.index.json) becomes a TokenMill run directory:
//   RUN/checkpoint/   as `Checkpoint.save` writes it: the weights (float32), a fresh optimizer (zero
//                     moments, optimizer step 0), step 0, tokenmill.json with the imported model config
//                     and TrainingConfig's defaults (sequence_length as given), and data.json when the
//                     caller gives one
//   RUN/<files>       the caller's extra files (the CLI copies tokenizer.json)
// Weights stored as F32, BF16 or F16 are converted exactly to float32; linear weights in DeepSeek-V3's
// FP8 layout (F8_E4M3 codes with a `weight_scale_inv` per 128×128 block, as `export-hf --fp8` writes
// them; FP8Export.swift) are dequantized, and config.json's quantization_config must describe that layout. The MTP modules are read from
// layers num_hidden_layers + k (the names `export` writes and DeepSeek-V3's released weights use); their
// copies of the embedding and head must equal the main model's (TokenMill shares them). A folder
// without MTP weights (transformers does not save any) gives a run without MTP modules.
// Policy: config.json is read strictly — a field that would change the model in a way TokenMill does
// not implement (rope scaling, grouped routing, softmax scoring, attention biases, tied embeddings, …)
// or that TokenMill does not know is an error naming the file and the field; fields that do not change
// the computation (token ids, dtype, transformers_version, …) are ignored. Every tensor in the weights
// must be one TokenMill reads.
import Foundation

public enum HuggingFaceImport {
    /// What `importModel` read: the run's config, and notes for the user (e.g. no MTP weights).
    public struct Result: Sendable {
        public var config: RunConfig
        public var notes: [String]
    }

    /// TokenMill's model config from a transformers config.json (see the header for the policy);
    /// num_nextn_predict_layers is the count the file declares.
    public static func modelConfig(path: String) throws -> ModelConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HuggingFaceError(path: path, message: "missing (a transformers model folder has config.json)")
        }
        guard case .object(let object)? = try? JSONDecoder().decode(JSONField.self, from: data) else {
            throw HuggingFaceError(path: path, message: "not a JSON object")
        }
        var r = ConfigReader(path: path, object: object)
        try r.expect("model_type", .string("deepseek_v3"), required: true, why: "only DeepseekV3ForCausalLM models are read")
        var c = ModelConfig()
        c.vocabSize = try r.int("vocab_size")
        c.hiddenSize = try r.int("hidden_size")
        c.numHiddenLayers = try r.int("num_hidden_layers")
        c.firstKDenseReplace = try r.int("first_k_dense_replace")
        c.intermediateSize = try r.int("intermediate_size")
        c.moeIntermediateSize = try r.int("moe_intermediate_size")
        c.nSharedExperts = try r.int("n_shared_experts")
        c.nRoutedExperts = try r.int("n_routed_experts")
        c.numExpertsPerTok = try r.int("num_experts_per_tok")
        c.routedScalingFactor = try r.double("routed_scaling_factor")
        c.numAttentionHeads = try r.int("num_attention_heads")
        c.qLoraRank = try r.int("q_lora_rank", nullable: true) ?? 0
        c.kvLoraRank = try r.int("kv_lora_rank")
        c.qkNopeHeadDim = try r.int("qk_nope_head_dim")
        c.qkRopeHeadDim = try r.int("qk_rope_head_dim")
        c.vHeadDim = try r.int("v_head_dim")
        c.maxPositionEmbeddings = try r.int("max_position_embeddings")
        c.rmsNormEps = try r.double("rms_norm_eps")
        c.initializerRange = try r.double("initializer_range", default: c.initializerRange)
        c.numNextnPredictLayers = try r.int("num_nextn_predict_layers", default: 0)
        if r.has("num_mtp_layers") {
            let n = try r.int("num_mtp_layers")
            if r.has("num_nextn_predict_layers") && n != c.numNextnPredictLayers {
                throw r.fail("num_mtp_layers", "is \(n) but num_nextn_predict_layers is \(c.numNextnPredictLayers)")
            }
            c.numNextnPredictLayers = n
        }
        // Heads: MLA expands keys and values per head; transformers needs num_key_value_heads = heads.
        if let kv = try r.int("num_key_value_heads", nullable: true), kv != c.numAttentionHeads {
            throw r.fail("num_key_value_heads", "is \(kv); TokenMill's attention needs it equal to num_attention_heads (\(c.numAttentionHeads))")
        }
        if let h = try r.int("head_dim", nullable: true), h != c.qkRopeHeadDim {
            throw r.fail("head_dim", "is \(h); DeepseekV3Config sets it to qk_rope_head_dim (\(c.qkRopeHeadDim))")
        }
        if let h = try r.int("qk_head_dim", nullable: true), h != c.qkNopeHeadDim + c.qkRopeHeadDim {
            throw r.fail("qk_head_dim", "is \(h), not qk_nope_head_dim + qk_rope_head_dim (\(c.qkNopeHeadDim + c.qkRopeHeadDim))")
        }
        // Routing: sigmoid scores, top-k over all experts (groups that keep every group are the same),
        // normalized top-k weights.
        let groups = try r.int("n_group", nullable: true) ?? 1, kept = try r.int("topk_group", nullable: true) ?? 1
        if kept != groups {
            throw r.fail("topk_group", "is \(kept) with n_group \(groups); TokenMill routes over all experts (group-limited routing is not implemented: topk_group must equal n_group)")
        }
        if groups < 1 || c.nRoutedExperts % groups != 0 {
            throw r.fail("n_group", "is \(groups); it must be positive and divide n_routed_experts (\(c.nRoutedExperts))")
        }
        try r.expect("norm_topk_prob", .bool(true), why: "TokenMill normalizes the top-k weights")
        try r.expect("scoring_func", .string("sigmoid"), why: "TokenMill's router scores with a sigmoid")
        try r.expect("topk_method", .string("noaux_tc"), why: "TokenMill selects experts with the balancing bias (DeepSeek-V3's noaux_tc)")
        try r.expect("moe_layer_freq", .int(1), why: "every layer from first_k_dense_replace on is MoE in TokenMill")
        try r.expect("hidden_act", .string("silu"), why: "TokenMill's MLPs use SwiGLU")
        try r.expect("attention_bias", .bool(false), why: "TokenMill's projections have no biases")
        try r.expect("mlp_bias", .bool(false), why: "TokenMill's projections have no biases")
        try r.expect("tie_word_embeddings", .bool(false), why: "TokenMill keeps lm_head apart from the embedding")
        try r.expect("rope_interleave", .bool(true), why: "TokenMill's rotary embedding is the interleaved one")
        try r.expect("attention_dropout", .int(0), why: "TokenMill trains without dropout")
        // RoPE: rope_parameters (transformers 5) or rope_theta + rope_scaling (older files), default type only.
        var theta: Double? = nil
        if let p = r.take("rope_parameters"), p != .null {
            guard case .object(let rope) = p else { throw r.fail("rope_parameters", "must be an object") }
            let why = "TokenMill implements only the default rotary embedding (rope_type \"default\" with rope_theta)"
            for k in ["rope_type", "type"] where rope[k] != nil && rope[k] != .string("default") {
                throw r.fail("rope_parameters.\(k)", "is \(rope[k]!); \(why)")
            }
            for (k, v) in rope.sorted(by: { $0.key < $1.key }) {
                switch (k, v) {
                case ("rope_type", .string("default")), ("type", .string("default")): break
                case ("rope_theta", .int(let x)): theta = Double(x)
                case ("rope_theta", .double(let x)): theta = x
                default: throw r.fail("rope_parameters.\(k)", "is \(v); \(why)")
                }
            }
        }
        if let p = r.take("rope_scaling"), p != .null {
            guard case .object(let rope) = p, rope.allSatisfy({ ["rope_type", "type"].contains($0.key) && $0.value == .string("default") }) else {
                throw r.fail("rope_scaling", "is \(p); TokenMill implements only the default rotary embedding (no scaling)")
            }
        }
        if r.has("rope_theta") {
            let t = try r.double("rope_theta")
            if let theta, theta != t { throw r.fail("rope_theta", "is \(t) but rope_parameters.rope_theta is \(theta)") }
            theta = t
        }
        c.ropeTheta = theta ?? 10000   // DeepseekV3Config's default
        if let q = r.take("quantization_config"), q != .null {
            // Only DeepSeek-V3's block-wise FP8 layout (FP8Export.swift).
            let expected: [String: JSONField] = ["quant_method": .string("fp8"), "fmt": .string("e4m3"),
                                                 "weight_block_size": .array([.int(128), .int(128)]), "activation_scheme": .string("dynamic")]
            guard case .object(let o) = q, o == expected else {
                throw r.fail("quantization_config", "is \(q); TokenMill reads only DeepSeek-V3's FP8 layout \(JSONField.object(expected))")
            }
        }
        // Fields that do not change the computation.
        for k in ["architectures", "transformers_version", "dtype", "torch_dtype", "bos_token_id", "eos_token_id", "pad_token_id",
                  "use_cache", "output_router_logits", "output_attentions", "output_hidden_states", "return_dict", "pretraining_tp",
                  "ep_size", "aux_loss_alpha", "seq_aux", "_name_or_path", "name_or_path", "tokenizer_class", "id2label", "label2id",
                  "auto_map", "chunk_size_feed_forward", "is_encoder_decoder", "problem_type"] { _ = r.take(k) }
        if let unknown = r.remaining.first {
            throw r.fail(unknown, "is not a DeepseekV3Config field TokenMill knows (remove it if it does not change the model)")
        }
        do { try c.validate() } catch let e as ConfigError {
            throw HuggingFaceError(path: path, message: "field '\(e.field)' \(e.message) for TokenMill")
        }
        return c
    }

    /// Reads the folder `dir` and writes the run directory `run` (see the header). `sequenceLength`
    /// (default: max_position_embeddings, at most 2048) becomes training.sequence_length; `files` are
    /// written into RUN; `dataRecord` becomes RUN/checkpoint/data.json.
    public static func importModel(from dir: String, to run: String, sequenceLength: Int? = nil, files: [String: Data] = [:],
                                   dataRecord: Data? = nil) throws -> Result {
        var model = try modelConfig(path: dir + "/config.json")
        let weights = try WeightFiles(directory: dir)
        var notes: [String] = []
        // MTP modules: all or none.
        let L = model.numHiddenLayers
        let mtpPresent = (0..<model.numNextnPredictLayers).filter { k in weights.names.contains { $0.hasPrefix("model.layers.\(L + k).") } }
        if mtpPresent.isEmpty && model.numNextnPredictLayers > 0 {
            notes.append("config.json declares \(model.numNextnPredictLayers) MTP module(s) but the weights hold none (model.layers.\(L).*); the run has no MTP module")
            model.numNextnPredictLayers = 0
        }
        var training = TrainingConfig()
        training.sequenceLength = sequenceLength ?? min(model.maxPositionEmbeddings, 2048)
        let config = RunConfig(model: model, training: training)
        do { try config.validate() } catch let e as ConfigError {
            throw HuggingFaceError(path: dir + "/config.json", message: "\(e)", usage: e.field == "training.sequence_length")
        }
        let specs = parameterSizes(model)
        let expected = HuggingFaceExport.tensors(model)
        let known = Set(expected.map(\.name) + expected.filter { FP8Checkpoint.isQuantized($0.name) }.map { FP8Checkpoint.scaleName($0.name) })
        if let extra = weights.names.sorted().first(where: { !known.contains($0) && !$0.hasSuffix("rotary_emb.inv_freq") }) {
            throw HuggingFaceError(path: weights.file(of: extra), message: "tensor \(extra) is not part of the model config.json describes (TokenMill reads \(known.count) tensors)")
        }
        let P = specs.totalCount
        let params = UnsafeMutablePointer<Float>.allocate(capacity: P)
        defer { params.deallocate() }
        for s in specs { try weights.copyFloat32(s.name, shape: s.shape, into: params + s.offset) }
        // The MTP modules' copies of the shared embedding and head must equal the main model's.
        let offsets = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0) })
        for t in expected where t.name != t.source && weights.names.contains(t.name) {
            let s = offsets[t.source]!
            let copy = UnsafeMutablePointer<Float>.allocate(capacity: s.count)
            defer { copy.deallocate() }
            try weights.copyFloat32(t.name, shape: t.shape, into: copy)
            if memcmp(copy, params + s.offset, s.count * 4) != 0 {
                throw HuggingFaceError(path: weights.file(of: t.name), message: "tensor \(t.name) differs from \(t.source); TokenMill's MTP modules share the embedding and head with the main model")
            }
        }
        let zeros = UnsafeMutablePointer<Float>.allocate(capacity: P)
        defer { zeros.deallocate() }
        zeros.initialize(repeating: 0, count: P)
        var state = TrainerState()
        state.seed = training.seed
        let output = try OutputDirectory(path: run, replaceable: [])
        do {
            let checkpoint = output.temporary + "/checkpoint"
            try FileManager.default.createDirectory(atPath: checkpoint, withIntermediateDirectories: false)
            try Checkpoint.writeFiles(into: checkpoint, config: config, specs: specs, params: params, exp_avg: zeros, exp_avg_sq: zeros,
                                      optimizerStep: 0, state: state, dataRecord: dataRecord)
            for (name, data) in files.sorted(by: { $0.key < $1.key }) { try Checkpoint.writeFile(output.temporary + "/" + name, data) }
            try output.commit()
        } catch {
            output.abandon()
            throw error
        }
        return Result(config: config, notes: notes)
    }
}

/// The weights of a model folder: model.safetensors, else the shards model.safetensors.index.json lists.
struct WeightFiles {
    private var files: [SafetensorsFile] = []
    private var location: [String: Int] = [:]
    var names: Set<String> { Set(location.keys) }

    init(directory dir: String) throws {
        let fm = FileManager.default
        let single = dir + "/model.safetensors", indexPath = dir + "/model.safetensors.index.json"
        if fm.fileExists(atPath: single) {
            let f = try SafetensorsFile(path: single)
            files = [f]
            for name in f.tensors.keys { location[name] = 0 }
            return
        }
        guard let data = fm.contents(atPath: indexPath) else {
            throw HuggingFaceError(path: dir, message: "no model.safetensors or model.safetensors.index.json")
        }
        guard case .object(let index)? = try? JSONDecoder().decode(JSONField.self, from: data),
              case .object(let map)? = index["weight_map"] else {
            throw HuggingFaceError(path: indexPath, message: "not a JSON object with a weight_map")
        }
        var shardIndex: [String: Int] = [:]
        for (name, value) in map.sorted(by: { $0.key < $1.key }) {
            guard case .string(let shard) = value, !shard.contains("/"), shard.hasSuffix(".safetensors") else {
                throw HuggingFaceError(path: indexPath, message: "weight_map entry \(name) does not name a .safetensors file in the folder")
            }
            if shardIndex[shard] == nil {
                shardIndex[shard] = files.count
                files.append(try SafetensorsFile(path: dir + "/" + shard))
            }
            let i = shardIndex[shard]!
            guard files[i].tensors[name] != nil else {
                throw HuggingFaceError(path: files[i].path, message: "missing tensor \(name) (model.safetensors.index.json places it here)")
            }
            location[name] = i
        }
        for (i, f) in files.enumerated() {
            if let stray = f.tensors.keys.sorted().first(where: { location[$0] != i }) {
                throw HuggingFaceError(path: f.path, message: "tensor \(stray) is not listed for this file in model.safetensors.index.json")
            }
        }
    }

    /// The file holding tensor `name` (for messages).
    func file(of name: String) -> String { location[name].map { files[$0].path } ?? files.first?.path ?? "" }

    func copyFloat32(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        guard let i = location[name] else {
            throw HuggingFaceError(path: files.count == 1 ? files[0].path : (files.first.map { ($0.path as NSString).deletingLastPathComponent } ?? "") + "/model.safetensors.index.json",
                                   message: "missing tensor \(name)")
        }
        let f = files[i]
        guard let t = f.tensors[name], t.dtype == "F8_E4M3" else { return try f.copyFloat32(name, shape: shape, into: destination) }
        // DeepSeek-V3's FP8 layout: codes · the block's scale_inv.
        guard shape.count == 2, t.shape == shape else {
            throw HuggingFaceError(path: f.path, message: "tensor \(name) is F8_E4M3\(t.shape), expected a matrix of shape \(shape)")
        }
        let scaleName = FP8Checkpoint.scaleName(name), scaleShape = FP8Checkpoint.scaleShape(rows: shape[0], cols: shape[1])
        guard let j = location[scaleName], let s = files[j].tensors[scaleName], s.dtype == "F32", s.shape == scaleShape else {
            throw HuggingFaceError(path: f.path, message: "tensor \(name) is F8_E4M3 but \(scaleName) is missing or not F32\(scaleShape) (one scale per 128×128 block)")
        }
        let sf = files[j]
        f.data.withUnsafeBytes { codes in
            sf.data.withUnsafeBytes { scales in
                FP8Checkpoint.dequantize(codes: codes.baseAddress! + f.bufferStart + t.range.lowerBound,
                                         scaleInv: scales.baseAddress! + sf.bufferStart + s.range.lowerBound,
                                         rows: shape[0], cols: shape[1], into: destination)
            }
        }
        if let bad = (0..<(shape[0] * shape[1])).first(where: { !destination[$0].isFinite }) {
            throw HuggingFaceError(path: f.path, message: "tensor \(name) holds \(destination[bad]) at element \(bad) after dequantization")
        }
    }
}

/// Any JSON value, decoded with its type kept (true is not 1).
enum JSONField: Decodable, Equatable, CustomStringConvertible {
    case null, bool(Bool), int(Int), double(Double), string(String), array([JSONField]), object([String: JSONField])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONField].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONField].self)) }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Reads config.json fields one by one, remembering which were read.
private struct ConfigReader {
    let path: String
    var object: [String: JSONField]
    var remaining: [String] { object.keys.sorted() }

    func fail(_ field: String, _ message: String) -> HuggingFaceError {
        HuggingFaceError(path: path, message: "field '\(field)' \(message)")
    }
    func has(_ key: String) -> Bool { object[key] != nil }
    mutating func take(_ key: String) -> JSONField? { object.removeValue(forKey: key) }

    /// A required integer (or, with `nullable`, null → nil).
    mutating func int(_ key: String, nullable: Bool = false) throws -> Int? {
        guard let v = take(key) else {
            if nullable { return nil }
            throw fail(key, "is missing")
        }
        switch v {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
        case .null where nullable: return nil
        default: throw fail(key, "must be an integer (is \(v))")
        }
    }
    mutating func int(_ key: String) throws -> Int { try int(key, nullable: false)! }
    mutating func int(_ key: String, default d: Int) throws -> Int { has(key) ? try int(key) : d }

    mutating func double(_ key: String) throws -> Double {
        guard let v = take(key) else { throw fail(key, "is missing") }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw fail(key, "must be a number (is \(v))")
        }
    }
    mutating func double(_ key: String, default d: Double) throws -> Double { has(key) ? try double(key) : d }

    /// A field that must have TokenMill's value (absent is fine unless `required`; 0 and 0.0 are equal).
    mutating func expect(_ key: String, _ value: JSONField, required: Bool = false, why: String) throws {
        guard let v = take(key) else {
            if required { throw fail(key, "is missing") }
            return
        }
        let same: Bool
        switch (v, value) {
        case (.double(let a), .int(let b)): same = a == Double(b)
        default: same = v == value
        }
        if !same { throw fail(key, "is \(v); TokenMill supports only \(value) (\(why))") }
    }
}
