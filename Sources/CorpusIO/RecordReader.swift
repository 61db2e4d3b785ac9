// Splits a byte stream into records — JSON lines, blank-line separated text blocks, or the whole
// stream — and hands them out in batches of about `batchBytes`, ready to be decoded on any thread.
// Policy: a record is never split across batches; a record longer than the buffer grows the buffer
// (a single 50 MB line works), otherwise memory stays at one buffer plus the batches in flight.
// Cost: one memchr pass and one copy per byte.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How records are laid out in an input.
public enum RecordLayout: String, Sendable, CaseIterable {
    /// One JSON object per line.
    case jsonl
    /// The whole input is one document.
    case textFile = "file"
    /// Documents are separated by blank lines.
    case textBlocks = "blocks"
}

/// Complete records of one input, copied out of the read buffer.
public struct RecordBatch: Sendable {
    public var path: String
    /// The position of this batch's input in the reader's input list (0-based).
    public var inputIndex: Int = 0
    public var layout: RecordLayout
    /// The records' bytes back to back (line terminators included for JSON lines).
    public var bytes: [UInt8]
    /// Record `i` is `bytes[starts[i] ..< ends[i]]`.
    public var starts: [Int]
    public var ends: [Int]
    /// The 1-based line each record starts on.
    public var lines: [Int]
    /// Offset of `bytes[0]` in the (decompressed) stream.
    public var streamOffset: Int64

    public var count: Int { starts.count }
}

/// Reads records from a byte source.
public final class RecordReader {
    public let source: ByteSource
    public let layout: RecordLayout
    public let batchBytes: Int
    private var buffer: UnsafeMutableRawBufferPointer
    private var begin = 0          // first byte not yet handed out
    private var end = 0            // one past the last byte read
    private var scan = 0           // where the newline search resumes
    private var line = 1           // line number at `scan`
    private var bufferOffset: Int64 = 0  // stream offset of buffer[0]
    private var eof = false
    // Records found in buffer[begin..<scan] but not yet handed out.
    private var starts: [Int] = [], ends: [Int] = [], lines: [Int] = []
    // Blank-line blocks: the current block's first byte and line (nil when between blocks).
    private var blockStart: Int? = nil, blockLine = 0, blockEnd = 0

    public init(source: ByteSource, layout: RecordLayout, batchBytes: Int = 1 << 20) {
        self.source = source
        self.layout = layout
        self.batchBytes = batchBytes
        buffer = .allocate(byteCount: max(4 << 20, batchBytes * 2), alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// The next batch, or nil at the end of the stream.
    public func next() throws -> RecordBatch? {
        while true {
            if layout != .textFile { findRecords() }
            if eof { return finish() }
            let pending = starts.isEmpty ? 0 : (ends.last! - starts.first!)
            if pending >= batchBytes { return takeBatch() }
            try fill()
        }
    }

    /// Scans buffer[scan..<end] for line ends and records the complete records.
    private func findRecords() {
        let base = buffer.baseAddress!
        while scan < end {
            guard let hit = memchr(base + scan, 0x0A, end - scan) else { return }
            let nl = base.distance(to: UnsafeMutableRawPointer(hit))
            let lineStart = scan
            scan = nl + 1
            switch layout {
            case .jsonl:
                if !isBlank(lineStart, nl) { starts.append(lineStart); ends.append(scan); lines.append(line) }
                else if starts.isEmpty { begin = scan }
            case .textBlocks:
                if isBlank(lineStart, nl) {
                    if let s = blockStart { starts.append(s); ends.append(blockEnd); lines.append(blockLine); blockStart = nil }
                    else if starts.isEmpty { begin = scan }
                } else {
                    if blockStart == nil { blockStart = lineStart; blockLine = line }
                    blockEnd = nl > lineStart && buffer[nl - 1] == 0x0D ? nl - 1 : nl
                }
            case .textFile: break
            }
            line += 1
        }
    }

    private func isBlank(_ from: Int, _ to: Int) -> Bool {
        var i = from
        while i < to {
            let b = buffer[i]
            if b != 0x20 && b != 0x09 && b != 0x0D { return false }
            i += 1
        }
        return true
    }

    /// Copies the found records out as a batch and releases their bytes.
    private func takeBatch() -> RecordBatch {
        let from = starts.first!, to = ends.last!
        let bytes = Array(UnsafeRawBufferPointer(rebasing: buffer[from ..< to]))
        let batch = RecordBatch(path: source.path, layout: layout, bytes: bytes,
                                starts: starts.map { $0 - from }, ends: ends.map { $0 - from }, lines: lines,
                                streamOffset: bufferOffset + Int64(from))
        begin = max(begin, to)
        if layout == .textBlocks, blockStart == nil { begin = max(begin, scan) }
        starts.removeAll(keepingCapacity: true); ends.removeAll(keepingCapacity: true); lines.removeAll(keepingCapacity: true)
        return batch
    }

    /// At the end of the stream: the last record without a line terminator, or nothing.
    private func finish() -> RecordBatch? {
        switch layout {
        case .jsonl:
            if scan < end, !isBlank(scan, end) { starts.append(scan); ends.append(end); lines.append(line) }
            scan = end
        case .textBlocks:
            if !isBlank(scan, end) {
                if blockStart == nil { blockStart = scan; blockLine = line }
                blockEnd = end
            }
            if let s = blockStart { starts.append(s); ends.append(blockEnd); lines.append(blockLine); blockStart = nil }
            scan = end
        case .textFile:
            if !eofDone && end > 0 { starts.append(0); ends.append(end); lines.append(1) }
            eofDone = true
        }
        if starts.isEmpty { return nil }
        let batch = takeBatch()
        begin = end
        return batch
    }
    private var eofDone = false

    /// Reads more bytes, first moving unfinished data to the front and growing the buffer when a
    /// record fills it.
    private func fill() throws {
        let keep = layout == .textFile ? 0 : min(begin, blockStart ?? begin, starts.first ?? begin)
        if keep > 0 {
            let base = buffer.baseAddress!
            memmove(base, base + keep, end - keep)
            bufferOffset += Int64(keep)
            end -= keep; begin -= keep; scan -= keep
            if let s = blockStart { blockStart = s - keep; blockEnd -= keep }
            for i in starts.indices { starts[i] -= keep; ends[i] -= keep }
        }
        if end == buffer.count {
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 64)
            bigger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
            buffer.deallocate()
            buffer = bigger
        }
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        if n == 0 { eof = true } else { end += n }
    }
}
