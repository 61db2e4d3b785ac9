// Training a tokenizer end to end, as `train-tokenizer` does: (1) count words (saved counts, then the
// corpus, in bounded memory with spilling), (2) learn the merges up to the largest size, (3) write one
// tokenizer.json (and optionally .tiktoken) per requested size, each to a temporary name renamed when
// complete. With several sizes the size goes before the extension (tokenizer-32768.json); the smaller
// vocabularies' merges are prefixes. With --save-counts and no output, spilled runs are merged
// straight into the count file, so counting a large shard never holds all its words.
import CorpusIO
import Foundation
import Tokenization

/// One written tokenizer.
public struct WrittenTokenizer: Sendable, Equatable {
    public var path: String
    public var requestedSize: Int
    public var vocabularySize: Int
    public var merges: Int
    /// The line `train-tokenizer` prints for it.
    public var line: String {
        let note = vocabularySize < requestedSize ? " (stopped early: no pair left above --min-frequency)" : ""
        return "train-tokenizer: wrote \(path): \(formatCount(vocabularySize)) tokens, \(formatCount(merges)) merges\(note)"
    }
}

/// A `train-tokenizer` run.
public struct TokenizerTrainingJob {
    public var config: BPETrainerConfig
    /// Word-count files added before counting.
    public var countFiles: [String] = []
    /// Spill when this many distinct words are held (0: never), into `spillDirectory`.
    public var maxWords = 0
    public var spillDirectory = FileManager.default.temporaryDirectory.path
    /// Where to write the word counts, if anywhere.
    public var saveCounts: String?
    /// The tokenizer.json to write (nil: only count).
    public var output: String?
    public var tiktoken = false

    public init(config: BPETrainerConfig) { self.config = config }

    /// Runs the job; `makeReader` gives the corpus (nil: only the count files). Each step's line goes to `log`.
    public func run(makeReader: (() throws -> CorpusReader)?, runner: DocumentRunner, log: (String) -> Void) throws {
        // 1. Count words (in parallel; summing makes the result independent of the thread count).
        var saved = WordCounts()
        for path in countFiles { saved.merge(try WordCounts.read(path: path)) }
        let counts = SpillingWordCounts(saved, maxWords: maxWords, directory: spillDirectory)
        var read = ReadTotals()
        if let makeReader {
            let reader = try makeReader()
            log("train-tokenizer: counting with \(runner.threads) threads; memory grows with the distinct pre-tokens (about their bytes + 40 B each)")
            read = try WordCountStage.run(reader: reader, config: config, into: counts, runner: runner)
            runner.progress.finish()
        }
        let counted = "train-tokenizer: \(formatCount(read.documents)) documents, \(formatBytes(Int64(read.bytes)))"
        let runs = try counts.finishSpilling()
        if runs > 0 { log("train-tokenizer: merging \(runs) spilled runs") }
        if runs > 0, let saveCounts, output == nil {  // the merge streams into the file
            try counts.write(to: saveCounts)
            return log(counted + "; wrote word counts to \(saveCounts)")
        }
        let words = try counts.merged()
        log(counted + ", \(formatCount(Int(words.total))) pre-tokens, \(formatCount(words.distinct)) distinct" + String(format: " (%.1f s)", runner.progress.elapsed))
        if let saveCounts {
            try SpillingWordCounts(words).write(to: saveCounts)
            log("train-tokenizer: wrote word counts to \(saveCounts)")
        }
        guard let output else { return }
        // 2. Merges, up to the largest size.
        log("train-tokenizer: merging; memory estimate \(formatBytes(Int64(BPETrainer.memoryEstimate(words))))")
        let start = Date()
        let result = try BPETrainer.train(words, vocabSize: config.vocabSizes.last!, specialTokens: config.specialTokens, minFrequency: config.minFrequency)
        let mergeSeconds = Date().timeIntervalSince(start)
        // 3. One file per size.
        for written in try writeTrainedTokenizers(result, config: config, output: output, tiktoken: tiktoken) { log(written.line) }
        log(String(format: "train-tokenizer: %d merges in %.2f s", result.merges.count, mergeSeconds))
    }
}

/// Writes the tokenizers of `result` for every size of `config` to `output` (sized names when several).
public func writeTrainedTokenizers(_ result: BPETrainingResult, config: BPETrainerConfig, output: String,
                                   tiktoken: Bool) throws -> [WrittenTokenizer] {
    var written: [WrittenTokenizer] = []
    for size in config.vocabSizes {
        let tokenizer = try result.tokenizer(vocabSize: size, preset: config.preset, normalization: config.normalization)
        let path = config.vocabSizes.count == 1 ? output : sizedPath(output, size)
        try writeFileAtomically(Array(tokenizer.huggingFaceJSON().utf8), to: path)
        if tiktoken { try writeFileAtomically(Array(try tokenizer.tiktokenText().utf8), to: replacingExtension(path, with: "tiktoken")) }
        written.append(WrittenTokenizer(path: path, requestedSize: size, vocabularySize: tokenizer.vocabularySize,
                                        merges: tokenizer.model.merges.count))
    }
    return written
}

/// `path` with `-size` before its extension.
func sizedPath(_ path: String, _ size: Int) -> String {
    let ns = path as NSString
    let ext = ns.pathExtension
    return ext.isEmpty ? "\(path)-\(size)" : "\(ns.deletingPathExtension)-\(size).\(ext)"
}

func replacingExtension(_ path: String, with ext: String) -> String {
    ((path as NSString).deletingPathExtension as NSString).appendingPathExtension(ext) ?? path + "." + ext
}
