// Reads many inputs — files, directories, globs, stdin — as one stream of record batches.
// Policy: directories are walked in sorted order and only corpus files are taken (.jsonl, .json,
// .ndjson, .txt, optionally with .zst/.zstd/.gz); a glob that matches nothing is an error; the record
// layout comes from the file name after its compression suffix, or, when the name says nothing, from
// the first decompressed byte ('{' means JSON lines). Compression always comes from the magic bytes.
// Memory: one read buffer (4 MiB, more only for a longer record) per open input; inputs are opened
// one at a time.

import Foundation

/// Expands the command line's inputs: "-" is stdin; no inputs means stdin; directories are walked;
/// arguments with `*`, `?` or `[` that name no file are globs.
/// - Throws: `CorpusError(.noInput)` for a missing path or a glob without matches.
public func expandInputs(_ arguments: [String]) throws -> [String] {
    if arguments.isEmpty { return ["-"] }
    var result: [String] = []
    let fm = FileManager.default
    for arg in arguments {
        if arg == "-" { result.append(arg); continue }
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: arg, isDirectory: &isDir) {
            if isDir.boolValue { result.append(contentsOf: try walk(arg)) } else { result.append(arg) }
            continue
        }
        if arg.contains(where: { "*?[".contains($0) }) {
            let matches = globPaths(arg)
            if matches.isEmpty {
                throw CorpusError(.noInput, at: SourceLocation(path: arg), "no file matches this pattern")
            }
            for m in matches {
                if fm.fileExists(atPath: m, isDirectory: &isDir), isDir.boolValue { result.append(contentsOf: try walk(m)) }
                else { result.append(m) }
            }
            continue
        }
        throw CorpusError(.noInput, at: SourceLocation(path: arg), "no such file or directory")
    }
    return result
}

/// Whether a file name looks like a corpus file this package reads.
public func isCorpusFileName(_ name: String) -> Bool {
    if name.lowercased().hasSuffix(".tokenmill.json") { return false }  // `normalize`'s sidecar, not a corpus
    let base = stripCompressionSuffix(name).lowercased()
    return [".jsonl", ".json", ".ndjson", ".txt"].contains { base.hasSuffix($0) }
}

func stripCompressionSuffix(_ name: String) -> String {
    for suffix in [".zst", ".zstd", ".gz"] where name.lowercased().hasSuffix(suffix) {
        return String(name.dropLast(suffix.count))
    }
    return name
}

private func walk(_ dir: String) throws -> [String] {
    guard let e = FileManager.default.enumerator(atPath: dir) else {
        throw CorpusError(.io, at: SourceLocation(path: dir), "cannot list the directory")
    }
    var files: [String] = []
    while let rel = e.nextObject() as? String {
        let name = (rel as NSString).lastPathComponent
        if name.hasPrefix(".") { if (e.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { e.skipDescendants() }; continue }
        if (e.fileAttributes?[.type] as? FileAttributeType) == .typeRegular, isCorpusFileName(name) {
            files.append(dir.hasSuffix("/") ? dir + rel : dir + "/" + rel)
        }
    }
    return files.sorted()
}

private func globPaths(_ pattern: String) -> [String] {
    var g = glob_t()
    defer { globfree(&g) }
    guard glob(pattern, 0, nil, &g) == 0 else { return [] }
    return (0 ..< Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
}

/// The layout of an input, from its name or (when the name is silent) its first byte.
func detectLayout(path: String, firstBytes: [UInt8], textLayout: RecordLayout) -> RecordLayout {
    let base = stripCompressionSuffix(path).lowercased()
    if [".jsonl", ".json", ".ndjson"].contains(where: { base.hasSuffix($0) }) { return .jsonl }
    if base.hasSuffix(".txt") || base.hasSuffix(".text") || base.hasSuffix(".md") { return textLayout }
    let first = firstBytes.first { !(($0 == 0x20) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
    return first == UInt8(ascii: "{") ? .jsonl : textLayout
}

/// Counts the bytes a source hands out.
final class CountingByteSource: ByteSource {
    let base: ByteSource
    private(set) var count: Int64 = 0
    var path: String { base.path }
    init(base: ByteSource) { self.base = base }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try base.read(into: buffer)
        count += Int64(n)
        return n
    }
}

/// Record batches from a list of inputs, one input after another.
public final class CorpusReader {
    public let inputs: [String]
    /// The inputs this reader opens (all of them unless a shard's range was given).
    public let files: Range<Int>
    public let options: ReadOptions
    public let batchBytes: Int
    private var index: Int
    private var current: RecordReader?
    private var currentFile: FileByteSource?
    private var currentDecoded: CountingByteSource?
    private var warn: (String) -> Void
    /// Inputs finished so far, and the compressed bytes of those inputs (for progress).
    public private(set) var filesDone = 0
    private var bytesReadDone: Int64 = 0, decodedDone: Int64 = 0

    /// - Parameters:
    ///   - inputs: paths as returned by `expandInputs`.
    ///   - files: the inputs to read (an `InputShardPlan`'s range); nil: all. Batches keep their input's
    ///     position in the whole list (`RecordBatch.inputIndex`), so a shard numbers them as one run does.
    ///   - warn: receives one-line warnings (an empty file, a compression that contradicts the name).
    public init(inputs: [String], files: Range<Int>? = nil, options: ReadOptions, batchBytes: Int = 1 << 20, warn: @escaping (String) -> Void) {
        self.inputs = inputs
        self.files = files ?? 0 ..< inputs.count
        precondition(self.files.clamped(to: 0 ..< inputs.count) == self.files, "input range \(self.files) outside 0..<\(inputs.count)")
        self.options = options
        self.batchBytes = batchBytes
        self.warn = warn
        index = self.files.lowerBound
    }

    /// The bytes read from the input files so far (compressed, as stored): what this reader cost in I/O.
    public var inputBytesRead: Int64 { bytesReadDone + (currentFile?.bytesRead ?? 0) }
    /// The bytes read after decompression so far (equal to `inputBytesRead` for uncompressed inputs).
    public var decompressedBytesRead: Int64 { decodedDone + (currentDecoded?.count ?? 0) }

    /// The next batch of records, or nil when every input is read.
    public func nextBatch() throws -> RecordBatch? {
        while true {
            if let current, var batch = try current.next() {
                batch.inputIndex = index - 1
                return batch
            }
            if current != nil {
                current = nil; filesDone += 1
                bytesReadDone += currentFile?.bytesRead ?? 0; currentFile = nil
                decodedDone += currentDecoded?.count ?? 0; currentDecoded = nil
            }
            guard index < files.upperBound else { return nil }
            let path = inputs[index]
            index += 1
            current = try open(path)
        }
    }

    private func open(_ path: String) throws -> RecordReader {
        let file = try FileByteSource(path: path)
        currentFile = file
        let (opened, compression) = try openByteSource(file: file)
        let source = CountingByteSource(base: opened)
        currentDecoded = source
        let lower = path.lowercased()
        if compression == .gzip && (lower.hasSuffix(".zst") || lower.hasSuffix(".zstd")) {
            warn("warning: \(path): gzip data in a file named .zst; reading it as gzip")
        } else if compression == .zstd && lower.hasSuffix(".gz") {
            warn("warning: \(path): zstd data in a file named .gz; reading it as zstd")
        } else if compression == .none && (lower.hasSuffix(".zst") || lower.hasSuffix(".gz")) {
            warn("warning: \(path): not compressed despite its name; reading it as plain text")
        }
        // Sniff the first decompressed bytes for the layout, then put them back.
        var head = [UInt8](repeating: 0, count: 256)
        var got = 0
        while got < head.count {
            let n = try head.withUnsafeMutableBytes { try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if n == 0 { break }
            got += n
        }
        head.removeLast(head.count - got)
        if got == 0 { warn("warning: \(source.path): empty input, no documents") }
        let layout = detectLayout(path: path == "-" ? "" : path, firstBytes: head, textLayout: options.textLayout)
        return RecordReader(source: PrefixedByteSource(prefix: head, base: source), layout: layout, batchBytes: batchBytes)
    }

    /// Decodes every document sequentially (for simple uses and tests; the CLI decodes in parallel).
    public func forEachDocument(_ body: (Document) throws -> Void) throws {
        while let batch = try nextBatch() {
            for doc in try decodeDocuments(batch, options: options).documents { try body(doc) }
        }
    }
}
