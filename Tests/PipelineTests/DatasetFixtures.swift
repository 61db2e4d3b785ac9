// Shared inputs of the dataset-stage tests: a slice of the bundled corpus, a real tokenizer with FIM
// and end-of-text specials, and in-process tokenize/pack runs into a temporary directory.
import CorpusIO
import Foundation
import Packing
import Pipeline
import TokenMillTestSupport
import Tokenization

/// The first `count` documents of corpora/test.jsonl.zst written as JSON Lines to `path`.
func writeCorpusSlice(_ count: Int, to path: String) throws {
    let reader = CorpusReader(inputs: [packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path], options: ReadOptions(), warn: { _ in })
    var out: [UInt8] = [], written = 0
    while written < count, let batch = try reader.nextBatch() {
        for doc in try decodeDocuments(batch, options: reader.options).documents where written < count {
            doc.appendJSONLine(to: &out, textPath: ["text"])
            written += 1
        }
    }
    try Data(out).write(to: URL(fileURLWithPath: path))
}

/// A temporary directory with a 60-document corpus slice and DeepSeek-Coder's tokenizer (it has
/// <｜end▁of▁sentence｜> and the <｜fim▁…｜> sentinels).
struct DatasetFixture {
    let dir: String
    let corpus: String
    let tokenizerPath: String
    let tokenizer: Tokenizer

    init(_ name: String, documents: Int = 60) throws {
        dir = try makeTemporaryDirectory(name).path
        corpus = dir + "/slice.jsonl"
        try writeCorpusSlice(documents, to: corpus)
        tokenizerPath = try tokenizerFixture("deepseek-coder/tokenizer.json")
        tokenizer = try Tokenizer.load(path: tokenizerPath)
    }

    /// Tokenizes the slice (`copies` times over: each input file is at least one batch) into DIR/`name` in-process.
    @discardableResult
    func tokenize(_ name: String, copies: Int = 1, _ configure: (inout TokenizeOptions) -> Void = { _ in }) throws -> TokenizedDatasetManifest {
        var options = TokenizeOptions()
        options.threads = 2
        configure(&options)
        let stage = try TokenizeStage(tokenizer: tokenizer, tokenizerPath: tokenizerPath, options: options)
        return try stage.run(inputs: Array(repeating: corpus, count: copies), output: dir + "/" + name, version: "test", note: { _ in })
    }

    func bytes(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)) }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}
