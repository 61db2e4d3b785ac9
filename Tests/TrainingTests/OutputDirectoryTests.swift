// OutputDirectory (export-hf, import-hf): the temporary directory is registered for the interrupt
// handler while it exists, and unregistered once it is renamed into place or abandoned.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport
@testable import Training

@Suite struct OutputDirectoryTests {
    @Test func temporaryDirectoryIsRemovedOnInterruptUntilCommitted() throws {
        let dir = try makeTemporaryDirectory("outdir")
        defer { try? FileManager.default.removeItem(at: dir) }
        let committed = try OutputDirectory(path: dir.appendingPathComponent("a").path, replaceable: [])
        #expect(TemporaryFiles.isRegisteredDirectory(committed.temporary))
        try Data("x".utf8).write(to: URL(fileURLWithPath: committed.temporary + "/f"))
        try committed.commit()
        #expect(!TemporaryFiles.isRegisteredDirectory(committed.temporary))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("a/f").path))
        let abandoned = try OutputDirectory(path: dir.appendingPathComponent("b").path, replaceable: [])
        #expect(TemporaryFiles.isRegisteredDirectory(abandoned.temporary))
        abandoned.abandon()
        #expect(!TemporaryFiles.isRegisteredDirectory(abandoned.temporary))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a"])
    }
}
