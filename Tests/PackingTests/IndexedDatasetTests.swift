import struct CorpusIO.SplitMix64
import Foundation
import Packing
import Testing
import TokenMillTestSupport

@Suite struct IndexedDatasetTests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("megatron") }

    /// megatron-core's IndexedDatasetBuilder(uint16) for the documents [10,11,12,0] [20,21,0] [30,0],
    /// one sequence each, hexdumped (REFERENCE.md §1): a 102-byte index.
    @Test func bytesEqualMegatronCoreBuilder() throws {
        let prefix = dir.appendingPathComponent("ref").path
        let w = try IndexedDatasetWriter(prefix: prefix, dtype: .uint16)
        for doc: [Int32] in [[10, 11, 12, 0], [20, 21, 0], [30, 0]] { try w.addDocument(doc) }
        try w.finish()
        let idx = try Data(contentsOf: URL(fileURLWithPath: prefix + ".idx"))
        let hex = """
        4d4d49444944580000 0100000000000000 08 0300000000000000 0400000000000000
        04000000 03000000 02000000
        0000000000000000 0800000000000000 0e00000000000000
        0000000000000000 0100000000000000 0200000000000000 0300000000000000
        """.filter { !$0.isWhitespace }
        #expect(idx.count == 102)
        #expect(idx.map { String(format: "%02x", $0) }.joined() == hex)
        let bin = try Data(contentsOf: URL(fileURLWithPath: prefix + ".bin"))
        #expect(bin.map { String(format: "%02x", $0) }.joined() == "0a00 0b00 0c00 0000 1400 1500 0000 1e00 0000".filter { !$0.isWhitespace })
    }

    /// One document with two sequences [1,2][3,4,5], then [6,7], int32 (REFERENCE.md §1).
    @Test func severalSequencesPerDocumentInt32() throws {
        let prefix = dir.appendingPathComponent("multi").path
        let w = try IndexedDatasetWriter(prefix: prefix, dtype: .int32)
        try w.addSequence([1, 2] as [Int32]); try w.addSequence([3, 4, 5] as [Int32]); w.endDocument()
        try w.addDocument([6, 7] as [Int32])
        try w.finish()
        let r = try IndexedDatasetReader(prefix: prefix)
        #expect(r.sequenceLengths == [2, 3, 2])
        #expect(r.sequencePointers == [0, 8, 20])
        #expect(r.documentIndices == [0, 2, 3])
        #expect(r.document(0) == [1, 2, 3, 4, 5] && r.document(1) == [6, 7])
        #expect(r.documentSlice(0, offset: 1, length: 3) == [2, 3, 4])  // across the sequence boundary
        #expect(r.documentSlice(0, offset: 2, length: 3) == [3, 4, 5] && r.documentSlice(1, offset: 0, length: 0) == [])
    }

    @Test(arguments: [IndexedDType.uint16, .int32])
    func roundTrip(dtype: IndexedDType) throws {
        let prefix = dir.appendingPathComponent("rt-\(dtype)").path
        let seed: UInt64 = 20_261_209
        var rng = SplitMix64(seed: seed)
        let top: Int32 = dtype == .uint16 ? 65_535 : 1_000_000
        let docs = (0 ..< 300).map { _ in (0 ..< Int.random(in: 0 ..< 50, using: &rng)).map { _ in Int32.random(in: 0 ... top, using: &rng) } }
        let w = try IndexedDatasetWriter(prefix: prefix, dtype: dtype)
        for d in docs { try w.addDocument(d) }
        try w.finish()
        let r = try IndexedDatasetReader(prefix: prefix)
        #expect(r.dtype == dtype && r.documentCount == 300)
        #expect((0 ..< 300).map { r.document($0) } == docs, "seed \(seed)")
    }

    /// An index of over 1 MiB is written in pieces: its bytes equal the whole-array `indexBytes`. Read back
    /// with a 100-byte release interval (the mapping's pages dropped after every read), every document and slice is still right.
    @Test func largeIndexAndReadsAcrossPageReleases() throws {
        let prefix = dir.appendingPathComponent("large").path
        var rng = SplitMix64(seed: 20_261_204)
        let docs = (0 ..< 60_000).map { _ in (0 ..< Int.random(in: 1 ..< 40, using: &rng)).map { _ in Int32.random(in: 0 ... 65_535, using: &rng) } }
        let w = try IndexedDatasetWriter(prefix: prefix, dtype: .uint16)
        for d in docs {
            // Two sequences for some documents, so document and sequence indices differ.
            if d.count > 20 { try w.addSequence(d[..<10]); try w.addSequence(d[10...]); w.endDocument() } else { try w.addDocument(d) }
        }
        try w.finish()
        let r = try IndexedDatasetReader(prefix: prefix, releaseEvery: 100)
        let idx = try Data(contentsOf: URL(fileURLWithPath: prefix + ".idx"))
        #expect(idx.count > 1 << 20)
        #expect([UInt8](idx) == IndexedDatasetWriter.indexBytes(dtype: .uint16, lengths: r.sequenceLengths, documentIndices: r.documentIndices))
        for d in stride(from: 0, to: docs.count, by: 7) { #expect(r.document(d) == docs[d]) }
        for d in stride(from: 3, to: docs.count, by: 11) where docs[d].count > 5 {
            #expect(r.documentSlice(d, offset: 2, length: docs[d].count - 4) == Array(docs[d][2 ..< docs[d].count - 2]))
        }
    }

    /// A resumable writer journals only what is new at each checkpoint; a checkpoint loads at exactly the
    /// document count a resume state names (the journal may hold one block more, or a block cut short by a
    /// kill), and a run resumed from it writes the same files as one uninterrupted run.
    @Test func journaledCheckpointsResumeToTheSameBytes() throws {
        let fm = FileManager.default
        var rng = SplitMix64(seed: 20_261_205)
        let docs = (0 ..< 9).map { _ in (0 ..< Int.random(in: 1 ..< 30, using: &rng)).map { _ in Int32.random(in: 0 ... 60_000, using: &rng) } }
        let whole = dir.appendingPathComponent("whole").path, cut = dir.appendingPathComponent("cut").path
        let w = try IndexedDatasetWriter(prefix: whole, dtype: .uint16)
        for d in docs { try w.addDocument(d) }
        try w.finish()
        let bin = dir.appendingPathComponent(".cut.bin.partial").path, journal = dir.appendingPathComponent(".cut.idx.partial").path
        do {  // the "killed" run: checkpoints after 3 and 5 documents, then 2 more documents
            let k = try IndexedDatasetWriter(prefix: cut, dtype: .uint16, resumable: true)
            for d in docs[..<3] { try k.addDocument(d) }
            try k.checkpoint()
            let afterFirst = try fm.attributesOfItem(atPath: journal)[.size] as! Int
            for d in docs[3 ..< 5] { try k.addDocument(d) }
            try k.checkpoint()
            let second = (try fm.attributesOfItem(atPath: journal)[.size] as! Int) - afterFirst
            #expect(second == 24 + 2 * 4 + 2 * 8, "the second block holds only documents 3 and 4")
            for d in docs[5 ..< 7] { try k.addDocument(d) }
            // A kill leaves the partial files as they are: keep copies, since the writer's deinit removes them.
            try? fm.removeItem(atPath: bin + ".kept"); try? fm.removeItem(atPath: journal + ".kept")
            try fm.copyItem(atPath: bin, toPath: bin + ".kept"); try fm.copyItem(atPath: journal, toPath: journal + ".kept")
        }
        try? fm.removeItem(atPath: bin); try? fm.removeItem(atPath: journal)
        try fm.moveItem(atPath: bin + ".kept", toPath: bin); try fm.moveItem(atPath: journal + ".kept", toPath: journal)
        // A block cut short at the end is ignored.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: journal))
        try h.seekToEnd(); try h.write(contentsOf: Data([7, 0, 0, 0, 0, 0, 0, 0, 1])); try h.close()
        #expect(try IndexedDatasetWriter.loadCheckpoint(prefix: cut, documents: 4) == nil)
        #expect(try IndexedDatasetWriter.loadCheckpoint(prefix: cut, documents: 7) == nil)
        let five = try #require(try IndexedDatasetWriter.loadCheckpoint(prefix: cut, documents: 5))
        #expect(five.lengths == docs[..<5].map { Int32($0.count) } && five.documentIndices == [0, 1, 2, 3, 4, 5])
        #expect(five.maxID == Int64(docs[..<5].joined().max()!))
        // The state names 3 documents (the run stopped between the journal's block and the state).
        let three = try #require(try IndexedDatasetWriter.loadCheckpoint(prefix: cut, documents: 3))
        let r = try IndexedDatasetWriter(prefix: cut, dtype: .uint16, resumable: true, resumeFrom: three)
        for d in docs[3 ..< 6] { try r.addDocument(d) }
        try r.checkpoint()
        #expect(try IndexedDatasetWriter.loadCheckpoint(prefix: cut, documents: 6) != nil, "resumed blocks follow the kept ones")
        for d in docs[6...] { try r.addDocument(d) }
        try r.finish()
        for ext in [".bin", ".idx"] {
            #expect(fm.contents(atPath: cut + ext) == fm.contents(atPath: whole + ext), "\(ext)")
        }
        #expect(!fm.fileExists(atPath: journal) && !fm.fileExists(atPath: bin))
        // An older TokenMill's checkpoint (a whole .idx) is refused with a hint.
        try fm.copyItem(atPath: whole + ".idx", toPath: journal)
        #expect(throws: DatasetError.self) { _ = try IndexedDatasetWriter.loadCheckpoint(prefix: cut, documents: 1) }
    }

    @Test func dtypeRuleIsMegatronCores() {
        #expect(IndexedDType.optimal(vocabularySize: 50_000) == .uint16)
        #expect(IndexedDType.optimal(vocabularySize: 65_499) == .uint16)
        #expect(IndexedDType.optimal(vocabularySize: 65_500) == .int32)
        #expect(IndexedDType.optimal(vocabularySize: 129_280) == .int32)
    }

    @Test func idsThatDoNotFitAreRefusedAndNothingIsLeft() throws {
        let prefix = dir.appendingPathComponent("toolarge").path
        let w = try IndexedDatasetWriter(prefix: prefix, dtype: .uint16)
        #expect(throws: DatasetError.self) { try w.addDocument([70_000] as [Int32]) }
        w.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func corruptFilesNameTheProblem() throws {
        let prefix = dir.appendingPathComponent("c").path
        let w = try IndexedDatasetWriter(prefix: prefix, dtype: .uint16)
        for doc: [Int32] in [[1, 2, 3], [4, 5]] { try w.addDocument(doc) }
        try w.finish()
        let idxURL = URL(fileURLWithPath: prefix + ".idx"), binURL = URL(fileURLWithPath: prefix + ".bin")
        let idx = try Data(contentsOf: idxURL), bin = try Data(contentsOf: binURL)
        func expectFailure(_ contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(sourceLocation: sourceLocation) { try IndexedDatasetReader(prefix: prefix) } throws: { "\($0)".contains(contains) }
        }
        try bin.prefix(bin.count - 2).write(to: binURL)
        expectFailure("size 8 bytes, but the index describes 10")
        try bin.write(to: binURL)
        try idx.prefix(idx.count - 1).write(to: idxURL)
        expectFailure("needs \(idx.count)")
        var bad = idx
        bad[0] = 0x58
        try bad.write(to: idxURL)
        expectFailure("magic is not MMIDIDX")
        bad = idx
        bad[9] = 2
        try bad.write(to: idxURL)
        expectFailure("version 2, expected 1")
        bad = idx
        bad[17] = 7
        try bad.write(to: idxURL)
        expectFailure("dtype float32 is not a token id type")
        try Data().write(to: idxURL)
        expectFailure("shorter than the 34-byte header")
    }
}
