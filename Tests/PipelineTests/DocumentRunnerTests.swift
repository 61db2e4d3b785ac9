// The runner: results in input order whatever the thread count, read totals, skips counted by reason
// and warned in input order, a stage's error surfaced, and the worker pool's reuse.
import CorpusIO
import Foundation
import Synchronization
import Testing
import TokenMillTestSupport
@testable import Pipeline

/// Each document's line and byte count, in batch order.
private struct LineStage: DocumentStage {
    func process(_ batch: DecodedBatch) -> [String] {
        batch.documents.map { "\($0.location.path):\($0.location.line ?? -1):\($0.text.utf8.count)" }
    }
}

private struct FailingStage: DocumentStage {
    struct Boom: Error, Equatable { var line: Int }
    let failAt: Int
    func process(_ batch: DecodedBatch) throws -> Int {
        for d in batch.documents where d.location.line == failAt { throw Boom(line: failAt) }
        return batch.documents.count
    }
}

@Suite struct DocumentRunnerTests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("runner") }

    @Test(arguments: [1, 2, 5])
    func resultsComeInInputOrder(threads: Int) throws {
        let records = try testCorpusRecords(150)
        let paths = try writeShards(records, to: dir, "slice", shards: 15)
        var lines: [String] = []
        let totals = try DocumentRunner(threads: threads).run(LineStage(), reader: smallBatchReader(paths)) { lines += $0 }
        let docs = try readDocuments(paths)
        #expect(lines == docs.map { "\($0.location.path):\($0.location.line!):\($0.text.utf8.count)" })
        #expect(totals.documents == 150 && totals.bytes == docs.reduce(0) { $0 + $1.text.utf8.count })
        #expect(totals.skipped.total == 0)
    }

    @Test func skipsAreCountedByReasonAndWarnedInOrder() throws {
        let bad = "{\"text\":\"one\"}\nnot json\n{\"body\":1}\n{\"text\":\"two\"}\n[1]\n{\"text\":3}\n"
        let path = dir.appendingPathComponent("bad.jsonl").path
        try Data(bad.utf8).write(to: URL(fileURLWithPath: path))
        var options = ReadOptions()
        options.onError = .skip
        let warnings = Mutex<[String]>([])
        let runner = DocumentRunner(threads: 3, warn: { w in warnings.withLock { $0.append(w) } })
        var texts: [String] = []
        struct Texts: DocumentStage { func process(_ b: DecodedBatch) -> [String] { b.documents.map(\.text) } }
        let totals = try runner.run(Texts(), reader: smallBatchReader([path], options: options)) { texts += $0 }
        #expect(texts == ["one", "two"])
        #expect(totals.skipped.byReason == [.notJSON: 2, .missingField: 1, .notString: 1])
        #expect(totals.skipped.summary == "1 missing text field, 2 not JSON, 1 text field is not a string")
        let w = warnings.withLock { $0 }
        #expect(w.count == 4)
        #expect(zip(w, [":2", ":3", ":5", ":6"]).allSatisfy { $0.hasPrefix("warning: skipped \(path)\($1)") })
    }

    @Test func aStageErrorStopsTheRun() throws {
        let paths = try writeShards(try testCorpusRecords(60), to: dir, "slice", shards: 6)
        #expect(throws: FailingStage.Boom(line: 7)) {
            try DocumentRunner(threads: 2).run(FailingStage(failAt: 7), reader: smallBatchReader(paths)) { _ in }
        }
    }

    @Test func thePoolMakesAtMostOneObjectPerConcurrentUser() throws {
        let made = Mutex(0)
        let pool = WorkerPool<[Int]>(keep: 2) { made.withLock { $0 += 1 }; return [] }
        struct Borrow: DocumentStage {
            let pool: WorkerPool<[Int]>
            func process(_ b: DecodedBatch) throws -> Int { try pool.withWorker { _ in b.documents.count } }
        }
        let paths = try writeShards(try testCorpusRecords(100), to: dir, "slice", shards: 20)
        var n = 0
        try DocumentRunner(threads: 3).run(Borrow(pool: pool), reader: smallBatchReader(paths)) { n += $0 }
        #expect(n == 100)
        #expect((1 ... 3).contains(made.withLock { $0 }))
        // At most `keep` idle objects are kept: three given back, two taken without making.
        let a = try pool.take(), b = try pool.take(), c = try pool.take()
        let before = made.withLock { $0 }
        pool.give(a); pool.give(b); pool.give(c)
        _ = try pool.take(); _ = try pool.take(); _ = try pool.take()
        #expect(made.withLock { $0 } == before + 1)
    }
}
