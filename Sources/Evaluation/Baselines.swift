// Compression baselines for the bits-per-byte report: for each subset, the size of `zstd -19`,
// `zstd -19 --long`, `xz -9` and `xz -9e` on the concatenation of the subset's original texts (UTF-8,
// no separators), as bits per byte of input. A model that does not beat them has learned little.
// Policy: texts are spilled to one temporary file per subset while the model scores (memory stays flat),
// then compressed one subset at a time. Both run in-process: zstd through libzstd as its CLI sets it
// (level 19, the source size pledged, a 32-bit checksum; --long = long-distance matching with a 2^27
// window), xz through liblzma as `xz -9 -T1` / `xz -9e -T1` does (the .xz stream encoder with the preset,
// CRC64 check; single-threaded, so the output does not depend on the core count; a test checks the
// sizes against the `xz` binary).
// Costs: disk = the subsets' text; time = the compressors' (xz -9e is the slowest, about 1 MB/s).
import CLZMA
import CZstd
import Foundation

/// A compressor failure (an I/O error, a compressor's error code), with a hint.
public struct BaselineError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// The four compressors, in report order.
public let baselineCompressors = ["zstd -19", "zstd -19 --long", "xz -9", "xz -9e"]

public final class CompressionBaselines {
    private let directory: URL
    private var files: [String: (handle: FileHandle, path: String, bytes: Int)] = [:]

    /// Creates a private temporary directory for the spill files.
    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokenmill-bpb-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw BaselineError(message: "\(directory.path): cannot create a temporary directory: \(error.localizedDescription)")
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Appends a document's original text to its subset's file.
    public func append(subset: String, text: String) throws {
        if files[subset] == nil {
            let path = directory.appendingPathComponent("subset-\(files.count)").path
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw BaselineError(message: "\(path): cannot create")
            }
            files[subset] = (h, path, 0)
        }
        let data = Data(text.utf8)
        do { try files[subset]!.handle.write(contentsOf: data) } catch {
            throw BaselineError(message: "\(files[subset]!.path): write failed: \(error.localizedDescription)")
        }
        files[subset]!.bytes += data.count
    }

    /// Per subset: compressor → BPB (8 · compressed bytes / input bytes), plus "overall" (total
    /// compressed bits / total bytes). Subsets without text are absent.
    public func compute(progress: (String) -> Void = { _ in }) throws -> [String: [(String, Double)]] {
        var result: [String: [(String, Double)]] = [:]
        var totalIn = 0
        var totalOut = [Int](repeating: 0, count: baselineCompressors.count)
        for name in files.keys.sorted() {
            let f = files[name]!
            try f.handle.close()
            guard f.bytes > 0 else { continue }
            progress("compressing \(name) (\(f.bytes) bytes)")
            let sizes = [try zstdSize(f.path, bytes: f.bytes, long: false), try zstdSize(f.path, bytes: f.bytes, long: true),
                         try xzSize(f.path, preset: 9, extreme: false), try xzSize(f.path, preset: 9, extreme: true)]
            totalIn += f.bytes
            for (k, s) in sizes.enumerated() { totalOut[k] += s }
            result[name] = zip(baselineCompressors, sizes).map { ($0, 8 * Double($1) / Double(f.bytes)) }
        }
        if totalIn > 0 {
            result["overall"] = zip(baselineCompressors, totalOut).map { ($0, 8 * Double($1) / Double(totalIn)) }
        }
        return result
    }
}

/// Compressed size of a file with libzstd at level 19 (as `zstd -19 [--long]` writes it).
/// - Complexity: the compressor's; reads the file in 1 MiB chunks.
public func zstdSize(_ path: String, bytes: Int, long: Bool) throws -> Int {
    guard let cctx = ZSTD_createCCtx() else { throw BaselineError(message: "zstd: cannot allocate a context") }
    defer { ZSTD_freeCCtx(cctx) }
    func check(_ code: Int) throws {
        if ZSTD_isError(code) != 0 { throw BaselineError(message: "zstd: \(String(cString: ZSTD_getErrorName(code)))") }
    }
    try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 19))
    try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1))
    if long {
        try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1))
        try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 27))
    }
    try check(ZSTD_CCtx_setPledgedSrcSize(cctx, UInt64(bytes)))
    guard let input = FileHandle(forReadingAtPath: path) else { throw BaselineError(message: "\(path): cannot open") }
    defer { try? input.close() }
    let outCapacity = ZSTD_CStreamOutSize()
    var out = [UInt8](repeating: 0, count: outCapacity)
    var total = 0
    var finished = false
    while !finished {
        let chunk = (try? input.read(upToCount: 1 << 20)) ?? Data()
        let last = chunk.isEmpty
        try chunk.withUnsafeBytes { raw in
            var inBuf = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
            while true {
                let remaining = try out.withUnsafeMutableBytes { o -> Int in
                    var outBuf = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
                    let r = ZSTD_compressStream2(cctx, &outBuf, &inBuf, last ? ZSTD_e_end : ZSTD_e_continue)
                    try check(r)
                    total += outBuf.pos
                    return r
                }
                if last ? remaining == 0 : inBuf.pos == inBuf.size { break }
            }
        }
        finished = last
    }
    return total
}

/// Compressed size of a file with liblzma's .xz stream encoder at `preset` (`extreme`: the `e` of
/// `xz -9e`), CRC64 check — what `xz -PRESET -T1 -c` writes.
/// - Complexity: the compressor's; reads the file in 1 MiB chunks.
public func xzSize(_ path: String, preset: UInt32, extreme: Bool) throws -> Int {
    var stream = lzma_stream()
    let flags = preset | (extreme ? CLZMA_PRESET_EXTREME : 0)
    let initialized = lzma_easy_encoder(&stream, flags, LZMA_CHECK_CRC64)
    guard initialized == LZMA_OK else { throw BaselineError(message: "xz: liblzma cannot start an encoder (error \(initialized.rawValue))") }
    defer { lzma_end(&stream) }
    guard let input = FileHandle(forReadingAtPath: path) else { throw BaselineError(message: "\(path): cannot open") }
    defer { try? input.close() }
    var out = [UInt8](repeating: 0, count: 1 << 16)
    var total = 0
    while true {
        let chunk: Data
        do { chunk = try input.read(upToCount: 1 << 20) ?? Data() } catch {
            throw BaselineError(message: "\(path): read failed: \(error.localizedDescription)")
        }
        let action = chunk.isEmpty ? LZMA_FINISH : LZMA_RUN
        let done = try chunk.withUnsafeBytes { raw -> Bool in
            stream.next_in = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
            stream.avail_in = raw.count
            while true {
                let r = out.withUnsafeMutableBufferPointer { o -> lzma_ret in
                    stream.next_out = o.baseAddress
                    stream.avail_out = o.count
                    let r = lzma_code(&stream, action)
                    total += o.count - stream.avail_out
                    return r
                }
                if r == LZMA_STREAM_END { return true }
                guard r == LZMA_OK else { throw BaselineError(message: "xz: liblzma failed on \(path) (error \(r.rawValue))") }
                if action == LZMA_RUN && stream.avail_in == 0 { return false }
            }
        }
        if done { return total }
    }
}
