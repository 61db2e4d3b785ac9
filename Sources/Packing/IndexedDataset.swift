// Megatron-LM's indexed dataset (`PREFIX.bin` + `PREFIX.idx`, megatron-core `indexed_dataset.py`):
// writing it byte-identical to megatron-core's `IndexedDatasetBuilder`, and reading it back with
// every size checked.
//
// `.bin`: the token ids of all sequences back to back, little-endian, element type = the dtype.
// `.idx`, all integers little-endian, no padding:
//   offset 0       9 bytes   magic "MMIDIDX\0\0"
//   offset 9       u64       version = 1
//   offset 17      u8        dtype code (IndexedDType below)
//   offset 18      u64       S = sequence count
//   offset 26      u64       D' = document count + 1 (length of document_indices)
//   offset 34      int32[S]  sequence_lengths (elements)
//   34 + 4S        int64[S]  sequence_pointers (byte offsets into .bin; p[0] = 0, p[i+1] = p[i] + len[i]·itemsize)
//   34 + 12S       int64[D'] document_indices: 0, then one past the last sequence of each document; last = S
// A multimodal dataset appends int8[S] sequence_modes, which the header does not flag; it is refused.
// Memory: the writer keeps 12 bytes per sequence and 8 per document for the index; ids stream to .bin.

import CorpusIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types of a Megatron dataset, with megatron-core's `DType` codes.
public enum IndexedDType: UInt8, Sendable, CaseIterable {
    case uint8 = 1, int8 = 2, int16 = 3, int32 = 4, int64 = 5, float64 = 6, float32 = 7, uint16 = 8

    public var itemSize: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16, .uint16: return 2
        case .int32, .float32: return 4
        case .int64, .float64: return 8
        }
    }

    /// megatron-core's `DType.optimal_dtype`: uint16 below 65,500 ids, else int32.
    public static func optimal(vocabularySize: Int) -> IndexedDType { vocabularySize < 65_500 ? .uint16 : .int32 }
}

/// A malformed or inconsistent dataset, or ids that do not fit.
public struct DatasetError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
}

let indexMagic: [UInt8] = Array("MMIDIDX".utf8) + [0, 0]
/// The start of a resumable writer's journal (`IndexedDatasetWriter.checkpoint()`), then the dtype code.
let journalMagic: [UInt8] = Array("TMIDXJ1".utf8) + [0]
let journalHeaderSize = 16

/// Writes `PREFIX.bin` and `PREFIX.idx`; both appear only when `finish()` succeeds.
public final class IndexedDatasetWriter {
    public let prefix: String
    public let dtype: IndexedDType
    private let bin: OutputFile
    private var lengths: [Int32] = []
    private var documentIndices: [Int64] = [0]
    private var scratch: [UInt8] = []
    /// The largest id written so far.
    public private(set) var maxID: Int64 = -1
    /// A resumable writer's journal `.PREFIX.idx.partial` (see `checkpoint()`), and how much of the index
    /// it holds.
    private var journal: Int32 = -1
    private var journaled = (sequences: 0, documents: 0)

    /// - Parameters:
    ///   - dtype: `.uint16` or `.int32` (the types token ids use).
    ///   - resumable: write `.bin` under a stable hidden name that survives interrupts, and allow
    ///     `checkpoint()`; `resumeFrom` continues from a checkpoint.
    public init(prefix: String, dtype: IndexedDType, resumable: Bool = false, resumeFrom: Checkpoint? = nil) throws {
        precondition(dtype == .uint16 || dtype == .int32, "token datasets are uint16 or int32")
        self.prefix = prefix
        self.dtype = dtype
        if let c = resumeFrom {
            guard c.dtype == dtype else { throw DatasetError(path: prefix, "the checkpoint is \(c.dtype), this run writes \(dtype)") }
            lengths = c.lengths
            documentIndices = c.documentIndices
            maxID = c.maxID
        }
        let binBytes = lengths.reduce(Int64(0)) { $0 + Int64($1) } * Int64(dtype.itemSize)
        bin = try OutputFile(path: prefix + ".bin", compress: false, resumable: resumable ? binBytes : nil)
        if resumable {
            // A fresh journal (its header), or a resumed one cut back to the end of the checkpoint's block.
            let path = OutputFile.partialPath(prefix + ".idx")
            journal = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            if journal < 0 { throw DatasetError(path: path, "cannot create: \(String(cString: strerror(errno)))") }
            let keep = resumeFrom?.journalBytes ?? 0
            do {
                if ftruncate(journal, off_t(keep)) != 0 || lseek(journal, off_t(keep), SEEK_SET) < 0 {
                    throw DatasetError(path: path, "cannot continue at byte \(keep): \(String(cString: strerror(errno)))")
                }
                if resumeFrom == nil {
                    var header = journalMagic
                    header.append(dtype.rawValue)
                    header += [UInt8](repeating: 0, count: journalHeaderSize - header.count)
                    try writeJournal(header)
                }
            } catch {
                close(journal); journal = -1
                if resumeFrom == nil { unlink(path) }  // a new journal that could not be started (disk full)
                throw error
            }
            journaled = (lengths.count, documentIndices.count - 1)
        }
    }

    deinit { if journal >= 0 { close(journal) } }

    /// What a resumed writer needs: the index so far (the `.bin` bytes it describes are in the
    /// partial file).
    public struct Checkpoint: Sendable {
        public var dtype: IndexedDType
        public var lengths: [Int32]
        public var documentIndices: [Int64]
        public var maxID: Int64
        /// The journal's bytes up to the end of this checkpoint's block.
        public var journalBytes: Int
    }

    /// Flushes `.bin` and appends the index entries added since the last checkpoint to the journal
    /// `.PREFIX.idx.partial`; with the partial `.bin`, a later run continues from here. Each checkpoint
    /// writes only what is new (a run of N documents writes its index once in all, not once per
    /// checkpoint). Call it between documents.
    ///
    /// Journal: a 16-byte header ("TMIDXJ1", a zero byte, the dtype code, 7 zero bytes), then one block
    /// per checkpoint: u64 sequences s, u64 documents d, i64 the largest id so far, int32[s] sequence
    /// lengths, int64[d] document ends (index of the sequence after each document's last, as in the
    /// `.idx`'s document_indices); little-endian. A block cut short by a kill is ignored.
    public func checkpoint() throws {
        try bin.flush()
        try appendJournalBlock()
    }

    private func appendJournalBlock() throws {
        let s = lengths.count - journaled.sequences, d = documentIndices.count - 1 - journaled.documents
        var block: [UInt8] = []
        block.reserveCapacity(24 + 4 * s + 8 * d)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { block.append(contentsOf: $0) } }
        put(UInt64(s)); put(UInt64(d)); put(maxID)
        for l in lengths[journaled.sequences...] { put(l) }
        for e in documentIndices[(journaled.documents + 1)...] { put(e) }
        try writeJournal(block)
        journaled = (lengths.count, documentIndices.count - 1)
    }

    private func writeJournal(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(journal, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw DatasetError(path: OutputFile.partialPath(prefix + ".idx"), "cannot write: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    /// Reads the checkpoint of `documents` documents that `checkpoint()` journaled for `prefix`: nil when
    /// there is no journal or its complete blocks do not end at exactly that many documents.
    /// - Throws: `DatasetError` when the journal is not one (an older TokenMill's checkpoint) or the
    ///   partial `.bin` is shorter than the index describes.
    public static func loadCheckpoint(prefix: String, documents: Int) throws -> Checkpoint? {
        let path = OutputFile.partialPath(prefix + ".idx")
        guard let bytes = try? readWholeFile(path) else { return nil }
        guard bytes.count >= journalHeaderSize, Array(bytes[0 ..< journalMagic.count]) == journalMagic,
              let dtype = IndexedDType(rawValue: bytes[journalMagic.count]), dtype == .uint16 || dtype == .int32 else {
            throw DatasetError(path: path, "not a TokenMill resume journal (a checkpoint of an older version?); run again without --resume")
        }
        var lengths: [Int32] = [], ends: [Int64] = [0], maxID: Int64 = -1
        var at = journalHeaderSize
        try bytes.withUnsafeBytes { raw in
            func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
            while ends.count - 1 < documents, at + 24 <= raw.count {
                let s = u64(at), d = u64(at + 8)
                guard s < 1 << 40, d < 1 << 40, at + 24 + 4 * Int(s) + 8 * Int(d) <= raw.count else { break }
                maxID = Int64(bitPattern: u64(at + 16))
                var o = at + 24
                for _ in 0 ..< Int(s) { lengths.append(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int32.self))); o += 4 }
                for _ in 0 ..< Int(d) { ends.append(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int64.self))); o += 8 }
                at = o
            }
        }
        guard ends.count - 1 == documents else { return nil }
        guard zip(ends, ends.dropFirst()).allSatisfy({ $0 <= $1 }), ends.last == Int64(lengths.count), lengths.allSatisfy({ $0 >= 0 }) else {
            throw DatasetError(path: path, "the journal's document ends do not rise to its \(lengths.count) sequences")
        }
        let binPath = OutputFile.partialPath(prefix + ".bin")
        var st = stat()
        let need = lengths.reduce(Int64(0)) { $0 + Int64($1) } * Int64(dtype.itemSize)
        guard stat(binPath, &st) == 0, Int64(st.st_size) >= need else {
            throw DatasetError(path: binPath, "shorter than the \(need) bytes the checkpoint describes")
        }
        return Checkpoint(dtype: dtype, lengths: lengths, documentIndices: ends, maxID: maxID, journalBytes: at)
    }

    /// Removes a checkpoint's files.
    public static func removeCheckpoint(prefix: String) {
        unlink(OutputFile.partialPath(prefix + ".idx"))
        unlink(OutputFile.partialPath(prefix + ".bin"))
    }

    public var sequenceCount: Int { lengths.count }
    public var documentCount: Int { documentIndices.count - 1 }

    /// Appends one sequence (megatron-core's `add_item`).
    /// - Throws: `DatasetError` when an id does not fit the dtype.
    public func addSequence<C: Collection>(_ ids: C) throws where C.Element == Int32 {
        scratch.removeAll(keepingCapacity: true)
        scratch.reserveCapacity(ids.count * dtype.itemSize)
        for id in ids {
            if id < 0 || (dtype == .uint16 && id > 0xFFFF) {
                throw DatasetError(path: prefix + ".bin", "token id \(id) does not fit \(dtype)")
            }
            maxID = max(maxID, Int64(id))
            if dtype == .uint16 {
                scratch.append(UInt8(truncatingIfNeeded: id)); scratch.append(UInt8(truncatingIfNeeded: id >> 8))
            } else {
                withUnsafeBytes(of: id.littleEndian) { scratch.append(contentsOf: $0) }
            }
        }
        try bin.write(scratch)
        lengths.append(Int32(ids.count))
    }

    /// Ends the current document (megatron-core's `end_document`).
    public func endDocument() { documentIndices.append(Int64(lengths.count)) }

    /// One document of one sequence (`add_document(ids, [len(ids)])`).
    public func addDocument<C: Collection>(_ ids: C) throws where C.Element == Int32 {
        try addSequence(ids)
        endDocument()
    }

    /// Writes the `.idx` bytes for what was added so far to `out` in pieces of about 1 MiB, so that writing
    /// the index of a large dataset does not hold a second copy of it (20 bytes per document) in memory.
    func writeIndex(to out: OutputFile) throws {
        var chunk = indexMagic
        let limit = 1 << 20
        chunk.reserveCapacity(limit + 16)
        func put<T: FixedWidthInteger>(_ v: T) throws {
            withUnsafeBytes(of: v.littleEndian) { chunk.append(contentsOf: $0) }
            if chunk.count >= limit { try out.write(chunk); chunk.removeAll(keepingCapacity: true) }
        }
        try put(UInt64(1))
        chunk.append(dtype.rawValue)
        try put(UInt64(lengths.count))
        try put(UInt64(documentIndices.count))
        for l in lengths { try put(l) }
        var pointer: Int64 = 0
        for l in lengths {
            try put(pointer)
            pointer += Int64(l) * Int64(dtype.itemSize)
        }
        for d in documentIndices { try put(d) }
        if !chunk.isEmpty { try out.write(chunk) }
    }

    /// The `.idx` bytes of a dataset whose sequences (of `lengths`) lie back to back in its `.bin` from byte
    /// 0, grouped into documents by `documentIndices` (0, then one past each document's last sequence).
    public static func indexBytes(dtype: IndexedDType, lengths: [Int32], documentIndices: [Int64]) -> [UInt8] {
        var idx = indexMagic
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { idx.append(contentsOf: $0) } }
        u64(1)
        idx.append(dtype.rawValue)
        u64(UInt64(lengths.count))
        u64(UInt64(documentIndices.count))
        idx.reserveCapacity(idx.count + 12 * lengths.count + 8 * documentIndices.count)
        for l in lengths { withUnsafeBytes(of: l.littleEndian) { idx.append(contentsOf: $0) } }
        var pointer: Int64 = 0
        for l in lengths {
            withUnsafeBytes(of: pointer.littleEndian) { idx.append(contentsOf: $0) }
            pointer += Int64(l) * Int64(dtype.itemSize)
        }
        for d in documentIndices { withUnsafeBytes(of: d.littleEndian) { idx.append(contentsOf: $0) } }
        return idx
    }

    /// Writes the index, then moves both files into place.
    public func finish() throws {
        let index = try OutputFile(path: prefix + ".idx", compress: false)
        do {
            try writeIndex(to: index)
            try bin.commit()
            try index.commit()
            if journal >= 0 { close(journal); journal = -1 }
            unlink(OutputFile.partialPath(prefix + ".idx"))
        } catch {
            bin.abandon(); index.abandon()
            throw error
        }
    }

    /// Drops both files.
    public func abandon() { bin.abandon() }
}

/// The dataset prefix of `path`, which names the dataset as PREFIX, PREFIX.bin or PREFIX.idx.
public func datasetPrefix(_ path: String) -> String {
    path.hasSuffix(".bin") || path.hasSuffix(".idx") ? String(path.dropLast(4)) : path
}

/// A dataset read through mmap; every size is checked against the header on open.
public final class IndexedDatasetReader {
    public let prefix: String
    public let dtype: IndexedDType
    public let sequenceLengths: [Int32]
    public let sequencePointers: [Int64]
    public let documentIndices: [Int64]
    private let bin: UnsafeRawBufferPointer
    /// What reads since the pages were last released can have made resident (see `noteRead`).
    private var readSinceRelease = 0
    /// After this many bytes counted by `noteRead`, the mapping's resident pages are dropped.
    private let releaseInterval: Int

    /// - Parameter releaseEvery: drop the mapping's resident pages once reads may have made this many bytes resident (see `noteRead`).
    public init(prefix: String, releaseEvery: Int = 64 << 20) throws {
        self.prefix = prefix
        releaseInterval = max(1, releaseEvery)
        let idxPath = prefix + ".idx", binPath = prefix + ".bin"
        let parsed = try parseIndex(try readWholeFile(idxPath), path: idxPath)
        dtype = parsed.dtype
        let (lengths, pointers, documents) = (parsed.lengths, parsed.pointers, parsed.documents)
        let expectedPointer = lengths.reduce(Int64(0)) { $0 + Int64($1) } * Int64(parsed.dtype.itemSize)
        sequenceLengths = lengths; sequencePointers = pointers; documentIndices = documents
        let mapped = try mapFile(binPath)
        guard Int64(mapped.count) == expectedPointer else {
            unmap(mapped)
            throw DatasetError(path: binPath, "size \(mapped.count) bytes, but the index describes \(expectedPointer) (truncated or not this index's data)")
        }
        bin = mapped
    }

    deinit { unmap(bin) }

    public var sequenceCount: Int { sequenceLengths.count }
    public var documentCount: Int { documentIndices.count - 1 }
    public var tokenCount: Int { sequenceLengths.reduce(0) { $0 + Int($1) } }

    /// The ids of sequence `i`.
    public func sequence(_ i: Int) -> [Int32] {
        let start = Int(sequencePointers[i]), n = Int(sequenceLengths[i])
        noteRead(n * dtype.itemSize)
        if dtype == .uint16 {
            return (0 ..< n).map { Int32(UInt16(littleEndian: bin.loadUnaligned(fromByteOffset: start + 2 * $0, as: UInt16.self))) }
        }
        return (0 ..< n).map { Int32(littleEndian: bin.loadUnaligned(fromByteOffset: start + 4 * $0, as: Int32.self)) }
    }

    /// `length` ids of document `d` from token `offset` (across its sequences), without reading the rest.
    public func documentSlice(_ d: Int, offset: Int, length: Int) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(length)
        var skip = offset
        for s in Int(documentIndices[d]) ..< Int(documentIndices[d + 1]) where out.count < length {
            let n = Int(sequenceLengths[s])
            if skip >= n { skip -= n; continue }
            let take = min(n - skip, length - out.count)
            let start = Int(sequencePointers[s]) + skip * dtype.itemSize
            noteRead(take * dtype.itemSize)
            if dtype == .uint16 {
                for k in 0 ..< take { out.append(Int32(UInt16(littleEndian: bin.loadUnaligned(fromByteOffset: start + 2 * k, as: UInt16.self)))) }
            } else {
                for k in 0 ..< take { out.append(Int32(littleEndian: bin.loadUnaligned(fromByteOffset: start + 4 * k, as: Int32.self))) }
            }
            skip = 0
        }
        precondition(out.count == length, "slice past the end of document \(d)")
        return out
    }

    /// Counts what a read of `bytes` from the mapping can make resident, and every `releaseInterval` bytes
    /// (64 MiB by default) drops the mapping's resident pages (`MADV_DONTNEED`: the file is read-only and
    /// mapped private, so nothing is lost; pages read again fault back in from the page cache). Reading a
    /// dataset in random order (pack's shuffled rows) would otherwise make every page of the `.bin` count
    /// in the process's resident memory. A fault maps the neighbouring cached pages too (Linux's
    /// fault-around, 64 KiB), so each read counts its bytes plus two such windows: the resident pages of the
    /// mapping stay under about twice the interval however small the reads are.
    private func noteRead(_ bytes: Int) {
        readSinceRelease += bytes + 2 * (64 << 10)
        guard readSinceRelease >= releaseInterval, let base = bin.baseAddress else { return }
        readSinceRelease = 0
        _ = madvise(UnsafeMutableRawPointer(mutating: base), bin.count, MADV_DONTNEED)
    }

    /// The ids of document `d` (its sequences concatenated).
    public func document(_ d: Int) -> [Int32] {
        (Int(documentIndices[d]) ..< Int(documentIndices[d + 1])).flatMap { sequence($0) }
    }
}

/// Parses and checks an `.idx` file's bytes (header, sizes, pointers, document indices).
func parseIndex(_ idx: [UInt8], path idxPath: String) throws -> (dtype: IndexedDType, lengths: [Int32], pointers: [Int64], documents: [Int64]) {
    func fail(_ m: String) -> DatasetError { DatasetError(path: idxPath, m) }
    guard idx.count >= 34 else { throw fail("\(idx.count) bytes, shorter than the 34-byte header") }
    guard Array(idx[0 ..< 9]) == indexMagic else { throw fail("not a Megatron index (magic is not MMIDIDX)") }
    func u64(_ at: Int) -> UInt64 { idx.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) } }
    guard u64(9) == 1 else { throw fail("version \(u64(9)), expected 1") }
    guard let dt = IndexedDType(rawValue: idx[17]) else { throw fail("unknown dtype code \(idx[17])") }
    guard dt == .uint16 || dt == .int32 else { throw fail("dtype \(dt) is not a token id type (uint16 or int32)") }
    let s = u64(18), d = u64(26)
    guard s < (1 << 40), d >= 1, d < (1 << 40) else { throw fail("implausible counts: \(s) sequences, \(d) document indices") }
    let S = Int(s), D = Int(d)
    let expected = 34 + 12 * S + 8 * D
    if idx.count == expected + S && S > 0 { throw fail("multimodal index (sequence modes present); not supported") }
    guard idx.count == expected else {
        throw fail("size \(idx.count) bytes, but the header (\(S) sequences, \(D) document indices) needs \(expected)")
    }
    let (lengths, pointers, documents) = idx.withUnsafeBytes { raw -> ([Int32], [Int64], [Int64]) in
        ((0 ..< S).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 34 + 4 * $0, as: Int32.self)) },
         (0 ..< S).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 34 + 4 * S + 8 * $0, as: Int64.self)) },
         (0 ..< D).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 34 + 12 * S + 8 * $0, as: Int64.self)) })
    }
    var expectedPointer: Int64 = 0
    for i in 0 ..< S {
        guard lengths[i] >= 0 else { throw fail("sequence \(i) has negative length \(lengths[i])") }
        guard pointers[i] == expectedPointer else { throw fail("sequence \(i) starts at byte \(pointers[i]), expected \(expectedPointer)") }
        expectedPointer += Int64(lengths[i]) * Int64(dt.itemSize)
    }
    guard documents.first == 0, documents.last == Int64(S), zip(documents, documents.dropFirst()).allSatisfy({ $0 <= $1 }) else {
        throw fail("document indices must rise from 0 to the sequence count \(S)")
    }
    return (dt, lengths, pointers, documents)
}

func readWholeFile(_ path: String) throws -> [UInt8] {
    let map = try mapFile(path)
    defer { unmap(map) }
    return Array(map)
}

/// Maps a file read-only; an empty file maps to an empty buffer.
func mapFile(_ path: String) throws -> UnsafeRawBufferPointer {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw DatasetError(path: path, "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw DatasetError(path: path, "cannot stat: \(String(cString: strerror(errno)))") }
    let size = Int(st.st_size)
    if size == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
        throw DatasetError(path: path, "cannot map: \(String(cString: strerror(errno)))")
    }
    return UnsafeRawBufferPointer(start: p, count: size)
}

func unmap(_ buffer: UnsafeRawBufferPointer) {
    if let base = buffer.baseAddress, buffer.count > 0 { munmap(UnsafeMutableRawPointer(mutating: base), buffer.count) }
}
