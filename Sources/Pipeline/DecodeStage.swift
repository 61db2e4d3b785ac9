// The decode stage, the inverse of encode: JSON lines whose ids field holds token ids → JSON lines with
// that field replaced by the decoded text (other fields kept in order). Bytes that are not valid UTF-8
// (a character cut between tokens) become U+FFFD, as in Hugging Face.
// Costs: each record is parsed into a `JSONValue` tree and written back.
import CorpusIO
import Tokenization

/// A record that cannot be decoded, named by file and line.
public struct DecodeError: Error, Sendable, CustomStringConvertible {
    /// "path:line".
    public var location: String
    public var message: String
    public var description: String { "\(location): \(message)" }
}

/// Decodes JSON lines of ids into JSON lines of text.
public struct DecodeStage: RecordStage {
    public let tokenizer: Tokenizer
    public let idsField: String
    public let textField: String

    public init(tokenizer: Tokenizer, idsField: String = "ids", textField: String = "text") {
        self.tokenizer = tokenizer
        self.idsField = idsField
        self.textField = textField
    }

    public struct Output: Sendable {
        public var lines: [UInt8] = []
        public var records = 0, tokens = 0, bytes = 0
        public init() {}
    }

    /// - Throws: `DecodeError` for a record that is not an object, lacks the ids field, holds a
    ///   non-integer or an id outside the vocabulary.
    public func process(_ batch: RecordBatch) throws -> Output {
        var out = Output()
        out.records = batch.count
        for i in 0 ..< batch.count {
            var rec = Array(batch.bytes[batch.starts[i] ..< batch.ends[i]])
            while let l = rec.last, l == 0x0A || l == 0x0D { rec.removeLast() }
            if rec.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let location = "\(batch.path):\(batch.lines[i])"
            func fail(_ message: String) -> DecodeError { DecodeError(location: location, message: message) }
            guard case .object(let members) = try JSONValue.parse(rec, path: location) else { throw fail("not a JSON object") }
            var outMembers: [(String, JSONValue)] = []
            var found = false
            for (k, v) in members {
                guard k == idsField else { outMembers.append((k, v)); continue }
                guard case .array(let items) = v else { throw fail("field '\(idsField)' is not an array") }
                var ids: [Int] = []
                ids.reserveCapacity(items.count)
                for item in items {
                    guard case .number(let s) = item, let id = Int(s) else { throw fail("field '\(idsField)' holds a non-integer") }
                    ids.append(id)
                }
                let text: String
                do { text = try tokenizer.decode(ids) } catch { throw fail("\(error)") }
                out.tokens += ids.count
                out.bytes += text.utf8.count
                outMembers.append((textField, .string(text)))
                found = true
            }
            guard found else { throw fail("no field '\(idsField)'") }
            appendJSON(.object(outMembers), to: &out.lines)
            out.lines.append(0x0A)
        }
        return out
    }

    /// Decodes every record of `reader` into `output` (not committed).
    public func run(reader: CorpusReader, output: OutputFile, runner: DocumentRunner) throws -> Output {
        var total = Output()
        try runner.run(self, reader: reader) { r in
            try output.write(r.lines)
            total.records += r.records; total.tokens += r.tokens; total.bytes += r.bytes
            return (r.records, r.bytes)
        }
        return total
    }
}

extension DecodeStage.Output {
    /// The summary line of `tokenmill decode` (without the time).
    public var line: String {
        "decode: \(formatCount(records)) records, \(formatCount(tokens)) tokens → \(formatBytes(Int64(bytes)))"
    }
}
