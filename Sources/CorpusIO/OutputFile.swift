// Output files that appear only when complete: bytes go to a hidden temporary name in the same
// directory, which is renamed over the final name by `commit()`. A failed run calls `abandon()`, and an
// interrupted one (SIGINT, SIGTERM, SIGHUP) removes every registered temporary file before exiting
// (see `TemporaryFiles.removeAll`); the temporary files of a killed run (SIGKILL) are removed by the next
// writer of the same output. stdout is written directly. While a file output is open its writer
// holds the output's `OutputLock`, so a second process writing the same path is refused.
// Compression: zstd (level 3, with checksums) when the output name ends in .zst/.zstd.
// Memory: a 1 MiB write buffer and zstd's stream buffers.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZstd
import Foundation
import Synchronization

/// Registry of temporary files and directories that an interrupt must remove.
public enum TemporaryFiles {
    private static let paths = Mutex<Set<String>>([])
    private static let directories = Mutex<Set<String>>([])

    static func register(_ path: String) { paths.withLock { _ = $0.insert(path) } }
    static func unregister(_ path: String) { paths.withLock { _ = $0.remove(path) } }
    /// A temporary directory (removed with its contents); for outputs that are whole directories.
    public static func registerDirectory(_ path: String) { directories.withLock { _ = $0.insert(path) } }
    public static func unregisterDirectory(_ path: String) { directories.withLock { _ = $0.remove(path) } }
    /// Whether an interrupt now would remove directory `path`.
    public static func isRegisteredDirectory(_ path: String) -> Bool { directories.withLock { $0.contains(path) } }

    /// Removes every registered temporary file and directory; called by the CLI's signal handler and
    /// error path before it exits.
    public static func removeAll() {
        let all = paths.withLock { p -> Set<String> in let c = p; p.removeAll(); return c }
        for p in all { unlink(p) }
        let dirs = directories.withLock { d -> Set<String> in let c = d; d.removeAll(); return c }
        for d in dirs { try? FileManager.default.removeItem(atPath: d) }
    }
}

/// Thrown when writing fails (disk full, permissions, ...).
public struct OutputError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Compresses chunks into standalone zstd frames on any thread (a pool of contexts, one per caller at
/// a time). Concatenated frames are one valid zstd stream, so workers can compress their own batches
/// and the writer only appends: compression scales with the threads, and since frames follow the
/// batches, the bytes do not depend on the thread count.
public final class ZstdFrameEncoder: Sendable {
    private let contexts = WorkerPool<UInt>()  // ZSTD_CCtx pointers as bit patterns (pointers are not Sendable)
    public let level: Int32

    public init(level: Int32 = 3) { self.level = level }

    deinit {
        for c in contexts.removeAll() { ZSTD_freeCCtx(OpaquePointer(bitPattern: c)) }
    }

    /// One zstd frame (with a checksum) holding `bytes`.
    public func frame(_ bytes: [UInt8]) throws -> [UInt8] {
        let handle = contexts.take {
            let c = ZSTD_createCCtx()
            ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)
            ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)
            return UInt(bitPattern: c)
        }
        defer { contexts.give(handle) }
        let ctx = OpaquePointer(bitPattern: handle)
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let n = out.withUnsafeMutableBytes { o in
            bytes.withUnsafeBytes { i in ZSTD_compress2(ctx, o.baseAddress, o.count, i.baseAddress, i.count) }
        }
        if ZSTD_isError(n) != 0 { throw OutputError(path: "<zstd>", message: String(cString: ZSTD_getErrorName(n))) }
        out.removeLast(out.count - n)
        return out
    }
}

/// A byte sink for a file (written atomically) or stdout, optionally zstd-compressed.
public final class OutputFile {
    public let path: String
    private let fd: Int32
    private let tempPath: String?
    private let lock: OutputLock?
    private var buffer: [UInt8] = []
    private var cctx: OpaquePointer?
    private var zout: UnsafeMutableRawBufferPointer?
    private var finished = false
    /// Bytes handed to `write` (before compression).
    public private(set) var bytesWritten: Int64 = 0

    /// Opens `path` for writing (nil or "-" is stdout). `compress` overrides the choice made from the
    /// name (.zst/.zstd means zstd).
    /// - Parameter resumable: nil for an ordinary output. Otherwise the output is written to a stable
    ///   hidden name (`.NAME.partial`) that survives interrupts, so a later run can continue it from
    ///   byte `resumable` (0: start over). Only for uncompressed files.
    public init(path: String?, compress: Bool? = nil, zstdLevel: Int32 = 3, resumable: Int64? = nil) throws {
        let target = path ?? "-"
        self.path = target == "-" ? "<stdout>" : target
        let lower = target.lowercased()
        let zstd = resumable == nil && (compress ?? (lower.hasSuffix(".zst") || lower.hasSuffix(".zstd")))
        if target == "-" {
            fd = 1
            tempPath = nil
            lock = nil
        } else {
            lock = try OutputLock(output: target)
            let slash = target.lastIndex(of: "/")
            let dir = slash.map { String(target[..<$0]) } ?? "."
            let name = slash.map { String(target[target.index(after: $0)...]) } ?? target
            if let offset = resumable {
                precondition(compress != true, "resumable outputs are uncompressed")
                let temp = OutputFile.partialPath(target)
                fd = open(temp, O_WRONLY | O_CREAT | O_CLOEXEC | (offset == 0 ? O_TRUNC : 0), 0o644)
                if fd < 0 { throw OutputError(path: target, message: "cannot create: \(String(cString: strerror(errno)))") }
                if ftruncate(fd, off_t(offset)) != 0 || lseek(fd, off_t(offset), SEEK_SET) < 0 {
                    let e = String(cString: strerror(errno)); close(fd)
                    throw OutputError(path: temp, message: "cannot continue at byte \(offset): \(e)")
                }
                bytesWritten = offset
                tempPath = temp
            } else {
                OutputFile.removeStaleTemporaries(directory: dir.isEmpty ? "/" : dir, name: name)
                let temp = (dir.isEmpty ? "" : dir + "/") + ".\(name).tmp-\(getpid())"
                TemporaryFiles.register(temp)
                fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                if fd < 0 {
                    TemporaryFiles.unregister(temp)
                    throw OutputError(path: target, message: "cannot create: \(String(cString: strerror(errno)))")
                }
                tempPath = temp
            }
            _ = dir
        }
        buffer.reserveCapacity(1 << 20)
        if zstd {
            cctx = ZSTD_createCCtx()
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, zstdLevel)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
            zout = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
        }
    }

    /// Removes the `.NAME.KIND-PID` files or directories (KIND in `kinds`: `tmp`, and `old` for output
    /// directories) that killed writers of output NAME in `directory` left behind (SIGKILL cannot be caught,
    /// so no handler removed them). Call it holding the output's `OutputLock`: every writer holds it while
    /// its temporaries exist, so none of them belongs to a live process.
    public static func removeStaleTemporaries(directory: String, name: String, kinds: [String] = ["tmp"]) {
        let fm = FileManager.default
        let prefixes = kinds.map { ".\(name).\($0)-" }
        for entry in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let p = prefixes.first(where: { entry.hasPrefix($0) }), entry.utf8.count > p.utf8.count,
                  entry.utf8.dropFirst(p.utf8.count).allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { continue }
            try? fm.removeItem(atPath: (directory.hasSuffix("/") ? directory : directory + "/") + entry)
        }
    }

    deinit {
        if !finished { abandon() }
        if let cctx { ZSTD_freeCCtx(cctx) }
        zout?.deallocate()
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        bytesWritten += Int64(bytes.count)
        if buffer.count + bytes.count > (1 << 20) { try flushBuffer(end: false) }
        if bytes.count >= (1 << 20) {
            try bytes.withUnsafeBytes { try emit($0, end: false) }
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// The stable hidden name a resumable output of `path` is written under.
    public static func partialPath(_ path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return (slash == nil ? "" : dir + "/") + ".\(name).partial"
    }

    /// Writes out buffered bytes (uncompressed outputs), so `bytesWritten` bytes are in the file.
    public func flush() throws {
        precondition(cctx == nil, "flush is for uncompressed outputs")
        try flushBuffer(end: false)
    }

    /// Whether this output is zstd-compressed (then `writeFrames` may be used instead of `write`).
    public var isZstd: Bool { cctx != nil }

    /// Appends complete zstd frames (from `ZstdFrameEncoder`) as they are; `bytes` counts the
    /// uncompressed size for the statistics. Only for zstd outputs.
    public func writeFrames(_ frames: [UInt8], bytes: Int) throws {
        precondition(isZstd, "writeFrames needs a zstd output")
        try flushBuffer(end: true)  // closes any frame `write` started; a no-op when none
        bytesWritten += Int64(bytes)
        try frames.withUnsafeBytes { try writeAll($0) }
        framesWritten = true
    }

    /// Flushes everything and moves the file to its final name.
    public func commit() throws {
        try flushBuffer(end: true)
        finished = true
        guard let tempPath else { return }
        defer { lock?.release() }
        if fsync(fd) != 0 && errno != EINVAL {
            let e = String(cString: strerror(errno)); abandon(); throw OutputError(path: path, message: "fsync failed: \(e)")
        }
        close(fd)
        if rename(tempPath, path) != 0 {
            let e = String(cString: strerror(errno)); unlink(tempPath); TemporaryFiles.unregister(tempPath)
            throw OutputError(path: path, message: "cannot rename the finished file into place: \(e)")
        }
        TemporaryFiles.unregister(tempPath)
    }

    /// Drops the temporary file; the final name is left untouched.
    public func abandon() {
        finished = true
        guard let tempPath else { return }
        defer { lock?.release() }
        close(fd)
        unlink(tempPath)
        TemporaryFiles.unregister(tempPath)
    }

    private func flushBuffer(end: Bool) throws {
        if buffer.isEmpty {
            if cctx == nil || !end { return }
            if !frameOpen && framesWritten { return }  // nothing to close; an empty output still gets one empty frame
        }
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        try pending.withUnsafeBytes { try emit($0, end: end) }
    }

    private var frameOpen = false
    private var framesWritten = false

    private func emit(_ bytes: UnsafeRawBufferPointer, end: Bool) throws {
        guard let cctx, let zout else { try writeAll(bytes); return }
        frameOpen = !end
        if end { framesWritten = true }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: zout.baseAddress, size: zout.count, pos: 0)
            let remaining = ZSTD_compressStream2(cctx, &output, &input, end ? ZSTD_e_end : ZSTD_e_continue)
            if ZSTD_isError(remaining) != 0 {
                throw OutputError(path: path, message: "zstd: \(String(cString: ZSTD_getErrorName(remaining)))")
            }
            try writeAll(UnsafeRawBufferPointer(rebasing: zout[..<output.pos]))
            if end ? remaining == 0 : input.pos == input.size { break }
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputError(path: path, message: "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}
