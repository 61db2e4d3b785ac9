// `HuggingFaceExport` and `HuggingFaceImport` in process: the exported tensor names (MTP under
// DeepSeek-V3's names, with copies of the shared embedding and head), exact float16/bfloat16 conversion,
// import of single-file and sharded F32/BF16/F16 folders written here, the export → import → export
// round trip byte for byte, and bad inputs: one-line errors naming the file and field, no output left.
import CorpusIO
import Foundation
import Testing
@testable import Training

private func temporaryDirectory(_ name: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tm-hf-\(name)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A run directory with a checkpoint of `config` initialized from `seed` (bias and norms randomized too).
private func makeRun(_ run: String, config: ModelConfig, seed: UInt64 = 7) throws {
    let model = Model<Float>(config: config, B: 1, T: 8)
    model.initialize(seed: seed)
    var rng = SplitMix64(seed: seed)
    for i in 0..<model.parameterCount { model.params[i] += Float(Int(rng.next() % 2001) - 1000) / 20000 }
    try Checkpoint.save(run: run, config: RunConfig(model: config, training: TrainingConfig()), model: model,
                        optimizer: AdamW<Float>(count: model.parameterCount), state: TrainerState())
}

/// Values of every tensor a folder of `config` holds, exactly representable in `dtype`, seeded.
private func folderValues(_ config: ModelConfig, dtype: String, seed: UInt64) -> [String: [Float]] {
    var rng = SplitMix64(seed: seed)
    var values: [String: [Float]] = [:]
    for s in parameterSizes(config) {
        values[s.name] = (0..<s.count).map { _ in
            let x = Float(Int(rng.next() % 200_001) - 100_000) / 100_000
            switch dtype {
            case "BF16": return Float(bitPattern: x.bitPattern & 0xFFFF_0000)
            case "F16": return Float(Float16(x))
            default: return x
            }
        }
    }
    // Edge cases of the conversions: negative zero, and for float16 its smallest subnormal.
    values["model.norm.weight"]![0] = -0.0
    if dtype == "F16" { values["model.norm.weight"]![1] = 0x1p-24 }
    for t in HuggingFaceExport.tensors(config) where t.name != t.source { values[t.name] = values[t.source] }
    return values
}

/// Writes a transformers-style folder: config.json (`edit` may change it) and the values as `dtype`, in
/// `shards` files (with model.safetensors.index.json when more than one).
private func writeFolder(_ dir: String, config: ModelConfig, values: [String: [Float]], dtype: String, shards: Int = 1,
                         edit: (inout [String: Any]) -> Void = { _ in }) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var json = try JSONSerialization.jsonObject(with: huggingFaceConfig(config)) as! [String: Any]
    edit(&json)
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/config.json"))
    let names = values.keys.sorted()
    var map: [String: String] = [:]
    for shard in 0..<shards {
        let file = shards == 1 ? "model.safetensors" : String(format: "model-%05d-of-%05d.safetensors", shard + 1, shards)
        let mine = names.enumerated().filter { $0.offset % shards == shard }.map(\.element)
        let bytes: [[UInt8]] = mine.map { name in
            values[name]!.flatMap { x -> [UInt8] in
                switch dtype {
                case "BF16": let b = UInt16(x.bitPattern >> 16); return [UInt8(b & 0xFF), UInt8(b >> 8)]
                case "F16": let b = Float16(x).bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8)]
                default: return withUnsafeBytes(of: x.bitPattern.littleEndian, Array.init)
                }
            }
        }
        let shapes = Dictionary(uniqueKeysWithValues: HuggingFaceExport.tensors(config).map { ($0.name, $0.shape) })
        try withExtendedLifetime(bytes) {
            let entries = zip(mine, bytes).map { name, b in
                b.withUnsafeBytes { SafetensorsEntry(name: name, dtype: dtype, shape: shapes[name]!, pointer: $0.baseAddress!, byteCount: b.count) }
            }
            try writeSafetensors(dir + "/" + file, entries: entries, metadata: ["format": "pt"])
        }
        for name in mine { map[name] = file }
    }
    if shards > 1 {
        try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 0], "weight_map": map])
            .write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
    }
}

/// Every tensor of a checkpoint's model.safetensors as Float.
private func checkpointValues(_ run: String, _ config: ModelConfig) throws -> [String: [Float]] {
    let f = try SafetensorsFile(path: run + "/checkpoint/model.safetensors")
    var out: [String: [Float]] = [:]
    for s in parameterSizes(config) {
        var v = [Float](repeating: .nan, count: s.count)
        try v.withUnsafeMutableBufferPointer { try f.copyFloat32(s.name, shape: s.shape, into: $0.baseAddress!) }
        out[s.name] = v
    }
    return out
}

private func bits(_ v: [Float]) -> [UInt32] { v.map(\.bitPattern) }

/// The directory's entries, hidden ones included (a failed write must leave none).
private func entries(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

@Suite struct HuggingFaceExportImportTests {
    @Test func float16ConversionIsExactForEveryValue() {
        for b in 0...UInt16.max {
            let mine = float32(half: b), reference = Float(Float16(bitPattern: b))
            if reference.isNaN { #expect(mine.isNaN); continue }
            #expect(mine.bitPattern == reference.bitPattern, "bits \(b)")
        }
    }

    @Test func exportWritesTheMTPModuleUnderDeepSeekNamesWithCopies() throws {
        let dir = try temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = ModelConfig.tiny   // 2 layers, MTP module = layer 2
        try makeRun(dir + "/run", config: config)
        try HuggingFaceExport.export(run: dir + "/run", to: dir + "/hf", files: ["tokenizer.json": Data("{}".utf8)], specialTokenID: 5)
        #expect(entries(dir) == ["hf", "run"])
        #expect(entries(dir + "/hf") == ["config.json", "model.safetensors", "tokenizer.json"])
        let f = try SafetensorsFile(path: dir + "/hf/model.safetensors")
        let mtp = f.tensors.keys.filter { $0.hasPrefix("model.layers.2.") }.sorted()
        let experts: [String] = (0..<4).flatMap { e in ["down_proj", "gate_proj", "up_proj"].map { "model.layers.2.mlp.experts.\(e).\($0).weight" } }
        var expected: [String] = [
            "model.layers.2.eh_proj.weight", "model.layers.2.embed_tokens.weight", "model.layers.2.enorm.weight",
            "model.layers.2.hnorm.weight", "model.layers.2.input_layernorm.weight",
        ]
        expected += experts
        expected += [
            "model.layers.2.mlp.gate.e_score_correction_bias", "model.layers.2.mlp.gate.weight",
            "model.layers.2.mlp.shared_experts.down_proj.weight", "model.layers.2.mlp.shared_experts.gate_proj.weight",
            "model.layers.2.mlp.shared_experts.up_proj.weight", "model.layers.2.post_attention_layernorm.weight",
            "model.layers.2.self_attn.kv_a_layernorm.weight", "model.layers.2.self_attn.kv_a_proj_with_mqa.weight",
            "model.layers.2.self_attn.kv_b_proj.weight", "model.layers.2.self_attn.o_proj.weight", "model.layers.2.self_attn.q_proj.weight",
            "model.layers.2.shared_head.head.weight", "model.layers.2.shared_head.norm.weight",
        ]
        #expect(mtp == expected)
        #expect(f.tensors.count == parameterSizes(config).count + 2)
        func bytes(_ name: String) -> Data { let t = f.tensors[name]!; return f.data.subdata(in: (f.bufferStart + t.range.lowerBound)..<(f.bufferStart + t.range.upperBound)) }
        #expect(bytes("model.layers.2.embed_tokens.weight") == bytes("model.embed_tokens.weight"))
        #expect(bytes("model.layers.2.shared_head.head.weight") == bytes("lm_head.weight"))
        #expect(bytes("model.embed_tokens.weight") != bytes("lm_head.weight"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/hf/config.json"))) as! [String: Any]
        #expect(json["num_nextn_predict_layers"] as? Int == 1 && json["bos_token_id"] as? Int == 5 && json["eos_token_id"] as? Int == 5)
        #expect(json["pad_token_id"] == nil)
        // A second export replaces the folder; a folder holding other files is refused, untouched.
        try HuggingFaceExport.export(run: dir + "/run", to: dir + "/hf")
        #expect(entries(dir + "/hf") == ["config.json", "model.safetensors"])
        try Data().write(to: URL(fileURLWithPath: dir + "/hf/notes.txt"))
        let e = #expect(throws: HuggingFaceError.self) { try HuggingFaceExport.export(run: dir + "/run", to: dir + "/hf") }
        #expect(e?.usage == true && e?.description == "\(dir)/hf: already exists and holds notes.txt; choose a new or empty directory")
        #expect(entries(dir + "/hf") == ["config.json", "model.safetensors", "notes.txt"] && entries(dir) == ["hf", "run"])
    }

    @Test(arguments: [("F32", 1), ("BF16", 1), ("F16", 1), ("BF16", 3), ("F16", 2)])
    func importsSingleAndShardedFoldersExactly(dtype: String, shards: Int) throws {
        let dir = try temporaryDirectory("import")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = ModelConfig.tiny
        config.qLoraRank = 8
        let values = folderValues(config, dtype: dtype, seed: UInt64(shards) * 31 + UInt64(dtype.count))
        try writeFolder(dir + "/hf", config: config, values: values, dtype: dtype, shards: shards)
        let result = try HuggingFaceImport.importModel(from: dir + "/hf", to: dir + "/run", sequenceLength: 16,
                                                       files: ["tokenizer.json": Data("tok".utf8)], dataRecord: Data("{}".utf8))
        #expect(result.config.model == config && result.config.training.sequenceLength == 16 && result.notes.isEmpty)
        #expect(entries(dir + "/run") == ["checkpoint", "tokenizer.json"])
        #expect(entries(dir + "/run/checkpoint") == ["config.json", "data.json", "model.safetensors", "optimizer.safetensors", "state.json", "tokenmill.json"])
        let imported = try checkpointValues(dir + "/run", config)
        for s in parameterSizes(config) {
            let same = bits(imported[s.name]!) == bits(values[s.name]!)
            #expect(same, "\(s.name)")
        }
        #expect(imported["model.norm.weight"]![0].sign == .minus && imported["model.norm.weight"]![0] == 0)
        // A fresh optimizer: zero moments at step 0, the trainer at step 0.
        let opt = try SafetensorsFile(path: dir + "/run/checkpoint/optimizer.safetensors")
        #expect(opt.metadata["step"] == "0")
        #expect(opt.data[opt.bufferStart...].allSatisfy { $0 == 0 })
        let state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/run/checkpoint/state.json")))
        #expect(state.step == 0 && state.optimizerStep == 0)
        // The run loads for training (same model config).
        let model = Model<Float>(config: config, B: 1, T: 16)
        let adam = AdamW<Float>(count: model.parameterCount)
        _ = try Checkpoint.load(directory: dir + "/run/checkpoint", config: result.config, model: model, optimizer: adam)
        #expect(adam.step == 0)
    }

    @Test func exportImportExportIsBitIdentical() throws {
        let dir = try temporaryDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = ModelConfig.tiny
        config.numHiddenLayers = 3; config.firstKDenseReplace = 0; config.nRoutedExperts = 6; config.numExpertsPerTok = 3
        config.ropeTheta = 123.5; config.rmsNormEps = 1e-5; config.numNextnPredictLayers = 2
        try makeRun(dir + "/run", config: config, seed: 11)
        try HuggingFaceExport.export(run: dir + "/run", to: dir + "/hf", specialTokenID: 3)
        let result = try HuggingFaceImport.importModel(from: dir + "/hf", to: dir + "/run2", sequenceLength: 32)
        #expect(result.config.model == config)
        try HuggingFaceExport.export(run: dir + "/run2", to: dir + "/hf2", specialTokenID: 3)
        for f in ["model.safetensors", "config.json"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/hf/" + f)), b = try Data(contentsOf: URL(fileURLWithPath: dir + "/hf2/" + f))
            let same = a == b && a.count > 0
            #expect(same, "\(f)")
        }
        let original = try checkpointValues(dir + "/run", config), imported = try checkpointValues(dir + "/run2", config)
        for s in parameterSizes(config) {
            let same = bits(original[s.name]!) == bits(imported[s.name]!)
            #expect(same, "\(s.name)")
        }
    }

    @Test func foldersWithoutMTPWeightsGiveARunWithoutMTP() throws {
        let dir = try temporaryDirectory("nomtp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = ModelConfig.tiny
        config.numNextnPredictLayers = 0
        let values = folderValues(config, dtype: "F32", seed: 3)
        try writeFolder(dir + "/hf", config: config, values: values, dtype: "F32") { $0["num_nextn_predict_layers"] = 1 }
        let result = try HuggingFaceImport.importModel(from: dir + "/hf", to: dir + "/run")
        #expect(result.config.model.numNextnPredictLayers == 0 && result.config.training.sequenceLength == 64)
        #expect(result.notes == ["config.json declares 1 MTP module(s) but the weights hold none (model.layers.2.*); the run has no MTP module"])
    }

    /// Each bad folder: the exact one-line message, and no run directory or temporary left behind.
    @Test func badFoldersGiveOneLineErrorsAndNoOutput() throws {
        let dir = try temporaryDirectory("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = ModelConfig.tiny
        let values = folderValues(config, dtype: "F32", seed: 5)
        func attempt(_ name: String, dtype: String = "F32", shards: Int = 1, values v: [String: [Float]]? = nil,
                     edit: (inout [String: Any]) -> Void = { _ in }, damage: (String) throws -> Void = { _ in }) throws -> String {
            let hf = dir + "/" + name
            try writeFolder(hf, config: config, values: v ?? values, dtype: dtype, shards: shards, edit: edit)
            try damage(hf)
            var message = ""
            do {
                _ = try HuggingFaceImport.importModel(from: hf, to: dir + "/run-" + name)
                Issue.record("\(name): imported")
            } catch {
                message = "\(error)"
            }
            #expect(!message.contains("\n"))
            #expect(!entries(dir).contains { $0.contains("run-") }, "\(name): left \(entries(dir))")
            return message.replacingOccurrences(of: hf, with: "HF")
        }
        #expect(try attempt("missing", edit: { $0["kv_lora_rank"] = nil }) == "HF/config.json: field 'kv_lora_rank' is missing")
        #expect(try attempt("greedy", edit: { $0["topk_method"] = "greedy" })
            == "HF/config.json: field 'topk_method' is \"greedy\"; TokenMill supports only \"noaux_tc\" (TokenMill selects experts with the balancing bias (DeepSeek-V3's noaux_tc))")
        #expect(try attempt("softmax", edit: { $0["scoring_func"] = "softmax" })
            == "HF/config.json: field 'scoring_func' is \"softmax\"; TokenMill supports only \"sigmoid\" (TokenMill's router scores with a sigmoid)")
        #expect(try attempt("norm", edit: { $0["norm_topk_prob"] = false })
            == "HF/config.json: field 'norm_topk_prob' is false; TokenMill supports only true (TokenMill normalizes the top-k weights)")
        #expect(try attempt("yarn", edit: { $0["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0] })
            == "HF/config.json: field 'rope_parameters.rope_type' is \"yarn\"; TokenMill implements only the default rotary embedding (rope_type \"default\" with rope_theta)")
        #expect(try attempt("partial", edit: { $0["rope_parameters"] = ["rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5] })
            == "HF/config.json: field 'rope_parameters.partial_rotary_factor' is 0.5; TokenMill implements only the default rotary embedding (rope_type \"default\" with rope_theta)")
        #expect(try attempt("groups", edit: { $0["n_group"] = 2; $0["topk_group"] = 1 }).hasPrefix("HF/config.json: field 'topk_group' is 1 with n_group 2;"))
        #expect(try attempt("unknown", edit: { $0["sliding_window"] = 128 })
            == "HF/config.json: field 'sliding_window' is not a DeepseekV3Config field TokenMill knows (remove it if it does not change the model)")
        #expect(try attempt("type", edit: { $0["hidden_size"] = "32" }) == "HF/config.json: field 'hidden_size' must be an integer (is \"32\")")
        #expect(try attempt("invalid", edit: { $0["num_experts_per_tok"] = 9 }) == "HF/config.json: field 'num_experts_per_tok' must be in 1...n_routed_experts for TokenMill")
        #expect(try attempt("truncated", damage: { hf in
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: hf + "/model.safetensors"))
            let size = try h.seekToEnd()
            try h.truncate(atOffset: size - 10)
            try h.close()
        }).hasPrefix("HF/model.safetensors: file size "))
        var bad = values
        bad["model.layers.2.embed_tokens.weight"]![7] += 1
        #expect(try attempt("copy", values: bad)
            == "HF/model.safetensors: tensor model.layers.2.embed_tokens.weight differs from model.embed_tokens.weight; TokenMill's MTP modules share the embedding and head with the main model")
        #expect(try attempt("stray", shards: 2, damage: { hf in
            let path = hf + "/model.safetensors.index.json"
            var index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            var map = index["weight_map"] as! [String: String]
            map["lm_head.weight"] = nil
            index["weight_map"] = map
            try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: path))
        }).hasSuffix("tensor lm_head.weight is not listed for this file in model.safetensors.index.json"))
        #expect(try attempt("nan", values: { var v = values; v["model.norm.weight"]![3] = .nan; return v }())
            == "HF/model.safetensors: tensor model.norm.weight holds nan at element 3")
    }

    @Test func wrongDtypeIsRefused() throws {
        let dir = try temporaryDirectory("dtype")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/t.safetensors"
        let doubles: [Double] = [1, 2, 3], ints: [Int32] = [1, 2]
        try doubles.withUnsafeBytes { d in
            try ints.withUnsafeBytes { i in
                try writeSafetensors(path, entries: [
                    SafetensorsEntry(name: "d", dtype: "F64", shape: [3], pointer: d.baseAddress!, byteCount: 24),
                    SafetensorsEntry(name: "i", dtype: "I32", shape: [2], pointer: i.baseAddress!, byteCount: 8),
                ], metadata: [:])
            }
        }
        let f = try SafetensorsFile(path: path)
        var out = [Float](repeating: 0, count: 3)
        for (name, dtype, n) in [("d", "F64", 3), ("i", "I32", 2)] {
            let e = #expect(throws: SafetensorsError.self) { try out.withUnsafeMutableBufferPointer { try f.copyFloat32(name, shape: [n], into: $0.baseAddress!) } }
            #expect(e?.description == "\(path): tensor \(name) is \(dtype); only F32, BF16 and F16 weights are read")
        }
        // A header whose offsets do not fit the dtype and shape.
        let zeros = [UInt8](repeating: 0, count: 8)
        try zeros.withUnsafeBytes { z in
            try writeSafetensors(path, entries: [SafetensorsEntry(name: "x", dtype: "BF16", shape: [3], pointer: z.baseAddress!, byteCount: 8)], metadata: [:])
        }
        let e = #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(path: path) }
        #expect(e?.description == "\(path): tensor x: data_offsets [0, 8] span 8 bytes but BF16[3] needs 6")
    }
}
