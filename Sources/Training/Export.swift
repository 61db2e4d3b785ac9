// Export for transformers: a directory that `AutoModelForCausalLM.from_pretrained` loads offline —
// config.json (DeepseekV3Config), model.safetensors with the main model's tensors (the MTP modules,
// which transformers' DeepseekV3ForCausalLM does not implement, are left out) and, when given, the
// tokenizer files. Optionally a reference file with TokenMill's own logits, loss and gradients on some
// tokens, which tools/check-export compares with transformers' forward and PyTorch autograd.
import Foundation

public enum HuggingFaceExport {
    /// Writes `out` from the checkpoint in `run` (checkpoint/, else checkpoint.old). `tokenizer` files
    /// (tokenizer.json, tokenizer_config.json, …) are copied as they are.
    public static func export(run: String, to out: String, tokenizerFiles: [String] = [],
                              referenceTokens: [[Int32]]? = nil) throws {
        guard let dir = Checkpoint.directory(run: run) else {
            throw TrainingError(message: "\(run): no checkpoint (run `tokenmill train --out \(run)` first)")
        }
        guard let saved = FileManager.default.contents(atPath: dir + "/tokenmill.json") else {
            throw TrainingError(message: "\(dir): tokenmill.json missing")
        }
        let config = try RunConfig.decode(saved, source: dir + "/tokenmill.json")
        let fm = FileManager.default
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        let weights = try SafetensorsFile(path: dir + "/model.safetensors")
        let L = config.model.numHiddenLayers
        let keep = parameterSizes(config.model).filter { s in
            guard s.name.hasPrefix("model.layers.") else { return true }
            let layer = Int(s.name.split(separator: ".")[2])!
            return layer < L
        }
        try weights.data.withUnsafeBytes { raw in
            let entries = try keep.map { s -> SafetensorsEntry in
                guard let t = weights.tensors[s.name], t.shape == s.shape, t.dtype == "F32" else {
                    throw SafetensorsError(path: weights.path, message: "tensor \(s.name) missing or of the wrong shape")
                }
                return SafetensorsEntry(name: s.name, dtype: "F32", shape: s.shape,
                                        pointer: raw.baseAddress! + weights.bufferStart + t.range.lowerBound, byteCount: t.range.count)
            }
            try writeSafetensors(out + "/model.safetensors", entries: entries, metadata: ["format": "pt"])
        }
        try Checkpoint.writeFile(out + "/config.json", huggingFaceConfig(config.model))
        for f in tokenizerFiles {
            let dest = out + "/" + (f as NSString).lastPathComponent
            try? fm.removeItem(atPath: dest)
            try fm.copyItem(atPath: f, toPath: dest)
        }
        if let rows = referenceTokens, let width = rows.first?.count, width >= 2 {
            // reference.safetensors: input_ids [B, T+1] I32; TokenMill's logits [B, T, V] on ids[:, :T]; the
            // main-head loss (metadata) and its gradient "grad.<name>" for every exported tensor, with the
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
                for s in keep {
                    entries.append(SafetensorsEntry(name: "grad." + s.name, dtype: "F32", shape: s.shape,
                                                    pointer: UnsafeRawPointer(model.parameter(s.name, in: model.grads)), byteCount: s.count * 4))
                }
                try writeSafetensors(out + "/reference.safetensors", entries: entries,
                                     metadata: ["loss": String(model.losses.main)])
            }
        }
    }
}
