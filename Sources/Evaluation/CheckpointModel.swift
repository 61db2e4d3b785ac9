// Loading a trained model for evaluation: a checkpoint directory written by `tokenmill train`
// (model.safetensors + tokenmill.json) becomes a Model<Float> of B rows of the run's sequence length.
// Policy: the model config and the context T come from the checkpoint's tokenmill.json; every tensor
// must be present with its shape (the MTP modules are loaded too but never run).
import Foundation
import Training

/// A model or input that cannot be evaluated, with a hint.
public struct EvaluationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

public enum CheckpointModel {
    /// The checkpoint directory of a run (checkpoint/, else checkpoint.old after an interrupted save).
    public static func directory(run: String) throws -> String {
        guard let dir = Checkpoint.directory(run: run) else {
            throw EvaluationError(message: "\(run): no checkpoint (train one with `tokenmill train --out \(run)`)")
        }
        return dir
    }

    /// The run config saved beside the weights.
    public static func config(directory dir: String) throws -> RunConfig {
        let path = dir + "/tokenmill.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvaluationError(message: "\(path): missing; --checkpoint takes a directory written by `tokenmill train` (RUN/checkpoint)")
        }
        return try RunConfig.decode(data, source: path)
    }

    /// A model of `batch` rows of `config.training.sequenceLength` with the checkpoint's weights.
    public static func load(directory dir: String, config: RunConfig, batch: Int) throws -> Model<Float> {
        let model = Model<Float>(config: config.model, B: batch, T: config.training.sequenceLength)
        let weights = try SafetensorsFile(path: dir + "/model.safetensors")
        for s in model.specs {
            try weights.copy(s.name, dtype: "F32", shape: s.shape, into: UnsafeMutableRawPointer(model.params + s.offset))
        }
        return model
    }
}
