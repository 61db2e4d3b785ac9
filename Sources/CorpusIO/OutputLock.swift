// One writer per output: while a process writes an output, it holds an exclusive lock on a file beside
// it (`.NAME.lock`, flock(2)) that records its pid. A second process that wants the same output is
// refused with a message naming the first's pid. The kernel drops the lock when its holder exits or is
// killed, so a lock file a killed process left behind is recognised as stale and taken over; the holder
// removes the file when it is done (and the interrupt handler does, through `TemporaryFiles`).
// Cost: one open, flock and write per output.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An exclusive, process-wide claim on an output path (see the file comment).
public final class OutputLock {
    /// The lock file: `.NAME.lock` in the output's directory.
    public let path: String
    private var fd: Int32 = -1

    /// The lock file `OutputLock(output:)` uses for `output`.
    public static func lockPath(for output: String) -> String {
        let slash = output.lastIndex(of: "/")
        let dir = slash.map { String(output[..<$0]) } ?? ""
        let name = slash.map { String(output[output.index(after: $0)...]) } ?? output
        return (slash == nil ? "" : dir + "/") + ".\(name).lock"
    }

    /// Takes the lock for `output`, or throws when another process holds it.
    /// - Throws: `OutputError` naming `output` and the holder's pid, or why the lock file cannot be made.
    public init(output: String) throws {
        path = OutputLock.lockPath(for: output)
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw OutputError(path: output, message: "cannot create the lock file \(path): \(String(cString: strerror(errno)))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let e = errno
                var bytes = [UInt8](repeating: 0, count: 32)
                let n = pread(fd, &bytes, bytes.count, 0)
                close(fd)
                let holder = String(decoding: bytes.prefix(max(n, 0)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if e == EWOULDBLOCK || e == EAGAIN {
                    throw OutputError(path: output, message: "another process (pid \(holder.isEmpty ? "unknown" : holder)) is writing this output (lock \(path)); wait for it to finish")
                }
                throw OutputError(path: output, message: "cannot lock \(path): \(String(cString: strerror(e)))")
            }
            // subtle: the previous holder may have removed the file between our open and flock; then we
            // hold a lock on a file no one else can see, so start again on the current one.
            var mine = stat(), current = stat()
            if fstat(fd, &mine) == 0, stat(path, &current) == 0, mine.st_ino == current.st_ino, mine.st_dev == current.st_dev {
                let pid = Array("\(getpid())\n".utf8)
                _ = ftruncate(fd, 0)
                _ = pwrite(fd, pid, pid.count, 0)
                self.fd = fd
                TemporaryFiles.register(path)
                return
            }
            close(fd)
        }
    }

    /// Removes the lock file and drops the lock (also done by deinit).
    public func release() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
        TemporaryFiles.unregister(path)
    }

    deinit { release() }
}
