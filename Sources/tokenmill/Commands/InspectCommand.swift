// `tokenmill inspect`: what a Megatron dataset holds — counts, and decoded entries.
import ArgumentParser
import CorpusIO
import Foundation
import Packing
import Tokenization

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the counts of a Megatron-LM indexed dataset (PREFIX.bin + PREFIX.idx) and decode its entries.",
        discussion: """
        Example: tokenmill inspect data/train --doc 0 --tokenizer tokenizer.json

        Checks .bin and .idx against the SHA-256 their manifest (PREFIX.json) records, unless \
        --no-verify, and every size in the index against the header and the .bin file first. With --doc, prints \
        that document's ids and, given a tokenizer, its text. Memory: the index (12 bytes per sequence); \
        the .bin file is mapped, not read.
        """
    )

    @Argument(help: "The dataset prefix (without .bin/.idx).")
    var prefix: String

    @Option(help: "Print this document (0-based).")
    var doc: Int?

    @Option(name: .customLong("tokenizer"), help: "A tokenizer to decode the document with.")
    var tokenizerPath: String?

    @Option(help: "Print at most this many ids of the document.")
    var limit: Int = 64

    @Flag(name: .customLong("no-verify"), help: "Do not check .bin/.idx against the SHA-256 in the manifest (PREFIX.json).")
    var noVerify = false

    func run() throws {
        try reportingErrors {
            try verifyDataset(prefix, noVerify: noVerify, command: "inspect")
            let dataset = try IndexedDatasetReader(prefix: prefix)
            let tokens = dataset.tokenCount
            let lengths = dataset.sequenceLengths
            print("\(prefix): \(dataset.dtype), \(formatCount(dataset.documentCount)) documents, \(formatCount(dataset.sequenceCount)) sequences, \(formatCount(tokens)) tokens")
            if !lengths.isEmpty {
                let sorted = lengths.sorted()
                print("sequence length: min \(sorted.first!), median \(sorted[sorted.count / 2]), max \(sorted.last!), mean \(String(format: "%.1f", Double(tokens) / Double(lengths.count)))")
            }
            guard let doc else { return }
            guard doc >= 0 && doc < dataset.documentCount else {
                throw ValidationError("--doc must be between 0 and \(dataset.documentCount - 1).")
            }
            let ids = dataset.document(doc)
            print("document \(doc): \(ids.count) tokens: [" + ids.prefix(limit).map(String.init).joined(separator: ", ") + (ids.count > limit ? ", …]" : "]"))
            if let tokenizerPath {
                let tokenizer = try Tokenizer.load(path: tokenizerPath)
                print(try tokenizer.decode(ids))
            }
        }
    }
}
