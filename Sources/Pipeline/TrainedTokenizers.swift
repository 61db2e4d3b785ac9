// After counting and merging: one tokenizer.json (and optionally .tiktoken) per requested vocabulary
// size, each written to a temporary name and renamed when complete. With several sizes the size goes
// before the extension (tokenizer-32768.json); the smaller vocabularies' merges are prefixes.
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

/// Writes the tokenizers of `result` for every size of `config` to `output` (sized names when several).
public func writeTrainedTokenizers(_ result: BPETrainingResult, config: BPETrainerConfig, output: String,
                                   tiktoken: Bool) throws -> [WrittenTokenizer] {
    var written: [WrittenTokenizer] = []
    for size in config.vocabSizes {
        let tokenizer = try result.tokenizer(vocabSize: size, preset: config.preset, normalization: config.normalization)
        let path = config.vocabSizes.count == 1 ? output : sizedPath(output, size)
        try writeText(tokenizer.huggingFaceJSON(), to: path)
        if tiktoken { try writeText(try tokenizer.tiktokenText(), to: replacingExtension(path, with: "tiktoken")) }
        written.append(WrittenTokenizer(path: path, requestedSize: size, vocabularySize: tokenizer.vocabularySize,
                                        merges: tokenizer.model.merges.count))
    }
    return written
}

private func writeText(_ text: String, to path: String) throws {
    let out = try OutputFile(path: path, compress: false)
    do { try out.write(Array(text.utf8)); try out.commit() } catch { out.abandon(); throw error }
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
