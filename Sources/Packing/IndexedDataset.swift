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
    }

    /// What a resumed writer needs: the index so far (the `.bin` bytes it describes are in the
    /// partial file).
    public struct Checkpoint: Sendable {
        public var dtype: IndexedDType
        public var lengths: [Int32]
        public var documentIndices: [Int64]
        public var maxID: Int64
    }

    /// Flushes `.bin` and writes the index so far to `.PREFIX.idx.partial` (atomically); with the
    /// partial `.bin`, a later run continues from here.
    public func checkpoint() throws {
        try bin.flush()
        let path = OutputFile.partialPath(prefix + ".idx")
        let out = try OutputFile(path: path, compress: false)
        try writeIndex(to: out)
        try out.commit()
    }

    /// Reads the checkpoint `checkpoint()` wrote for `prefix`, or nil when there is none.
    public static func loadCheckpoint(prefix: String) throws -> Checkpoint? {
        let path = OutputFile.partialPath(prefix + ".idx")
        guard let idx = try? readWholeFile(path) else { return nil }
        let parsed = try parseIndex(idx, path: path)
        guard parsed.documents.last == Int64(parsed.lengths.count) else {
            throw DatasetError(path: path, "the checkpoint ends inside a document")
        }
        var maxID: Int64 = -1
        let binPath = OutputFile.partialPath(prefix + ".bin")
        let bin = try mapFile(binPath)
        defer { unmap(bin) }
        let need = parsed.lengths.reduce(Int64(0)) { $0 + Int64($1) } * Int64(parsed.dtype.itemSize)
        guard Int64(bin.count) >= need else { throw DatasetError(path: binPath, "\(bin.count) bytes, the checkpoint needs \(need)") }
        for k in 0 ..< Int(need) / parsed.dtype.itemSize {
            let v = parsed.dtype == .uint16 ? Int64(bin.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)) : Int64(bin.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self))
            maxID = max(maxID, v)
        }
        return Checkpoint(dtype: parsed.dtype, lengths: parsed.lengths, documentIndices: parsed.documents, maxID: maxID)
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
    /// Bytes of `bin` read since its pages were last released (see `noteRead`).
    private var readSinceRelease = 0
    /// After this many bytes counted by `noteRead`, the mapping's resident pages are dropped.
    private let releaseInterval: Int

    /// - Parameter releaseEvery: drop the mapping's resident pages after this many bytes read (see `noteRead`).
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
