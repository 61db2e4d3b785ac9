// `tokenmill split`: one streaming pass over a corpus into N zstd JSON Lines parts of balanced size, so
// that `--shard I/N` (InputShardPlan) has whole files to hand out and each shard task reads only its part.
// Policy: a part boundary never splits a record, and the records keep their bytes: a JSON Lines record is
// copied as read (a newline added when the input's last line lacks one; blank lines, which are no
// records, are dropped); a plain-text document (.txt, --txt-layout) becomes {"text": …}. Parts are named
// part-IIIII-of-NNNNN.jsonl.zst (they sort in order) and written into a hidden staging directory inside
// the output directory; only when every part is complete are they renamed into place, the last part
// first and part 0 last, so an interrupted run leaves no part under its final name (a kill during those
// N renames can leave the later parts, never part 0 without the rest). A staging directory left by a
// killed split (its process gone) is removed by the next split into the same directory.
// The cut rule: the total decompressed size T is unknown in one pass over compressed input, so it is
// estimated as T̂ = S × D / C: S the inputs' size on disk, D/C the decompressed over compressed bytes read
// so far (exact for uncompressed input, and exact once everything is read). Part k (0-based) is closed
// after the record that brings it to (T̂ − bytes of parts 0…k−1) / (N − k), the remaining estimate shared
// by the parts left; the last part takes the rest. The estimate is taken when each ~1 MiB batch is read,
// so the cut depends only on the input bytes: the same input gives the same parts.
// Memory: the reader's 4 MiB buffer, one batch (about 1 MiB), and one zstd stream (level 3: a few MB).

import Foundation

/// What `splitCorpus` wrote.
public struct SplitReport: Sendable, Equatable {
    /// The parts' final paths, in order.
    public var parts: [String]
    /// Records and record bytes (uncompressed) per part.
    public var records: [Int]
    public var bytes: [Int64]
    /// Bytes read from the inputs (compressed, as stored).
    public var inputBytes: Int64
}

/// The name of part `index` of `count`: part-00003-of-00016.jsonl.zst.
public func splitPartName(_ index: Int, of count: Int) -> String {
    func five(_ n: Int) -> String { let s = String(n); return String(repeating: "0", count: max(0, 5 - s.count)) + s }
    return "part-\(five(index))-of-\(five(count)).jsonl.zst"
}

/// Splits what `reader` reads into `parts` files in `directory` (created if missing).
/// - Parameters:
///   - progress: records and record bytes written so far, after each batch.
/// - Throws: `CorpusError` for unreadable input (stdin has no size: `.noInput`), `OutputError` when
///   writing fails; the staging directory is removed and no part is left under its final name.
public func splitCorpus(reader: CorpusReader, parts n: Int, directory: String, zstdLevel: Int32 = 3,
                        progress: (Int, Int64) -> Void = { _, _ in }) throws -> SplitReport {
    precondition(n >= 1, "at least one part")
    let inputs = Array(reader.inputs[reader.files])
    var totalSize: Int64 = 0
    for path in inputs {
        var st = stat()
        guard path != "-" else { throw CorpusError(.noInput, at: SourceLocation(path: "<stdin>"), "split needs the input's size to balance the parts; give files, not stdin") }
        guard stat(path, &st) == 0 else { throw CorpusError(.io, at: SourceLocation(path: path), "cannot stat: \(String(cString: strerror(errno)))") }
        totalSize += Int64(st.st_size)
    }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    // Parts of another count already there would mix with these when the directory is sharded.
    // The staging directory of a split that was killed (its process is gone) is garbage: remove it.
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasPrefix(".split-") {
        let fields = name.split(separator: "-")
        if fields.count == 3, let pid = pid_t(fields[1]), kill(pid, 0) != 0 && errno == ESRCH {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }
    let ours = Set((0 ..< n).map { splitPartName($0, of: n) })
    let stale = (try FileManager.default.contentsOfDirectory(atPath: directory)).filter {
        $0.hasPrefix("part-") && $0.hasSuffix(".jsonl.zst") && !ours.contains($0)
    }.sorted()
    if let first = stale.first {
        throw CorpusError(.io, at: SourceLocation(path: directory + "/" + first), "a part of another split is in the output directory; remove it or choose another directory")
    }
    let staging = directory + "/.split-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
    TemporaryFiles.registerDirectory(staging)
    defer { try? FileManager.default.removeItem(atPath: staging); TemporaryFiles.unregisterDirectory(staging) }

    var report = SplitReport(parts: (0 ..< n).map { directory + "/" + splitPartName($0, of: n) }, records: [], bytes: [], inputBytes: 0)
    var part = 0, partRecords = 0, partBytes: Int64 = 0, closedBytes: Int64 = 0, allRecords = 0
    var out: OutputFile? = nil
    func open() throws { out = try OutputFile(path: staging + "/" + splitPartName(part, of: n), compress: true, zstdLevel: zstdLevel) }
    var pending: [UInt8] = []
    pending.reserveCapacity(1 << 20)
    func close() throws {
        try out!.write(pending)
        pending.removeAll(keepingCapacity: true)
        try out!.commit()
        out = nil
        report.records.append(partRecords); report.bytes.append(partBytes)
        closedBytes += partBytes
        partRecords = 0; partBytes = 0; part += 1
    }
    do {
        try open()
        while let batch = try reader.nextBatch() {
            // The estimate of the whole decompressed size, from the ratio read so far.
            let compressed = reader.inputBytesRead, decompressed = reader.decompressedBytesRead
            let estimate = compressed > 0 ? Int64(Double(totalSize) * Double(decompressed) / Double(compressed)) : totalSize
            let documents = batch.layout == .jsonl ? nil : try decodeDocuments(batch, options: reader.options).documents
            for i in 0 ..< (documents?.count ?? batch.count) {
                let before = pending.count
                if let documents {
                    documents[i].appendJSONLine(to: &pending, textPath: reader.options.textPath)
                } else {
                    pending.append(contentsOf: batch.bytes[batch.starts[i] ..< batch.ends[i]])
                    if pending.last != 0x0A { pending.append(0x0A) }
                }
                partRecords += 1; allRecords += 1
                partBytes += Int64(pending.count - before)
                if pending.count >= 1 << 20 { try out!.write(pending); pending.removeAll(keepingCapacity: true) }
                if part < n - 1 && partBytes >= (estimate - closedBytes) / Int64(n - part) {
                    try close()
                    try open()
                }
            }
            progress(allRecords, closedBytes + partBytes)
        }
        try close()
        while part < n {  // fewer records than parts: the rest are empty (one empty zstd frame each)
            try open()
            try close()
        }
        // Every part is complete: into place, the last first, part 0 last.
        for k in (0 ..< n).reversed() where rename(staging + "/" + splitPartName(k, of: n), report.parts[k]) != 0 {
            throw OutputError(path: report.parts[k], message: "cannot rename the finished part into place: \(String(cString: strerror(errno)))")
        }
    } catch {
        out?.abandon()
        throw error
    }
    report.inputBytes = reader.inputBytesRead
    return report
}
