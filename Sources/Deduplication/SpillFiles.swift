// Buffered binary files of little-endian UInt64 words, and an external sort of fixed-size records
// through them: the disk side of dedup (signatures, exact keys and band keys are spilled, sorted in
// runs and merged, never held whole).
// Policy: a run holds at most `memoryRecords` records; each full buffer is sorted and written as one run
// file; reading merges the runs with a binary heap. Ties keep the order records were appended in (the
// position field breaks them anyway). Files live in a caller-given directory the caller removes.
// Cost: memory = memoryRecords × 24 bytes + a 64 KiB read buffer per run; disk = 24 bytes a record.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A failure reading or writing a dedup or decontamination file, naming the file.
public struct DeduplicationError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
}

/// Appends UInt64 words to a scratch file (a sort run) through a 1 MiB buffer.
final class WordWriter {
    let path: String
    private let fd: Int32
    private var buffer: [UInt64] = []
    private let capacity = 1 << 17
    private(set) var wordsWritten: Int64 = 0

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw DeduplicationError(path: path, "cannot create: \(String(cString: strerror(errno)))") }
        buffer.reserveCapacity(capacity)
    }

    deinit { if fd >= 0 { close(fd) } }

    @inline(__always)
    func write(_ word: UInt64) throws {
        buffer.append(word.littleEndian)
        if buffer.count == capacity { try flush() }
    }

    func flush() throws {
        try buffer.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DeduplicationError(path: path, "write failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
        wordsWritten += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered (no fsync: spill files are scratch); the file closes with the writer.
    func finish() throws { try flush() }
}

/// Reads UInt64 words from a file through a buffer.
final class WordReader {
    let path: String
    private let fd: Int32
    private var buffer: [UInt64]
    private var count = 0
    private var next = 0
    /// Words read so far (for error messages: the byte offset is 8 × this).
    private(set) var wordsRead: Int64 = 0

    init(path: String, bufferWords: Int = 1 << 13) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw DeduplicationError(path: path, "cannot open: \(String(cString: strerror(errno)))") }
        buffer = [UInt64](repeating: 0, count: bufferWords)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The next word, or nil at the end of the file.
    @inline(__always)
    func read() throws -> UInt64? {
        if next == count {
            try refill()
            if count == 0 { return nil }
        }
        let w = buffer[next]
        next += 1
        wordsRead += 1
        return UInt64(littleEndian: w)
    }

    /// The next word; the end of the file here is an error naming `what`.
    func require(_ what: String) throws -> UInt64 {
        guard let w = try read() else {
            throw DeduplicationError(path: path, "truncated at byte \(wordsRead * 8): expected \(what)")
        }
        return w
    }

    private func refill() throws {
        var got = 0
        let capacityBytes = buffer.count * 8
        try buffer.withUnsafeMutableBytes { raw in
            while got < capacityBytes {
                let n = Glibc.read(fd, raw.baseAddress! + got, capacityBytes - got)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DeduplicationError(path: path, "read failed: \(String(cString: strerror(errno)))")
                }
                if n == 0 { break }
                got += n
            }
        }
        if got % 8 != 0 { throw DeduplicationError(path: path, "size is not a multiple of 8 bytes (truncated?)") }
        count = got / 8
        next = 0
    }
}

/// A record of the external sort: a 128-bit key and the document's input position.
public struct KeyedPosition: Comparable, Sendable {
    public var key0: UInt64
    public var key1: UInt64
    public var position: UInt64
    public init(_ key0: UInt64, _ key1: UInt64, _ position: UInt64) { self.key0 = key0; self.key1 = key1; self.position = position }
    public static func < (l: Self, r: Self) -> Bool {
        (l.key0, l.key1, l.position) < (r.key0, r.key1, r.position)
    }
    public func sameKey(_ other: Self) -> Bool { key0 == other.key0 && key1 == other.key1 }
}

/// Sorts any number of `KeyedPosition`s in bounded memory: sorted runs on disk, merged on reading.
public final class ExternalSorter {
    public let directory: String
    public let name: String
    public let memoryRecords: Int
    private var buffer: [KeyedPosition] = []
    private var runs: [String] = []
    public private(set) var count = 0

    /// - Parameters:
    ///   - directory: where run files go (an existing scratch directory).
    ///   - name: a prefix for the run files, unique within `directory`.
    ///   - memoryRecords: records held before a run is sorted and written (24 bytes each).
    public init(directory: String, name: String, memoryRecords: Int) {
        precondition(memoryRecords >= 2, "an external sort needs room for 2 records")
        self.directory = directory
        self.name = name
        self.memoryRecords = memoryRecords
    }

    public func append(_ r: KeyedPosition) throws {
        buffer.append(r)
        count += 1
        if buffer.count >= memoryRecords { try spill() }
    }

    private func spill() throws {
        buffer.sort()
        let path = "\(directory)/\(name).run\(runs.count)"
        let w = try WordWriter(path: path)
        for r in buffer { try w.write(r.key0); try w.write(r.key1); try w.write(r.position) }
        try w.finish()
        runs.append(path)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Every record appended, in ascending order, through `body`; then the run files are removed.
    public func forEachSorted(_ body: (KeyedPosition) throws -> Void) throws {
        defer { for r in runs { unlink(r) } }
        if runs.isEmpty {
            buffer.sort()
            for r in buffer { try body(r) }
            buffer = []
            return
        }
        if !buffer.isEmpty { try spill() }
        buffer = []
        let readers = try runs.map { try WordReader(path: $0) }
        func next(_ i: Int) throws -> KeyedPosition? {
            guard let k0 = try readers[i].read() else { return nil }
            return KeyedPosition(k0, try readers[i].require("a key"), try readers[i].require("a position"))
        }
        // A binary min-heap of (record, run index).
        var heap: [(KeyedPosition, Int)] = []
        func less(_ x: (KeyedPosition, Int), _ y: (KeyedPosition, Int)) -> Bool { x.0 < y.0 || (x.0 == y.0 && x.1 < y.1) }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m); i = m
            }
        }
        for i in readers.indices { if let r = try next(i) { heap.append((r, i)) } }
        for i in stride(from: heap.count / 2, through: 0, by: -1) { siftDown(i) }
        while let top = heap.first {
            try body(top.0)
            if let r = try next(top.1) { heap[0] = (r, top.1) } else { heap[0] = heap[heap.count - 1]; heap.removeLast() }
            if !heap.isEmpty { siftDown(0) }
        }
    }
}
