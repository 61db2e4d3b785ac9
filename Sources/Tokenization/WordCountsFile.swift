// Word-count files: the counting step's output, so a large corpus can be counted in shards (on many
// machines) and trained from the merged counts.
// Format (all integers little-endian):
//   bytes 0..<8   magic "TMWORDS\0"
//   u32           version = 1
//   u64           N, the number of entries
//   N entries     u32 length L, L bytes of the word (raw UTF-8 bytes of a pre-token), u64 count
// Read checks the magic, the version, and that the entries end exactly at the end of the file.

import Foundation

extension WordCounts {
    static let magic: [UInt8] = Array("TMWORDS\0".utf8)

    /// The file bytes of these counts.
    public func serialized() -> [UInt8] {
        var out = Self.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        u32(1)
        u64(UInt64(distinct))
        forEach { bytes, c in u32(UInt32(bytes.count)); out.append(contentsOf: bytes); u64(c) }
        return out
    }

    /// Counts read from a file written by `serialized()`.
    /// - Throws: `TokenizerError.invalid` naming the file and byte offset of the problem.
    public static func read(path: String) throws -> WordCounts {
        try fromSerialized(try readFile(path), path: path)
    }

    /// Counts from the bytes `serialized()` wrote; `path` names them in errors.
    public static func fromSerialized(_ data: [UInt8], path: String = "<counts>") throws -> WordCounts {
        var counts = WordCounts()
        try data.withUnsafeBytes { raw in
            var i = 0
            func need(_ n: Int) throws {
                if i + n > raw.count { throw TokenizerError.invalid(path: path, "truncated at byte \(i)", hint: "the file is not a complete word-count file") }
            }
            func u32() throws -> UInt32 { try need(4); defer { i += 4 }; return UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self)) }
            func u64() throws -> UInt64 { try need(8); defer { i += 8 }; return UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) }
            try need(8)
            guard Array(raw[0 ..< 8]) == magic else { throw TokenizerError.invalid(path: path, "not a word-count file (bad magic)", hint: "write one with train-tokenizer --save-counts") }
            i = 8
            let version = try u32()
            guard version == 1 else { throw TokenizerError.invalid(path: path, "word-count file version \(version) is not supported (expected 1)", hint: nil) }
            let n = try u64()
            let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for _ in 0 ..< n {
                let len = Int(try u32())
                try need(len)
                let start = i
                i += len
                let c = try u64()
                counts.add(base + start, len, count: c)
            }
            guard i == raw.count else { throw TokenizerError.invalid(path: path, "\(raw.count - i) unexpected bytes after the last entry", hint: nil) }
        }
        return counts
    }
}

// MARK: Spilling: sorted runs merged by streaming

extension WordCounts {
    /// The serialized counts with entries sorted by their bytes (a run for `mergeSortedRuns`).
    public func sortedSerialized() -> [UInt8] {
        var out: [UInt8] = []
        writeSorted { out.append(contentsOf: $0) }
        return out
    }

    /// Writes what `sortedSerialized()` returns in pieces of about 1 MiB, holding 4 bytes a word
    /// beside the counts (the sort order) rather than a copy of them.
    public func writeSorted(_ write: ([UInt8]) throws -> Void) rethrows {
        let order = table.entriesSortedByBytes()
        var out = Self.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        u32(1)
        u64(UInt64(order.count))
        for e in order {
            table.withEntry(Int(e)) { bytes, k in u32(UInt32(bytes.count)); out.append(contentsOf: bytes); u64(counts[Int(k)]) }
            if out.count >= 1 << 20 { try write(out); out.removeAll(keepingCapacity: true) }
        }
        if !out.isEmpty { try write(out) }
    }
}

/// Reads the entries of a word-count file one at a time, with a 256 KiB buffer (up to twice that held).
final class WordCountsRunReader {
    let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var remaining: UInt64 = 0
    private var eof = false
    /// The current entry (nil when the run is exhausted).
    private(set) var current: (bytes: [UInt8], count: UInt64)?

    /// Bytes read at a time; a reader holds up to twice that.
    static let chunkBytes = 1 << 18

    init(path: String) throws {
        self.path = path
        guard let h = FileHandle(forReadingAtPath: path) else { throw TokenizerError.io(path: path, "cannot open the word-count file") }
        handle = h
        let header = try take(20)
        guard Array(header[0 ..< 8]) == WordCounts.magic else { throw TokenizerError.invalid(path: path, "not a word-count file (bad magic)", hint: nil) }
        let version = header[8 ..< 12].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        guard version == 1 else { throw TokenizerError.invalid(path: path, "word-count file version \(version) is not supported (expected 1)", hint: nil) }
        remaining = header[12 ..< 20].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        try advance()
    }

    deinit { try? handle.close() }

    private func take(_ n: Int) throws -> ArraySlice<UInt8> {
        while buffer.count - position < n && !eof {
            let chunk = handle.readData(ofLength: Self.chunkBytes)
            if chunk.isEmpty { eof = true; break }
            buffer.removeFirst(position)
            position = 0
            buffer.append(contentsOf: chunk)
        }
        guard buffer.count - position >= n else { throw TokenizerError.invalid(path: path, "truncated word-count file", hint: nil) }
        defer { position += n }
        return buffer[position ..< position + n]
    }

    /// Moves to the next entry.
    func advance() throws {
        guard remaining > 0 else { current = nil; return }
        remaining -= 1
        let len = Int(try take(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
        let bytes = Array(try take(len))
        let count = try take(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        current = (bytes, count)
    }
}

/// The memory `mergeSortedRuns` holds for each run, at most.
public let runReaderBytes = 2 * WordCountsRunReader.chunkBytes

/// Merges sorted runs (from `sortedSerialized()`), summing equal words, and calls `body` with each
/// distinct word in byte order. Memory: one buffer (`runReaderBytes`) and one entry per run.
/// - Complexity: O(total entries × runs) comparisons (runs are few).
public func mergeSortedRuns(_ paths: [String], _ body: ([UInt8], UInt64) throws -> Void) throws {
    let readers = try paths.map { try WordCountsRunReader(path: $0) }
    while true {
        var smallest: [UInt8]? = nil
        for r in readers {
            if let c = r.current, smallest == nil || c.bytes.lexicographicallyPrecedes(smallest!) { smallest = c.bytes }
        }
        guard let word = smallest else { return }
        var total: UInt64 = 0
        for r in readers where r.current?.bytes == word {
            total &+= r.current!.count
            try r.advance()
        }
        try body(word, total)
    }
}

/// Streams the merge of sorted runs into one word-count file at `output` (written by `write`).
public func mergeSortedRuns(_ paths: [String], write: ([UInt8]) throws -> Void) throws {
    // Pass 1 counts the distinct words (the header needs N); pass 2 writes them.
    var n: UInt64 = 0
    try mergeSortedRuns(paths) { _, _ in n += 1 }
    var header = WordCounts.magic
    withUnsafeBytes(of: UInt32(1).littleEndian) { header.append(contentsOf: $0) }
    withUnsafeBytes(of: n.littleEndian) { header.append(contentsOf: $0) }
    try write(header)
    var chunk: [UInt8] = []
    try mergeSortedRuns(paths) { word, c in
        withUnsafeBytes(of: UInt32(word.count).littleEndian) { chunk.append(contentsOf: $0) }
        chunk.append(contentsOf: word)
        withUnsafeBytes(of: c.littleEndian) { chunk.append(contentsOf: $0) }
        if chunk.count >= 1 << 20 { try write(chunk); chunk.removeAll(keepingCapacity: true) }
    }
    if !chunk.isEmpty { try write(chunk) }
}
