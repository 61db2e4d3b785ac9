// Scratch directories for a command's spill files (dedup's signature runs, prepare's intermediates):
// `.tokenmill-KIND-PID-RANDOM` under a parent, removed when the command ends or is interrupted (registered
// with `TemporaryFiles`). A SIGKILLed command cannot remove its own, so each scratch directory holds an
// exclusive flock(2) on its `.lock` file while in use, and the next command that makes a scratch
// directory of the same kind under the same parent removes every one whose lock it can take: the kernel
// dropped that lock when its holder died (also across hosts on NFS, which maps flock to POSIX locks).
// A directory without a `.lock` is left alone (it may be one being made this very moment).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Runs `body` with a fresh scratch directory under `parent` (or the system temporary directory), after
/// removing the scratch directories of the same `kind` that killed runs left there; the directory is
/// removed afterwards and on interrupt.
public func withScratchDirectory<R>(_ parent: String?, kind: String, _ body: (String) throws -> R) throws -> R {
    let base = parent ?? NSTemporaryDirectory()
    let fm = FileManager.default
    try fm.createDirectory(atPath: base, withIntermediateDirectories: true)
    removeStaleScratchDirectories(base, kind: kind)
    let dir = URL(fileURLWithPath: base).appendingPathComponent(".tokenmill-\(kind)-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: false)
    TemporaryFiles.registerDirectory(dir)
    let lock = open(dir + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    if lock >= 0 { _ = flock(lock, LOCK_EX | LOCK_NB) }
    defer {
        try? fm.removeItem(atPath: dir)
        TemporaryFiles.unregisterDirectory(dir)
        if lock >= 0 { close(lock) }
    }
    return try body(dir)
}

/// Removes the `.tokenmill-KIND-*` directories under `base` whose `.lock` no live process holds.
func removeStaleScratchDirectories(_ base: String, kind: String) {
    let fm = FileManager.default
    guard let names = try? fm.contentsOfDirectory(atPath: base) else { return }
    for name in names where name.hasPrefix(".tokenmill-\(kind)-") {
        let dir = URL(fileURLWithPath: base).appendingPathComponent(name).path
        let fd = open(dir + "/.lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { continue }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { try? fm.removeItem(atPath: dir) }
        close(fd)
    }
}
