// Export for transformers: a directory that `AutoModelForCausalLM.from_pretrained` loads offline —
// config.json (DeepseekV3Config), model.safetensors and whatever files the caller adds (the CLI adds
// the tokenizer files). model.safetensors holds every tensor of the checkpoint under transformers'
// DeepseekV3ForCausalLM names, the MTP modules included under the names of DeepSeek-V3's released
// weights: module k is layer num_hidden_layers + k, with its own copies of the shared embedding and
// head (`embed_tokens.weight`, `shared_head.head.weight`) beside enorm, hnorm, eh_proj, the decoder
// layer and shared_head.norm. transformers' DeepseekV3ForCausalLM has no MTP module and reports those
// tensors as unexpected keys when loading (its ignore list names only layer 61, DeepSeek-V3's own).
// Optionally a reference file with TokenMill's own logits, loss and gradients on some tokens, which
// tools/check-export compares with transformers' forward and PyTorch autograd.
// With `fp8`, the linear layers' weights are written in DeepSeek-V3's FP8 layout (FP8Export.swift).
// The directory is written under a temporary name and renamed when complete (OutputDirectory).
import Foundation

/// One tensor of an exported model.safetensors: its name and shape, and the checkpoint tensor it copies.
public struct ExportedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    /// The TokenMill parameter holding its values (differs from `name` for the MTP modules' copies of
    /// the shared embedding and head).
    public var source: String
}

public enum HuggingFaceExport {
    /// The files `export` may write: an existing output directory holding only these is replaced.
    public static let fileNames: Set<String> = [
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "generation_config.json", "reference.safetensors",
    ]

    /// Every tensor of the exported model.safetensors for `config`: the parameters of `parameterSizes`
    /// plus, per MTP module, `embed_tokens.weight` (from model.embed_tokens.weight) and
    /// `shared_head.head.weight` (from lm_head.weight).
    public static func tensors(_ config: ModelConfig) -> [ExportedTensor] {
        var out = parameterSizes(config).map { ExportedTensor(name: $0.name, shape: $0.shape, source: $0.name) }
        for k in 0..<config.numNextnPredictLayers {
            let p = "model.layers.\(config.numHiddenLayers + k)."
            out.append(ExportedTensor(name: p + "embed_tokens.weight", shape: [config.vocabSize, config.hiddenSize], source: "model.embed_tokens.weight"))
            out.append(ExportedTensor(name: p + "shared_head.head.weight", shape: [config.vocabSize, config.hiddenSize], source: "lm_head.weight"))
        }
        return out
    }

    /// Writes `out` from the checkpoint in `run` (checkpoint/, else checkpoint.old). `files` (name →
    /// bytes, e.g. tokenizer.json) are written beside the model; `specialTokenID` goes into config.json
    /// as bos/eos/pad_token_id. An existing `out` holding only `fileNames` is replaced; any other is
    /// refused.
    public static func export(run: String, to out: String, files: [String: Data] = [:], specialTokenID: Int? = nil,
                              referenceTokens: [[Int32]]? = nil, fp8: Bool = false) throws {
        guard let dir = Checkpoint.directory(run: run) else {
            throw TrainingError(message: "\(run): no checkpoint (run `tokenmill train --out \(run)` first)")
        }
        guard let saved = FileManager.default.contents(atPath: dir + "/tokenmill.json") else {
            throw TrainingError(message: "\(dir): tokenmill.json missing")
        }
        let config = try RunConfig.decode(saved, source: dir + "/tokenmill.json")
        let weights = try SafetensorsFile(path: dir + "/model.safetensors")
        let output = try OutputDirectory(path: out, replaceable: fileNames)
        do {
            try write(into: output.temporary, config: config, weights: weights, files: files, specialTokenID: specialTokenID,
                      referenceTokens: referenceTokens, fp8: fp8)
            try output.commit()
        } catch {
            output.abandon()
            throw error
        }
    }

    private static func write(into out: String, config: RunConfig, weights: SafetensorsFile, files: [String: Data],
                              specialTokenID: Int?, referenceTokens: [[Int32]]?, fp8: Bool) throws {
        let L = config.model.numHiddenLayers
        try weights.data.withUnsafeBytes { raw in
            // fp8: the codes and scales are quantized into buffers that live until the file is written.
            var buffers: [UnsafeMutableRawPointer] = []
            defer { for b in buffers { b.deallocate() } }
            var entries: [SafetensorsEntry] = []
            for s in tensors(config.model) {
                guard let t = weights.tensors[s.source], t.shape == s.shape, t.dtype == "F32" else {
                    throw SafetensorsError(path: weights.path, message: "tensor \(s.source) missing or of the wrong shape")
                }
                let pointer = raw.baseAddress! + weights.bufferStart + t.range.lowerBound
                guard fp8 && FP8Checkpoint.isQuantized(s.name) else {
                    entries.append(SafetensorsEntry(name: s.name, dtype: "F32", shape: s.shape, pointer: pointer, byteCount: t.range.count))
                    continue
                }
                let (rows, cols) = (s.shape[0], s.shape[1]), scaleShape = FP8Checkpoint.scaleShape(rows: rows, cols: cols)
                let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, rows * cols))
                let scaleInv = UnsafeMutablePointer<Float>.allocate(capacity: scaleShape[0] * scaleShape[1])
                buffers += [UnsafeMutableRawPointer(codes), UnsafeMutableRawPointer(scaleInv)]
                FP8Checkpoint.quantize(pointer.assumingMemoryBound(to: Float.self), rows: rows, cols: cols, codes: codes, scaleInv: scaleInv)
                entries.append(SafetensorsEntry(name: s.name, dtype: "F8_E4M3", shape: s.shape, pointer: UnsafeRawPointer(codes),
                                                byteCount: rows * cols))
                entries.append(SafetensorsEntry(name: FP8Checkpoint.scaleName(s.name), dtype: "F32", shape: scaleShape,
                                                pointer: UnsafeRawPointer(scaleInv), byteCount: scaleShape[0] * scaleShape[1] * 4))
            }
            try writeSafetensors(out + "/model.safetensors", entries: entries, metadata: ["format": "pt"])
        }
        try Checkpoint.writeFile(out + "/config.json", huggingFaceConfig(config.model, specialTokenID: specialTokenID,
                                                                         quantizationConfig: fp8 ? FP8Checkpoint.quantizationConfig : nil))
        for (name, data) in files.sorted(by: { $0.key < $1.key }) { try Checkpoint.writeFile(out + "/" + name, data) }
        // The main model's tensors (the ones transformers' forward uses).
        let main = parameterSizes(config.model).filter { s in
            guard s.name.hasPrefix("model.layers.") else { return true }
            return Int(s.name.split(separator: ".")[2])! < L
        }
        if let rows = referenceTokens, let width = rows.first?.count, width >= 2 {
            // reference.safetensors: input_ids [B, T+1] I32; TokenMill's logits [B, T, V] on ids[:, :T]; the
            // main-head loss (metadata) and its gradient "grad.<name>" for every main-model tensor, with the
            // MTP and balance losses switched off so the loss is transformers' plain next-token CE.
            var plain = config.model
            plain.mtpLossWeight = 0
            plain.auxLossAlpha = 0
            let T = width - 1
            let model = Model<Float>(config: plain, B: rows.count, T: T)
            for s in model.specs {
                try weights.copy(s.name, dtype: "F32", shape: s.shape, into: UnsafeMutableRawPointer(model.params + s.offset))
            }
            for (b, row) in rows.enumerated() {
                for t in 0..<model.rowLength { model.tokens[b * model.rowLength + t] = row[min(t, width - 1)] }
            }
            let V = plain.vocabSize
            let logits = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * T * V)
            defer { logits.deallocate() }
            model.logits(into: logits)
            model.forward(computeGradients: true)
            model.backward()
            let ids = rows.flatMap { $0 }
            var entries: [SafetensorsEntry] = []
            try ids.withUnsafeBytes { idBytes in
                entries.append(SafetensorsEntry(name: "input_ids", dtype: "I32", shape: [rows.count, width],
                                                pointer: idBytes.baseAddress!, byteCount: idBytes.count))
                entries.append(SafetensorsEntry(name: "logits", dtype: "F32", shape: [rows.count, T, V], pointer: UnsafeRawPointer(logits),
                                                byteCount: rows.count * T * V * 4))
                for s in main {
                    entries.append(SafetensorsEntry(name: "grad." + s.name, dtype: "F32", shape: s.shape,
                                                    pointer: UnsafeRawPointer(model.parameter(s.name, in: model.grads)), byteCount: s.count * 4))
                }
                try writeSafetensors(out + "/reference.safetensors", entries: entries,
                                     metadata: ["loss": String(model.losses.main)])
            }
        }
    }
}
