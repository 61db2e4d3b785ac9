// `tokenmill export-hf`: turn a training run's checkpoint into a complete transformers model directory
// (the model, its tokenizer and the tokenizer's configuration).
import CorpusIO
import ArgumentParser
import Foundation
import Pipeline
import Tokenization
import Training

struct ExportHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-hf",
        abstract: "Write a training run's checkpoint as a transformers DeepseekV3ForCausalLM directory.",
        discussion: """
        Example: tokenmill export-hf runs/tiny -o hf/tiny

        The directory holds config.json, model.safetensors (every weight in float32, the multi-token-\
        prediction modules as layer num_hidden_layers + k under the names of DeepSeek-V3's released \
        weights, with copies of the shared embedding and head), tokenizer.json, tokenizer_config.json \
        (PreTrainedTokenizerFast; bos, eos and pad are the end-of-text token, as `tokenmill bpb` finds \
        it; model_max_length is max_position_embeddings), special_tokens_map.json and \
        generation_config.json (config.json gets bos_token_id and eos_token_id but no pad_token_id, \
        which transformers would make the embedding's padding_idx and leave without gradient), loadable offline with AutoTokenizer and AutoModelForCausalLM \
        (transformers reports the MTP tensors as unexpected keys and ignores them). The tokenizer is the \
        one the run's checkpoint/data.json records, checked against its SHA-256; --tokenizer overrides \
        it (a tokenizer.json is copied byte for byte, other formats are converted), --no-tokenizer \
        writes the model alone. The directory is written under a temporary name and renamed when \
        complete; an existing -o directory is replaced only if it holds nothing but these files.
        """
    )

    @Argument(help: "The run directory written by `tokenmill train --out`.")
    var runDirectory: String

    @Option(name: .shortAndLong, help: "The output directory.")
    var output: String

    @Option(name: .customLong("tokenizer"), help: "The tokenizer to write as tokenizer.json (default: the one the run's checkpoint/data.json records).")
    var tokenizerPath: String?

    @Option(help: "The pre-tokenizer of a .tiktoken --tokenizer whose name does not imply one.")
    var pretokenizer: PreTokenizerPreset?

    @Flag(name: .customLong("no-tokenizer"), help: "Write only config.json and model.safetensors.")
    var noTokenizer = false

    @Flag(help: "Write the linear layers' weights in DeepSeek-V3's FP8 layout (E4M3 with a weight_scale_inv per 128×128 block).")
    var fp8 = false

    @Option(name: .customLong("reference-rows"), help: "Also write reference.safetensors: TokenMill's logits on this many rows of random ids (for tools/check-export).")
    var referenceRows: Int = 0

    @Option(name: .customLong("reference-length"), help: "Tokens per reference row (the logits cover all but the last).")
    var referenceLength: Int = 16

    @Option(help: "Seed for the reference ids.")
    var seed: UInt64 = 1

    func validate() throws {
        if referenceRows < 0 || referenceLength < 1 { throw ValidationError("--reference-rows must be ≥ 0 and --reference-length ≥ 1.") }
        if noTokenizer && tokenizerPath != nil { throw ValidationError("Give at most one of --tokenizer and --no-tokenizer.") }
    }

    func run() throws {
        try reportingErrors {
            guard let dir = Checkpoint.directory(run: runDirectory) else {
                throw RuntimeFailure(description: "\(runDirectory): no checkpoint (run `tokenmill train --out \(runDirectory)` first)")
            }
            try verifyCheckpoint(dir)
            let saved = try RunConfig.decode(try Data(contentsOf: URL(fileURLWithPath: dir + "/tokenmill.json")), source: dir + "/tokenmill.json")
            var files: [String: Data] = [:]
            var eod: (text: String, id: Int)? = nil
            var summary = "model only"
            if !noTokenizer {
                let path = try tokenizerPath ?? recordedTokenizerForExport(checkpoint: dir)
                let tokenizer = try TokenizerOptions.load(path: path, preset: pretokenizer)
                guard tokenizer.vocabularySize == saved.model.vocabSize else {
                    throw RuntimeFailure(description: "\(path): the tokenizer has \(tokenizer.vocabularySize) ids but the model (\(dir)) has \(saved.model.vocabSize); use the tokenizer the model was trained with")
                }
                (files, eod) = try huggingFaceTokenizerFiles(tokenizer, file: tokenizerSourceFile(path), maxLength: saved.model.maxPositionEmbeddings)
                if eod == nil { printError("warning: \(path) has no end-of-text token (<|endoftext|>, <｜end▁of▁sentence｜>, <|end_of_text|>, </s>, <eos>); tokenizer_config.json names no bos/eos/pad and generation_config.json is not written") }
                summary = "tokenizer \(path)" + (eod.map { ", bos/eos/pad \($0.text) (id \($0.id))" } ?? "")
            }
            var rows: [[Int32]]? = nil
            if referenceRows > 0 {
                var rng = SplitMix64(seed: seed)
                rows = (0..<referenceRows).map { _ in
                    (0..<referenceLength).map { _ in Int32(rng.next() % UInt64(saved.model.vocabSize)) }
                }
            }
            do {
                try HuggingFaceExport.export(run: runDirectory, to: output, files: files, specialTokenID: eod?.id, referenceTokens: rows, fp8: fp8)
            } catch let e as HuggingFaceError where e.usage {
                throw ValidationError(e.description)
            }
            printError("export-hf: wrote \(output) (\(saved.model.numNextnPredictLayers) MTP module(s) as layer \(saved.model.numHiddenLayers)…; \(summary))")
        }
    }
}

/// The tokenizer the run's data.json records (SHA-256 checked); a run that records none is a usage error.
private func recordedTokenizerForExport(checkpoint dir: String) throws -> String {
    let record = try savedTrainingDataRecord(checkpoint: dir)
    guard record?.tokenizer != nil else {
        throw ValidationError("\(dir)/\(trainingDataRecordName) names no tokenizer (the run was trained on a raw token file, or before TokenMill recorded it); pass --tokenizer FILE, or --no-tokenizer to write the model alone.")
    }
    return try recordedTokenizer(record, checkpoint: dir).path
}

/// tokenizer.json (the file's own bytes when it is one, else `tokenizer` written in that format),
/// tokenizer_config.json, special_tokens_map.json and generation_config.json; bos = eos = pad = the
/// end-of-text token `tokenmill bpb` would use (none: no special tokens and no generation config).
func huggingFaceTokenizerFiles(_ tokenizer: Tokenizer, file: String, maxLength: Int) throws -> (files: [String: Data], eod: (text: String, id: Int)?) {
    func json(_ o: [String: Any]) -> Data {
        try! JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8)
    }
    let name = (file as NSString).lastPathComponent
    let isJSON = name.hasSuffix(".json") && name != "vocab.json" && !name.hasSuffix("-vocab.json")
    var files: [String: Data] = [:]
    files["tokenizer.json"] = isJSON ? try Data(contentsOf: URL(fileURLWithPath: file)) : Data(tokenizer.huggingFaceJSON().utf8)
    let eod = tokenizer.endOfText().map { (text: $0.token, id: $0.id) }
    var config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": maxLength,
                                 "clean_up_tokenization_spaces": false, "add_bos_token": false, "add_eos_token": false]
    var map: [String: Any] = [:]
    if let eod {
        for k in ["bos_token", "eos_token", "pad_token"] { config[k] = eod.text; map[k] = eod.text }
        files["generation_config.json"] = json(["bos_token_id": eod.id, "eos_token_id": eod.id, "pad_token_id": eod.id])
    }
    files["tokenizer_config.json"] = json(config)
    files["special_tokens_map.json"] = json(map)
    return (files, eod)
}
