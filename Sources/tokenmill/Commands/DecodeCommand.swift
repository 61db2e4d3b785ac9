// `tokenmill decode`: JSON lines of token ids → JSON lines of text, the inverse of `encode`,
// streaming, on all cores, in order.
import ArgumentParser
import CorpusIO
import Foundation
import Tokenization

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode JSON lines of token ids back into text, one JSON line {\"text\": ...} per record, in input order.",
        discussion: """
        Example: tokenmill decode --tokenizer tokenizer.json ids.jsonl.zst

        Each record's ids field (an array of integers) is replaced by the text field; other fields are \
        kept in order. An id outside the vocabulary is an error naming the file and line. Bytes that \
        are not valid UTF-8 (a character cut between tokens) become U+FFFD, as in Hugging Face.
        """
    )

    @Argument(help: "Input files (.jsonl, .jsonl.zst, .jsonl.gz); stdin when none or '-'.")
    var inputs: [String] = []

    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: [.short, .long], help: "The output file (.jsonl or .jsonl.zst); stdout when omitted or '-'.")
    var output: String?

    @Option(name: .customLong("ids-field"), help: "The field holding the ids.")
    var idsField = "ids"

    @Option(name: .customLong("text-field"), help: "The field the text is written to.")
    var textField = "text"

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            var readOptions = ReadOptions()
            readOptions.textLayout = .jsonl
            let reader = CorpusReader(inputs: try expandInputs(inputs), options: readOptions, warn: { printError($0) })
            let progress = progressOptions.makeReporter("decode")
            let out = try OutputFile(path: output)
            let idsKey = idsField, textKey = textField
            var records = 0, tokens = 0, bytes = 0
            try writing(to: out, progress: progress) {
                try orderedParallelMap(threads: progressOptions.workerThreads, next: { try reader.nextBatch() }, transform: { batch -> ([UInt8], Int, Int, Int) in
                    var lines: [UInt8] = []
                    var t = 0, b = 0
                    for i in 0 ..< batch.count {
                        var rec = Array(batch.bytes[batch.starts[i] ..< batch.ends[i]])
                        while let l = rec.last, l == 0x0A || l == 0x0D { rec.removeLast() }
                        if rec.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                        let where_ = "\(batch.path):\(batch.lines[i])"
                        guard case .object(let members) = try JSONValue.parse(rec, path: where_) else {
                            throw RuntimeFailure(description: "\(where_): not a JSON object")
                        }
                        var outMembers: [(String, JSONValue)] = []
                        var found = false
                        for (k, v) in members {
                            guard k == idsKey else { outMembers.append((k, v)); continue }
                            guard case .array(let items) = v else { throw RuntimeFailure(description: "\(where_): field '\(idsKey)' is not an array") }
                            var ids: [Int] = []
                            ids.reserveCapacity(items.count)
                            for item in items {
                                guard case .number(let s) = item, let id = Int(s) else { throw RuntimeFailure(description: "\(where_): field '\(idsKey)' holds a non-integer") }
                                ids.append(id)
                            }
                            let text: String
                            do { text = try tokenizer.decode(ids) } catch { throw RuntimeFailure(description: "\(where_): \(error)") }
                            t += ids.count
                            b += text.utf8.count
                            outMembers.append((textKey, .string(text)))
                            found = true
                        }
                        guard found else { throw RuntimeFailure(description: "\(where_): no field '\(idsKey)'") }
                        appendJSON(.object(outMembers), to: &lines)
                        lines.append(0x0A)
                    }
                    return (lines, batch.count, t, b)
                }, consume: { lines, n, t, b in
                    try out.write(lines)
                    records += n; tokens += t; bytes += b
                    progress.update(documents: records, bytes: Int64(bytes))
                })
            }
            printError("decode: \(formatCount(records)) records, \(formatCount(tokens)) tokens → \(formatBytes(Int64(bytes)))" + String(format: "; %.2f s", progress.elapsed))
        }
    }
}
