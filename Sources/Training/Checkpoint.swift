// Checkpoints: a directory RUN/checkpoint holding
//   model.safetensors      every parameter under transformers' DeepseekV3ForCausalLM names (F32), MTP
//                          modules as model.layers.{L+k}.* like the released DeepSeek-V3 weights
//   optimizer.safetensors  AdamW moments "exp_avg" and "exp_avg_sq" (flat, parameter order)
//   config.json            transformers' DeepseekV3Config
//   tokenmill.json         the run's own config ({"model", "training"})
//   state.json             step, optimizer step, data position, tokens seen, seed, and "files": the
//                          SHA-256 of every other file here (written last; `verify` checks them)
//   data.json              what the run was trained on (data, tokenizer, normalization), when the
//                          caller gives it (`tokenmill train` does; `bpb --run` reads it)
// Atomic: everything is written (and fsynced) into RUN/checkpoint.tmp, then the old checkpoint is
// renamed to checkpoint.old, the new one into place, and the old one removed. A crash at any point
// leaves a complete checkpoint or checkpoint.old, which `load` falls back to.
import CorpusIO
import Foundation

/// The trainer's position, saved beside the weights.
public struct TrainerState: Codable, Equatable, Sendable {
    public var step = 0
    public var optimizerStep = 0
    public var position = DataPosition()
    public var tokensSeen = 0
    public var seed: UInt64 = 0
    public init() {}
}

/// transformers' config.json for `config`; with `specialTokenID` (the end-of-text id) also its
/// bos_token_id and eos_token_id (without, transformers assumes bos 0 and eos 1). Never pad_token_id:
/// transformers makes it the embedding's padding_idx, whose row then gets no gradient. With
/// `quantizationConfig`, also that field (`export-hf --fp8`: `FP8Checkpoint.quantizationConfig`).
public func huggingFaceConfig(_ c: ModelConfig, specialTokenID: Int? = nil, quantizationConfig: [String: Any]? = nil) -> Data {
    var dict: [String: Any] = [
        "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
        "vocab_size": c.vocabSize, "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize,
        "moe_intermediate_size": c.moeIntermediateSize, "num_hidden_layers": c.numHiddenLayers,
        "num_attention_heads": c.numAttentionHeads, "num_key_value_heads": c.numAttentionHeads,
        "n_shared_experts": c.nSharedExperts, "n_routed_experts": c.nRoutedExperts,
        "routed_scaling_factor": c.routedScalingFactor, "kv_lora_rank": c.kvLoraRank,
        "q_lora_rank": c.qLoraRank > 0 ? c.qLoraRank as Any : NSNull(),
        "qk_rope_head_dim": c.qkRopeHeadDim, "qk_nope_head_dim": c.qkNopeHeadDim, "v_head_dim": c.vHeadDim,
        "n_group": 1, "topk_group": 1, "num_experts_per_tok": c.numExpertsPerTok,
        "first_k_dense_replace": c.firstKDenseReplace, "norm_topk_prob": true, "hidden_act": "silu",
        "max_position_embeddings": c.maxPositionEmbeddings, "initializer_range": c.initializerRange,
        "rms_norm_eps": c.rmsNormEps, "rope_theta": c.ropeTheta, "rope_interleave": true,
        "rope_parameters": ["rope_type": "default", "rope_theta": c.ropeTheta],
        "attention_bias": false, "attention_dropout": 0.0, "tie_word_embeddings": false, "use_cache": true,
        "torch_dtype": "float32", "num_nextn_predict_layers": c.numNextnPredictLayers,
    ]
    if let id = specialTokenID { for k in ["bos_token_id", "eos_token_id"] { dict[k] = id } }
    if let quantizationConfig { dict["quantization_config"] = quantizationConfig }
    return try! JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys])
}

public enum Checkpoint {
    /// Writes the checkpoint of `model`, `optimizer` and `state` into `run`/checkpoint atomically.
    public static func save(run: String, config: RunConfig, model: Model<Float>, optimizer: AdamW<Float>,
                            state: TrainerState, dataRecord: Data? = nil, disk: SimulatedDisk? = nil) throws {
        let fm = FileManager.default
        let final = run + "/checkpoint", temp = run + "/checkpoint.tmp", old = run + "/checkpoint.old"
        // Weights that are not finite are not worth keeping: the previous checkpoint stays.
        let P = model.parameterCount
        for i in 0..<P where !model.params[i].isFinite {
            throw TrainingError(message: "parameter \(i) is \(model.params[i]) at step \(state.step); not checkpointing (the previous checkpoint is kept)")
        }
        try? fm.removeItem(atPath: temp)
        do { try fm.createDirectory(atPath: temp, withIntermediateDirectories: true) } catch {
            throw SafetensorsError(path: temp, message: "cannot create: \(error.localizedDescription)")
        }
        do {
            let (m, v, dtype): (UnsafeRawPointer, UnsafeRawPointer, String) = optimizer.bf16Moments
                ? (UnsafeRawPointer(optimizer.m16!), UnsafeRawPointer(optimizer.v16!), "BF16")
                : (UnsafeRawPointer(optimizer.m!), UnsafeRawPointer(optimizer.v!), "F32")
            try writeFiles(into: temp, config: config, specs: model.specs, params: model.params, exp_avg: m, exp_avg_sq: v,
                           momentDType: dtype, optimizerStep: optimizer.step, state: state, dataRecord: dataRecord, disk: disk)
        } catch {
            try? fm.removeItem(atPath: temp)
            if let e = error as? SafetensorsError {
                throw SafetensorsError(path: e.path, message: e.message + "; the previous checkpoint is kept")
            }
            throw error
        }
        try? fm.removeItem(atPath: old)
        if fm.fileExists(atPath: final) { try fm.moveItem(atPath: final, toPath: old) }
        try fm.moveItem(atPath: temp, toPath: final)
        try? fm.removeItem(atPath: old)
    }

    /// Writes the checkpoint's files into the existing directory `dir` (not atomically: callers write
    /// into a temporary directory). `params` and the moments hold `specs.totalCount` values each; the
    /// moments are `momentDType` values (F32, or BF16 when the run keeps them in bfloat16).
    static func writeFiles(into dir: String, config: RunConfig, specs: [ParameterSpec], params: UnsafePointer<Float>,
                           exp_avg: UnsafeRawPointer, exp_avg_sq: UnsafeRawPointer, momentDType: String = "F32", optimizerStep: Int,
                           state: TrainerState, dataRecord: Data?, disk: SimulatedDisk? = nil) throws {
        let P = specs.totalCount
        let entries = specs.map { s in
            SafetensorsEntry(name: s.name, dtype: "F32", shape: s.shape, pointer: UnsafeRawPointer(params + s.offset), byteCount: s.count * 4)
        }
        try writeSafetensors(dir + "/model.safetensors", entries: entries, metadata: ["format": "pt", "step": String(state.step)], disk: disk)
        try writeSafetensors(dir + "/optimizer.safetensors", entries: [
            SafetensorsEntry(name: "exp_avg", dtype: momentDType, shape: [P], pointer: exp_avg, byteCount: P * safetensorsElementSize[momentDType]!),
            SafetensorsEntry(name: "exp_avg_sq", dtype: momentDType, shape: [P], pointer: exp_avg_sq, byteCount: P * safetensorsElementSize[momentDType]!),
        ], metadata: ["step": String(optimizerStep)], disk: disk)
        try writeFile(dir + "/config.json", huggingFaceConfig(config.model), disk: disk)
        try writeFile(dir + "/tokenmill.json", config.encoded(), disk: disk)
        if let dataRecord { try writeFile(dir + "/data.json", dataRecord, disk: disk) }
        // state.json last, with the SHA-256 of every file written above (read back from the page cache).
        var files: [String: String] = [:]
        for name in ["model.safetensors", "optimizer.safetensors", "config.json", "tokenmill.json"] + (dataRecord == nil ? [] : ["data.json"]) {
            do { files[name] = try sha256(ofFile: dir + "/" + name) } catch {
                throw SafetensorsError(path: dir + "/" + name, message: "cannot read back: \(error)")
            }
        }
        var object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(state)) as! [String: Any]
        object[hashesKey] = files
        try writeFile(dir + "/state.json", try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), disk: disk)
    }

    /// The state.json field holding the SHA-256 of the checkpoint's other files (name → hex digest).
    public static let hashesKey = "files"

    /// Checks every file state.json records against its SHA-256: true when all match, false when
    /// there is no state.json or it records none (a checkpoint saved before TokenMill recorded them).
    /// Throws a `RecordedHashError` naming the first file that is missing or differs.
    public static func verify(directory dir: String) throws -> Bool {
        let statePath = dir + "/state.json"
        guard let data = FileManager.default.contents(atPath: statePath) else { return false }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw SafetensorsError(path: statePath, message: "unreadable trainer state (not a JSON object)")
        }
        guard let files = object[hashesKey] as? [String: Any] else { return false }
        _ = try verifyRecordedSHA256(files, field: hashesKey, recordPath: statePath, consequence: "the checkpoint is corrupt") { name in
            guard !name.contains("/") else {
                throw RecordedHashError(path: statePath, message: "\(hashesKey).\(name) is not a file name of the checkpoint")
            }
            return dir + "/" + name
        }
        return true
    }

    /// The checkpoint directory to resume from: checkpoint, else checkpoint.old (a crash mid-swap).
    public static func directory(run: String) -> String? {
        let fm = FileManager.default
        for d in ["/checkpoint", "/checkpoint.old"] where fm.fileExists(atPath: run + d + "/state.json") { return run + d }
        return nil
    }

    /// Loads weights, moments and state saved by `save`; the model's config must match.
    public static func load(directory dir: String, config: RunConfig, model: Model<Float>, optimizer: AdamW<Float>) throws -> TrainerState {
        if let saved = FileManager.default.contents(atPath: dir + "/tokenmill.json") {
            let other = try RunConfig.decode(saved, source: dir + "/tokenmill.json")
            if other.model != config.model {
                throw SafetensorsError(path: dir, message: "checkpoint is from another model config; resume with the same --config")
            }
            if other.training.fp8Settings != config.training.fp8Settings {
                throw SafetensorsError(path: dir, message: "checkpoint was trained with \(precisionDescription(other.training)), this run asks for \(precisionDescription(config.training)); resume with the same precision settings")
            }
        }
        let weights = try SafetensorsFile(path: dir + "/model.safetensors")
        for s in model.specs {
            try weights.copy(s.name, dtype: "F32", shape: s.shape, into: UnsafeMutableRawPointer(model.params + s.offset))
        }
        let opt = try SafetensorsFile(path: dir + "/optimizer.safetensors")
        try opt.copyMoments(into: optimizer, count: model.parameterCount)
        guard let data = FileManager.default.contents(atPath: dir + "/state.json"),
              let state = try? JSONDecoder().decode(TrainerState.self, from: data) else {
            throw SafetensorsError(path: dir + "/state.json", message: "missing or unreadable trainer state")
        }
        optimizer.step = state.optimizerStep
        return state
    }

    static func writeFile(_ path: String, _ data: Data, disk: SimulatedDisk? = nil) throws {
        guard let f = fopen(path, "wb") else { throw SafetensorsError(path: path, message: "cannot create: \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { data.isEmpty || checkedWrite($0.baseAddress!, data.count, f, path: path, disk: disk) } && fflush(f) == 0 && fsync(fileno(f)) == 0
        let err = errno
        if fclose(f) != 0 || !ok { throw SafetensorsError(path: path, message: "write failed: \(String(cString: strerror(err)))") }
    }
}

/// "precision fp32", or "precision fp8 (fp8_scaling fine-grained, fp8_accumulation fp32)".
func precisionDescription(_ t: TrainingConfig) -> String {
    guard t.fp8Settings != nil else { return "precision fp32" }
    return "precision fp8 (fp8_scaling \(t.fp8Scaling), fp8_accumulation \(t.fp8Accumulation))"
}

extension SafetensorsFile {
    /// Reads "exp_avg" and "exp_avg_sq" into the optimizer's moments: F32 or BF16 tensors into either
    /// storage. Into bfloat16 storage an F32 moment is rounded to nearest even (exact for the F32
    /// checkpoints of fp8 runs from before the moments were stored in bfloat16: their values were
    /// bfloat16 values already).
    func copyMoments(into optimizer: AdamW<Float>, count: Int) throws {
        for (name, floats, bits) in [("exp_avg", optimizer.m, optimizer.m16), ("exp_avg_sq", optimizer.v, optimizer.v16)] {
            if let floats {
                try copyFloat32(name, shape: [count], into: floats)
            } else if tensors[name]?.dtype == "BF16" {
                try copy(name, dtype: "BF16", shape: [count], into: UnsafeMutableRawPointer(bits!))
            } else {
                let f = UnsafeMutablePointer<Float>.allocate(capacity: count)
                defer { f.deallocate() }
                try copyFloat32(name, shape: [count], into: f)
                for i in 0..<count { bits![i] = BFloat16.encode(f[i]) }
            }
        }
    }
}
