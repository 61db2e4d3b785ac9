// `tokenmill import-hf`: turn a transformers DeepseekV3ForCausalLM folder into a TokenMill run that
// `bpb --run` scores and `train --resume` continues.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline
import Tokenization
import Training

struct ImportHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-hf",
        abstract: "Read a transformers DeepseekV3ForCausalLM folder into a TokenMill run directory.",
        discussion: """
        Example: tokenmill import-hf hf/tiny -o runs/imported

        Reads config.json and model.safetensors (or the shards model.safetensors.index.json lists); \
        float32, bfloat16 and float16 weights are converted exactly to float32. Multi-token-prediction \
        modules are read from layer num_hidden_layers + k (as `export-hf` and DeepSeek-V3's released \
        weights store them; their embedding and head must equal the main model's, which TokenMill \
        shares); a folder without them (transformers saves none) gives a run without MTP. config.json \
        fields TokenMill does not implement (rope scaling, group-limited routing, softmax scoring, \
        unnormalized top-k, attention biases, tied embeddings, …) or does not know are errors naming \
        the field. The run gets RUN/checkpoint as `tokenmill train` writes it: the weights, a fresh \
        optimizer (zero moments, step 0), tokenmill.json (the model config, TokenMill's default \
        training settings, training.sequence_length from --sequence-length) and, when the folder has a \
        tokenizer.json, a copy in RUN/tokenizer.json recorded with its SHA-256 in checkpoint/data.json \
        (so `bpb --run RUN` and `export-hf RUN` use it). Continue training with `tokenmill train \
        --config RUN/checkpoint/tokenmill.json --data DATA --out RUN --resume` (edit the training \
        section of a copy to change the schedule; the model section must stay as it is). RUN must not \
        exist or be empty; it is written under a temporary name and renamed when complete.
        """
    )

    @Argument(help: "The transformers model folder.")
    var folder: String

    @Option(name: .shortAndLong, help: "The run directory to create.")
    var output: String

    @Option(name: .customLong("sequence-length"), help: "training.sequence_length of the run: the context `bpb` scores with and `train` trains on (default: max_position_embeddings, at most 2048).")
    var sequenceLength: Int?

    func validate() throws {
        if let sequenceLength, sequenceLength < 1 { throw ValidationError("--sequence-length must be positive.") }
    }

    func run() throws {
        try reportingErrors {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
                throw RuntimeFailure(description: "\(folder): no such directory")
            }
            var files: [String: Data] = [:]
            var record: Data? = nil
            var tokenizerNote = "no tokenizer.json in the folder: `bpb --run` needs --tokenizer"
            let source = folder + "/tokenizer.json"
            if FileManager.default.fileExists(atPath: source) {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: source))
                let dest = output + "/tokenizer.json"
                var tokenizer = TrainingDataRecord.Tokenizer(path: dest, sha256: sha256Hex(bytes), vocabularySize: nil, resolved: absolutePath(dest))
                do {
                    let size = try Tokenizer.load(path: source).vocabularySize
                    tokenizer.vocabularySize = size
                    tokenizerNote = "tokenizer \(dest) (\(size) ids)"
                } catch {
                    printError("warning: \(error); recorded anyway")
                    tokenizerNote = "tokenizer \(dest)"
                }
                files["tokenizer.json"] = bytes
                record = trainingDataRecordJSON(TrainingDataRecord(data: nil, dataResolved: nil, tokenizer: tokenizer, importedFrom: absolutePath(folder)))
            }
            let result: HuggingFaceImport.Result
            do {
                result = try HuggingFaceImport.importModel(from: folder, to: output, sequenceLength: sequenceLength, files: files, dataRecord: record)
            } catch let e as HuggingFaceError where e.usage {
                throw ValidationError(e.description)
            }
            for note in result.notes { printError("note: \(note)") }
            let m = result.config.model
            let parameters = parameterSizes(m).totalCount
            printError("import-hf: wrote \(output): \(formatCount(parameters)) parameters, \(m.numHiddenLayers) layers (\(m.firstKDenseReplace) dense) + \(m.numNextnPredictLayers) MTP, \(m.nRoutedExperts) routed experts top-\(m.numExpertsPerTok), context \(result.config.training.sequenceLength); \(tokenizerNote)")
        }
    }
}

/// Lower-case hex SHA-256 of `bytes`.
private func sha256Hex(_ bytes: Data) -> String {
    let h = SHA256()
    h.update(bytes)
    return h.hexDigest()
}
