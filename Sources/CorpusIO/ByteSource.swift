// Byte sources: a file or stdin, optionally through zstd or gzip decompression.
// The compression is detected from the first bytes (magic numbers), never from the file name.
// Policy: everything streams through fixed buffers (1 MiB in, zstd's recommended size out), so memory
// does not grow with the input. Concatenated zstd frames, skippable frames and multi-member gzip files
// are read as one stream, as the zstd and gzip command-line tools do.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

/// A stream of bytes that is read front to back once.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// The name used in error messages.
    var path: String { get }
}

/// The compression a stream's first bytes announce.
public enum Compression: String, Sendable {
    case none, zstd, gzip

    /// Detects the compression from up to the first 4 bytes; other compressors are refused by name.
    static func detect(_ head: [UInt8], path: String) throws -> Compression {
        if head.count >= 4 {
            let magic = UInt32(head[0]) | UInt32(head[1]) << 8 | UInt32(head[2]) << 16 | UInt32(head[3]) << 24
            if magic == 0xFD2F_B528 { return .zstd }
            if magic & 0xFFFF_FFF0 == 0x184D_2A50 { return .zstd }  // skippable frame
        }
        if head.count >= 2, head[0] == 0x1F, head[1] == 0x8B { return .gzip }
        let others: [([UInt8], String)] = [([0xFD, 0x37, 0x7A, 0x58], "xz"), ([0x42, 0x5A, 0x68], "bzip2"),
                                           ([0x04, 0x22, 0x4D, 0x18], "lz4"), ([0x50, 0x4B, 0x03, 0x04], "zip")]
        for (m, name) in others where head.starts(with: m) {
            throw CorpusError(.unsupported, at: SourceLocation(path: path, byteOffset: 0),
                              "\(name)-compressed data is not supported",
                              hint: "decompress it first or recompress with zstd or gzip")
        }
        return .none
    }
}

/// Reads a file descriptor (a file or stdin) with plain read(2).
public final class FileByteSource: ByteSource {
    public let path: String
    private let fd: Int32
    private let owned: Bool
    /// Bytes read(2) has returned so far: the file's own (compressed) bytes.
    public private(set) var bytesRead: Int64 = 0

    /// Opens `path` for reading; "-" means stdin.
    public init(path: String) throws {
        if path == "-" {
            self.path = "<stdin>"; fd = 0; owned = false
            return
        }
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        owned = true
        if fd < 0 {
            throw CorpusError(.io, at: SourceLocation(path: path), "cannot open: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw CorpusError(.io, at: SourceLocation(path: path), "is a directory")
        }
    }

    deinit { if owned { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { bytesRead += Int64(n); return n }
            if errno == EINTR { continue }
            throw CorpusError(.io, at: SourceLocation(path: path), "read failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// Puts already-read bytes back in front of a source (used after sniffing the magic number).
final class PrefixedByteSource: ByteSource {
    let base: ByteSource
    private var prefix: [UInt8]
    private var used = 0
    var path: String { base.path }

    init(prefix: [UInt8], base: ByteSource) {
        self.prefix = prefix
        self.base = base
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if used < prefix.count {
            let n = min(buffer.count, prefix.count - used)
            prefix.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + used, byteCount: n)
            }
            used += n
            return n
        }
        return try base.read(into: buffer)
    }
}

/// Decompresses a zstd stream (ZSTD_decompressStream), frame after frame.
public final class ZstdByteSource: ByteSource {
    private let base: ByteSource
    private let dctx: OpaquePointer
    private var input: UnsafeMutableRawBufferPointer
    private var inPos = 0, inEnd = 0
    private var compressedOffset: Int64 = 0
    private var lastHint = 1  // zstd's "bytes still expected in the current frame"; 0 between frames
    private var eof = false
    public var path: String { base.path }

    public init(base: ByteSource) {
        self.base = base
        dctx = ZSTD_createDCtx()
        input = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(dctx)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var out = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while out.pos == 0 {
            if inPos == inEnd {
                if eof { break }
                let n = try base.read(into: input)
                if n == 0 { eof = true; break }
                inPos = 0; inEnd = n
            }
            var inb = ZSTD_inBuffer(src: input.baseAddress, size: inEnd, pos: inPos)
            let r = ZSTD_decompressStream(dctx, &out, &inb)
            compressedOffset += Int64(inb.pos - inPos)
            inPos = inb.pos
            if ZSTD_isError(r) != 0 {
                let name = String(cString: ZSTD_getErrorName(r))
                throw CorpusError(.compression, at: SourceLocation(path: path, byteOffset: compressedOffset),
                                  "zstd: \(name) (at compressed byte \(compressedOffset))")
            }
            lastHint = r
            if out.pos == buffer.count { break }
        }
        if out.pos == 0 && eof && lastHint != 0 {
            throw CorpusError(.truncated, at: SourceLocation(path: path, byteOffset: compressedOffset),
                              "zstd stream ends in the middle of a frame (at compressed byte \(compressedOffset))",
                              hint: "the file was cut short; re-download or re-create it")
        }
        return out.pos
    }
}

/// Decompresses gzip (RFC 1952) with zlib's inflate, member after member.
public final class GzipByteSource: ByteSource {
    private let base: ByteSource
    private var stream = z_stream()
    private var input: UnsafeMutableRawBufferPointer
    private var inEnd = 0
    private var compressedOffset: Int64 = 0
    private var inMember = false
    private var eof = false
    public var path: String { base.path }

    public init(base: ByteSource) throws {
        self.base = base
        input = .allocate(byteCount: 1 << 17, alignment: 16)
        if CZlib_inflateInit2(&stream, 15 + 16) != Z_OK {
            input.deallocate()
            throw CorpusError(.io, at: SourceLocation(path: base.path), "zlib: inflateInit2 failed")
        }
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(min(buffer.count, Int(UInt32.max)))
        let wanted = Int(stream.avail_out)
        while Int(stream.avail_out) == wanted {
            if stream.avail_in == 0 {
                if eof { break }
                let n = try base.read(into: input)
                if n == 0 { eof = true; break }
                stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(n)
                inEnd = n
            }
            let before = stream.avail_in
            inMember = true
            let r = inflate(&stream, Z_NO_FLUSH)
            compressedOffset += Int64(before - stream.avail_in)
            if r == Z_STREAM_END {
                inMember = false
                inflateReset(&stream)  // a next member may follow (concatenated gzip)
                if Int(stream.avail_out) != wanted { break }
                continue
            }
            if r != Z_OK && r != Z_BUF_ERROR {
                let msg = stream.msg.map { String(cString: $0) } ?? "error \(r)"
                throw CorpusError(.compression, at: SourceLocation(path: path, byteOffset: compressedOffset),
                                  "gzip: \(msg) (at compressed byte \(compressedOffset))")
            }
            if r == Z_BUF_ERROR && stream.avail_in != 0 { break }
        }
        let produced = wanted - Int(stream.avail_out)
        if produced == 0 && eof && inMember && stream.total_in > 0 {
            throw CorpusError(.truncated, at: SourceLocation(path: path, byteOffset: compressedOffset),
                              "gzip stream ends in the middle of a member (at compressed byte \(compressedOffset))",
                              hint: "the file was cut short; re-download or re-create it")
        }
        return produced
    }
}

/// Opens `path` ("-" for stdin) and wraps it in the decompressor its magic number asks for.
/// - Returns: the source and the compression found.
public func openByteSource(path: String) throws -> (ByteSource, Compression) {
    try openByteSource(file: try FileByteSource(path: path))
}

/// Wraps the opened `file` in the decompressor its magic number asks for (the caller keeps `file` to
/// count the bytes read from it).
public func openByteSource(file: FileByteSource) throws -> (ByteSource, Compression) {
    var head = [UInt8](repeating: 0, count: 4)
    var got = 0
    while got < 4 {
        let n = try head.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
        if n == 0 { break }
        got += n
    }
    head.removeLast(4 - got)
    let compression = try Compression.detect(head, path: file.path)
    let raw = PrefixedByteSource(prefix: head, base: file)
    switch compression {
    case .none: return (raw, .none)
    case .zstd: return (ZstdByteSource(base: raw), .zstd)
    case .gzip: return (try GzipByteSource(base: raw), .gzip)
    }
}
