// `tokenmill export-hf`: turn a training run's checkpoint into a transformers model directory.
import ArgumentParser
import Foundation
import Training

struct ExportHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-hf",
        abstract: "Write a training run's checkpoint as a transformers DeepseekV3ForCausalLM directory.",
        discussion: """
        Example: tokenmill export-hf runs/tiny -o hf/tiny --tokenizer tokenizer.json

        The directory holds config.json and model.safetensors (the main model; the multi-token-prediction \
        modules stay in the run's checkpoint), loadable offline with AutoModelForCausalLM.from_pretrained.
        """
    )

    @Argument(help: "The run directory written by `tokenmill train --out`.")
    var runDirectory: String

    @Option(name: .shortAndLong, help: "The output directory.")
    var output: String

    @Option(name: .customLong("tokenizer"), help: "A tokenizer file to copy into the directory (repeatable).")
    var tokenizerFiles: [String] = []

    @Option(name: .customLong("reference-rows"), help: "Also write reference.safetensors: TokenMill's logits on this many rows of random ids (for tools/check-export).")
    var referenceRows: Int = 0

    @Option(name: .customLong("reference-length"), help: "Tokens per reference row (the logits cover all but the last).")
    var referenceLength: Int = 16

    @Option(help: "Seed for the reference ids.")
    var seed: UInt64 = 1

    func validate() throws {
        if referenceRows < 0 || referenceLength < 1 { throw ValidationError("--reference-rows must be ≥ 0 and --reference-length ≥ 1.") }
    }

    func run() throws {
        try reportingErrors {
            var rows: [[Int32]]? = nil
            if referenceRows > 0 {
                let saved = try RunConfig.decode(try Data(contentsOf: URL(fileURLWithPath: (Checkpoint.directory(run: runDirectory) ?? runDirectory) + "/tokenmill.json")))
                var rng = SplitMix64(seed: seed)
                rows = (0..<referenceRows).map { _ in
                    (0..<referenceLength).map { _ in Int32(rng.next() % UInt64(saved.model.vocabSize)) }
                }
            }
            try HuggingFaceExport.export(run: runDirectory, to: output, tokenizerFiles: tokenizerFiles, referenceTokens: rows)
            printError("wrote \(output)")
        }
    }
}
