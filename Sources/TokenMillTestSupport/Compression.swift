// Test helpers that make compressed fixtures with the real libraries: zstd frames (one-shot
// ZSTD_compress), zstd skippable frames, and gzip members (zlib's gzwrite).
import CZlib
import CZstd
import Foundation

/// One zstd frame holding `data`.
public func zstdFrame(_ data: [UInt8], level: Int32 = 3) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: ZSTD_compressBound(data.count))
    let n = out.withUnsafeMutableBytes { o in
        data.withUnsafeBytes { i in ZSTD_compress(o.baseAddress, o.count, i.baseAddress, i.count, level) }
    }
    precondition(ZSTD_isError(n) == 0, "ZSTD_compress failed")
    return Array(out.prefix(n))
}

/// A zstd skippable frame (magic 0x184D2A5?, 4-byte little-endian size, payload).
public func zstdSkippableFrame(_ payload: [UInt8], variant: UInt8 = 0) -> [UInt8] {
    let size = UInt32(payload.count)
    return [0x50 | (variant & 0xF), 0x2A, 0x4D, 0x18,
            UInt8(size & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 24)] + payload
}

/// Writes `members` as a gzip file with one member each (concatenated, as `cat a.gz b.gz` makes).
public func writeGzip(_ members: [[UInt8]], to url: URL) {
    for (i, data) in members.enumerated() {
        guard let f = gzopen(url.path, i == 0 ? "wb" : "ab") else { preconditionFailure("gzopen failed") }
        _ = data.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
        gzclose(f)
    }
}
