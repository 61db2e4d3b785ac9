// In-process tests of the pipeline stages (the CLI suites keep the cases that need a process).
// Shared here: the corpus slice the stage tests read (the first documents of the bundled
// corpora/test.jsonl.zst, real Pile-format records) and small file helpers.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport
@testable import Pipeline

/// The first `n` records (without their line ends) of corpora/test.jsonl.zst.
func testCorpusRecords(_ n: Int) throws -> [[UInt8]] {
    let reader = CorpusReader(inputs: [packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path],
                              options: ReadOptions(), warn: { _ in })
    var records: [[UInt8]] = []
    while records.count < n, let batch = try reader.nextBatch() {
        for i in 0 ..< batch.count where records.count < n {
            var r = Array(batch.bytes[batch.starts[i] ..< batch.ends[i]])
            while let l = r.last, l == 0x0A || l == 0x0D { r.removeLast() }
            records.append(r)
        }
    }
    return records
}

/// Writes `records` as JSON Lines to `dir/name` and returns the path.
func writeLines(_ records: [[UInt8]], to dir: URL, _ name: String) throws -> String {
    let url = dir.appendingPathComponent(name)
    try Data(records.flatMap { $0 + [0x0A] }).write(to: url)
    return url.path
}

/// Writes `records` as `shards` JSON Lines files `dir/name-K.jsonl`, in order, and returns their paths.
/// subtle: a reader's batch is whatever its 4 MiB buffer holds, so a small corpus is one batch per
/// file; several files are how the tests get several batches in flight.
func writeShards(_ records: [[UInt8]], to dir: URL, _ name: String, shards: Int) throws -> [String] {
    let per = (records.count + shards - 1) / shards
    return try stride(from: 0, to: records.count, by: per).enumerated().map { k, start in
        try writeLines(Array(records[start ..< min(start + per, records.count)]), to: dir, "\(name)-\(k).jsonl")
    }
}

/// A reader over `paths` with small batches.
func smallBatchReader(_ paths: [String], options: ReadOptions = ReadOptions(), warn: @escaping (String) -> Void = { _ in }) -> CorpusReader {
    CorpusReader(inputs: paths, options: options, batchBytes: 8 << 10, warn: warn)
}

/// Every document of `paths`.
func readDocuments(_ paths: [String], options: ReadOptions = ReadOptions()) throws -> [Document] {
    var docs: [Document] = []
    try CorpusReader(inputs: paths, options: options, warn: { _ in }).forEachDocument { docs.append($0) }
    return docs
}
