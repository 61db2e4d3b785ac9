// OutputLock: one holder at a time, released on commit/abandon, a stale lock file taken over.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct OutputLockTests {
    @Test func secondWriterIsRefusedUntilTheFirstIsDone() throws {
        let dir = try makeTemporaryDirectory("lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("a.jsonl").path
        let first = try OutputFile(path: out)
        #expect(FileManager.default.contents(atPath: OutputLock.lockPath(for: out)) == Data("\(getpid())\n".utf8))
        #expect(throws: OutputError.self) { _ = try OutputFile(path: out) }
        do { _ = try OutputFile(path: out) } catch let e as OutputError {
            #expect(e.description.contains("another process (pid \(getpid()))"), "\(e)")
        }
        try first.write(Array("x\n".utf8))
        try first.commit()
        #expect(!FileManager.default.fileExists(atPath: OutputLock.lockPath(for: out)))
        let second = try OutputFile(path: out)   // free again
        second.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.jsonl"])
    }

    @Test func aStaleLockFileIsTakenOver() throws {
        let dir = try makeTemporaryDirectory("lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("b.bin").path
        try Data("999999999\n".utf8).write(to: URL(fileURLWithPath: OutputLock.lockPath(for: out)))  // a killed holder's
        let file = try OutputFile(path: out)
        try file.commit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["b.bin"])
    }

    /// A SIGKILLed writer leaves its `.NAME.tmp-PID`; the next writer of NAME removes it, and nothing else.
    @Test func aKilledWritersTemporaryFileIsRemovedByTheNextWriter() throws {
        let dir = try makeTemporaryDirectory("lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("c.jsonl.zst").path
        for name in [".c.jsonl.zst.tmp-999999999", ".c.jsonl.zst.tmp-x1", ".d.jsonl.zst.tmp-12", ".c.jsonl.zst.partial"] {
            try Data("half".utf8).write(to: dir.appendingPathComponent(name))
        }
        let file = try OutputFile(path: out)
        try file.write(Array("{}\n".utf8))
        try file.commit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
                == [".c.jsonl.zst.partial", ".c.jsonl.zst.tmp-x1", ".d.jsonl.zst.tmp-12", "c.jsonl.zst"])
    }

    /// A killed run's scratch directory (its `.lock` held by nobody) is removed by the next scratch directory
    /// of the same kind under the same parent; one whose lock is held (a live run), one without a lock,
    /// and one of another kind are left; the new one is gone afterwards.
    @Test func aKilledRunsScratchDirectoryIsRemovedByTheNext() throws {
        let base = try makeTemporaryDirectory("scratch")
        defer { try? FileManager.default.removeItem(at: base) }
        let fm = FileManager.default
        for name in [".tokenmill-x-1-1", ".tokenmill-x-2-2", ".tokenmill-x-3-3", ".tokenmill-y-4-4"] {
            try fm.createDirectory(at: base.appendingPathComponent(name), withIntermediateDirectories: false)
            try Data("spill".utf8).write(to: base.appendingPathComponent(name + "/a.run"))
            if name != ".tokenmill-x-3-3" { try Data().write(to: base.appendingPathComponent(name + "/.lock")) }
        }
        let live = open(base.appendingPathComponent(".tokenmill-x-2-2/.lock").path, O_RDWR)
        #expect(live >= 0 && flock(live, LOCK_EX | LOCK_NB) == 0)
        defer { close(live) }
        let used = try withScratchDirectory(base.path, kind: "x") { dir -> String in
            #expect(fm.fileExists(atPath: dir + "/.lock"))
            return URL(fileURLWithPath: dir).lastPathComponent
        }
        #expect(used.hasPrefix(".tokenmill-x-\(getpid())-"))
        #expect(try fm.contentsOfDirectory(atPath: base.path).sorted() == [".tokenmill-x-2-2", ".tokenmill-x-3-3", ".tokenmill-y-4-4"])
    }
}
