// Documents: the text of one record, plus what is needed to write the record back with only the text
// changed. Decoding a batch of records into documents is pure and runs on any thread.
// Policy: invalid UTF-8 (and lone surrogate escapes) is replaced with U+FFFD and counted by default;
// `InvalidUTF8Policy.skip` drops the document and `.fail` stops. Structure errors (not JSON, missing or
// non-string text field, nesting too deep) stop by default; `ErrorPolicy.skip` drops the record and
// counts it by reason.

/// What to do with invalid UTF-8.
public enum InvalidUTF8Policy: String, Sendable, CaseIterable {
    case replace, skip, fail
}

/// What to do with a record whose structure is wrong.
public enum ErrorPolicy: String, Sendable, CaseIterable {
    case fail, skip
}

/// How inputs are read.
public struct ReadOptions: Sendable {
    /// The dotted path of the text field in JSON records (`text`, `content.body`, ...).
    public var textField: String = "text"
    public var invalidUTF8: InvalidUTF8Policy = .replace
    public var onError: ErrorPolicy = .fail
    /// How plain-text inputs are cut into documents.
    public var textLayout: RecordLayout = .textFile
    /// Deepest JSON nesting accepted.
    public var maxDepth = 512

    public init() {}

    public var textPath: [String] { textField.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
}

/// One document: its text and where it came from.
public struct Document: Sendable {
    public var text: String
    /// The JSON record this text came from (without its line terminator), nil for plain text.
    public var record: [UInt8]?
    /// The byte range of the text value (with quotes) in `record`.
    public var textSpan: Range<Int>
    public var location: SourceLocation
    /// The position of the document's input in the input list; with `location.line`, a key that
    /// identifies the document whatever the threads or shards (used to seed per-document choices).
    public var inputIndex: Int = 0
    /// Invalid UTF-8 sequences and lone surrogates replaced with U+FFFD while reading.
    public var repairs: Int

    public init(text: String, record: [UInt8]? = nil, textSpan: Range<Int> = 0 ..< 0, location: SourceLocation, repairs: Int = 0) {
        self.text = text
        self.record = record
        self.textSpan = textSpan
        self.location = location
        self.repairs = repairs
    }

    /// The string value of another field of the record (numbers and booleans as their JSON text),
    /// or nil when the field is absent, null, an object or an array.
    public func field(_ dottedPath: String) -> String? {
        guard let record else { return nil }
        let path = dottedPath.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return record.withUnsafeBytes { raw -> String? in
            guard let (range, kind) = (try? scanJSONRecord(raw, path: path)) ?? nil else { return nil }
            let token = UnsafeRawBufferPointer(rebasing: raw[range])
            switch kind {
            case .string: return String(decoding: decodeJSONString(token).bytes, as: UTF8.self)
            case .number, .bool: return String(decoding: token, as: UTF8.self)
            default: return nil
            }
        }
    }

    /// Appends this document as one JSON line: the original record with the text value replaced by
    /// `text` (every other byte unchanged), or `{"<field>": text}` for plain-text inputs.
    public func appendJSONLine(to out: inout [UInt8], textPath: [String]) {
        var text = self.text
        text.withUTF8 { utf8 in
            let t = UnsafeRawBufferPointer(utf8)
            if let record {
                out.append(contentsOf: record[..<textSpan.lowerBound])
                appendJSONString(t, to: &out)
                out.append(contentsOf: record[textSpan.upperBound...])
            } else {
                for key in textPath {
                    out.append(UInt8(ascii: "{"))
                    Array(key.utf8).withUnsafeBytes { appendJSONString($0, to: &out) }
                    out.append(UInt8(ascii: ":"))
                }
                appendJSONString(t, to: &out)
                out.append(contentsOf: repeatElement(UInt8(ascii: "}"), count: textPath.count))
            }
        }
        out.append(0x0A)
    }
}

/// Documents decoded from one batch, with what was dropped on the way.
public struct DecodedBatch: Sendable {
    public var documents: [Document] = []
    /// Records dropped, by reason (only with `ErrorPolicy.skip` or `InvalidUTF8Policy.skip`).
    public var skipped: [CorpusErrorKind: Int] = [:]
    /// The first few errors behind the skips, for warnings.
    public var skipErrors: [CorpusError] = []
    /// Invalid UTF-8 sequences and lone surrogates replaced.
    public var repairs = 0
    public var repairedDocuments = 0
    /// Bytes of the records read (decompressed), line terminators included.
    public var recordBytes = 0
}

/// Decodes every record of `batch` into documents according to `options`.
/// - Throws: the first `CorpusError` that the policies make fatal.
/// - Complexity: O(n) in the batch's bytes.
public func decodeDocuments(_ batch: RecordBatch, options: ReadOptions) throws -> DecodedBatch {
    var result = DecodedBatch()
    result.documents.reserveCapacity(batch.count)
    let path = options.textPath
    result.recordBytes = batch.bytes.count
    try batch.bytes.withUnsafeBytes { all in
        for i in 0 ..< batch.count {
            var end = batch.ends[i]
            if batch.layout == .jsonl {  // drop the line terminator
                if end > batch.starts[i], all[end - 1] == 0x0A { end -= 1 }
                if end > batch.starts[i], all[end - 1] == 0x0D { end -= 1 }
            }
            let rec = UnsafeRawBufferPointer(rebasing: all[batch.starts[i] ..< end])
            let offset = batch.streamOffset + Int64(batch.starts[i])
            let location = SourceLocation(path: batch.path, line: batch.lines[i])
            do {
                if var doc = try decodeRecord(rec, layout: batch.layout, path: path, options: options, location: location, offset: offset) {
                    doc.inputIndex = batch.inputIndex
                    if doc.repairs > 0 { result.repairs += doc.repairs; result.repairedDocuments += 1 }
                    result.documents.append(doc)
                }
            } catch let error as CorpusError {
                let fatal = error.kind == .invalidUTF8 ? options.invalidUTF8 == .fail : options.onError == .fail
                if fatal { throw error }
                result.skipped[error.kind, default: 0] += 1
                if result.skipErrors.count < 5 { result.skipErrors.append(error) }
            }
        }
    }
    return result
}

private func decodeRecord(_ rec: UnsafeRawBufferPointer, layout: RecordLayout, path: [String], options: ReadOptions,
                          location: SourceLocation, offset: Int64) throws -> Document? {
    var located = location
    var textBytes: [UInt8]
    var span = 0 ..< 0
    var lone = 0
    var record: [UInt8]? = nil
    if layout == .jsonl {
        let found: (range: Range<Int>, kind: JSONValueKind)?
        do {
            found = try scanJSONRecord(rec, path: path, maxDepth: options.maxDepth)
        } catch let e as JSONSyntaxError {
            located.byteOffset = offset + Int64(e.offset)
            throw CorpusError(e.tooDeep ? .tooDeep : .notJSON, at: located, (e.tooDeep ? "" : "not JSON: ") + e.message,
                              hint: options.onError == .fail ? "use --on-error skip to skip such records" : nil)
        }
        guard let (range, kind) = found else {
            throw CorpusError(.missingField, at: located, "no field '\(options.textField)' in the record",
                              hint: "choose the field with --text-field")
        }
        guard kind == .string else {
            throw CorpusError(.notString, at: located, "field '\(options.textField)' is \(kind == .null ? "null" : "a JSON \(kind.rawValue)"), not a string")
        }
        (textBytes, lone) = decodeJSONString(UnsafeRawBufferPointer(rebasing: rec[range]))
        span = range
        record = Array(rec)
    } else {
        textBytes = Array(rec)
    }
    // UTF-8: validate; repair, skip or fail.
    var repairs = lone
    var text: String
    if let valid = String(validating: textBytes, as: UTF8.self) {
        text = valid
    } else {
        let bad = firstInvalidUTF8(textBytes)
        if options.invalidUTF8 != .replace {
            var at = located
            at.byteOffset = layout == .jsonl ? nil : offset + Int64(bad)
            throw CorpusError(.invalidUTF8, at: at, "invalid UTF-8 at byte \(bad) of the text",
                              hint: options.invalidUTF8 == .fail ? "use --invalid-utf8 replace to repair it" : nil)
        }
        text = String(decoding: textBytes, as: UTF8.self)
        repairs += countReplacement(text.utf8) - countReplacement(textBytes)
    }
    if lone > 0 && options.invalidUTF8 != .replace {
        throw CorpusError(.invalidUTF8, at: located, "lone surrogate escape in the text field",
                          hint: options.invalidUTF8 == .fail ? "use --invalid-utf8 replace to repair it" : nil)
    }
    return Document(text: text, record: record, textSpan: span, location: location, repairs: repairs)
}

/// Counts U+FFFD (EF BF BD) in UTF-8 bytes.
func countReplacement<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8, C.Index == Int {
    var n = 0
    var i = bytes.startIndex
    while i + 2 < bytes.endIndex {
        if bytes[i] == 0xEF && bytes[i + 1] == 0xBF && bytes[i + 2] == 0xBD { n += 1; i += 3 } else { i += 1 }
    }
    return n
}

private func countReplacement(_ view: String.UTF8View) -> Int { countReplacement(Array(view)) }

/// The offset of the first byte that starts an invalid UTF-8 sequence, or `bytes.count`.
public func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
    var i = 0
    let n = bytes.count
    while i < n {
        let b = bytes[i]
        if b < 0x80 { i += 1; continue }
        var need = 0
        var minCP: UInt32 = 0
        var cp: UInt32 = 0
        switch b {
        case 0xC2...0xDF: need = 1; cp = UInt32(b & 0x1F); minCP = 0x80
        case 0xE0...0xEF: need = 2; cp = UInt32(b & 0x0F); minCP = 0x800
        case 0xF0...0xF4: need = 3; cp = UInt32(b & 0x07); minCP = 0x10000
        default: return i
        }
        guard i + need < n else { return i }
        for k in 1 ... need {
            let c = bytes[i + k]
            if c & 0xC0 != 0x80 { return i }
            cp = cp << 6 | UInt32(c & 0x3F)
        }
        if cp < minCP || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000) { return i }
        i += need + 1
    }
    return n
}
