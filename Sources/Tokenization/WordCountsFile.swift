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
