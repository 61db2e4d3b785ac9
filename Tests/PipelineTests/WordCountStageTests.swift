// The count-words stage: counts independent of the thread count, and spilling (many sorted runs
// merged at the end) giving the same counts and the same count file as counting in memory.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport
import Tokenization
@testable import Pipeline

private func table(_ w: WordCounts) -> [String: UInt64] {
    var t: [String: UInt64] = [:]
    w.forEach { t[String(decoding: $0, as: UTF8.self) + "\u{0}\($0.count)", default: 0] += $1 }
    return t
}

@Suite struct WordCountStageTests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("word-count-stage") }

    private func count(_ inputs: [String], threads: Int, maxWords: Int) throws -> (SpillingWordCounts, ReadTotals) {
        var config = BPETrainerConfig()
        config.preset = .gpt2
        config.specialTokens = ["<|endoftext|>"]
        let counts = SpillingWordCounts(maxWords: maxWords, directory: dir.path)
        let read = try WordCountStage.run(reader: smallBatchReader(inputs), config: config, into: counts, runner: DocumentRunner(threads: threads))
        return (counts, read)
    }

    @Test func spillingGivesTheSameCountsAndFile() throws {
        let input = try writeShards(try testCorpusRecords(100), to: dir, "in", shards: 20)
        let (memory, read) = try count(input, threads: 1, maxWords: 0)
        let runs = try memory.finishSpilling()
        #expect(runs == 0)
        let inMemory = try memory.merged()
        #expect(read.documents == 100 && inMemory.distinct > 1000)
        // Spilled, merged, written: checked in a function, so that the counts' owner is gone after it.
        let runPaths = try checkSpilled(input, against: inMemory)
        #expect(runPaths.count > 3)
        #expect(runPaths.allSatisfy { !FileManager.default.fileExists(atPath: $0) })   // removed with their owner
    }

    private func checkSpilled(_ input: [String], against inMemory: WordCounts) throws -> [String] {
        let (spilled, _) = try count(input, threads: 3, maxWords: 500)
        _ = try spilled.finishSpilling()
        #expect(spilled.runs.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        let merged = try spilled.merged()
        #expect(merged.total == inMemory.total && merged.distinct == inMemory.distinct)
        #expect(table(merged) == table(inMemory))
        // The streamed count file reads back as the same counts.
        let file = dir.appendingPathComponent("counts.bin").path
        try spilled.write(to: file)
        let reread = try WordCounts.read(path: file)
        #expect(table(reread) == table(inMemory))
        return spilled.runs
    }

    @Test func countsDoNotDependOnThreads() throws {
        let input = try writeShards(try testCorpusRecords(60), to: dir, "in", shards: 12)
        let (a, _) = try count(input, threads: 1, maxWords: 0)
        let (b, _) = try count(input, threads: 4, maxWords: 0)
        let (ma, mb) = (try a.merged(), try b.merged())
        #expect(table(ma) == table(mb))
    }
}

@Suite struct TokenizerTrainingJobTests {
    /// Counting two shards into count files (one spilling) and training from the files writes the same
    /// tokenizer.json as training from the whole corpus.
    @Test func trainingFromSavedCountsEqualsTrainingFromTheCorpus() throws {
        let dir = try makeTemporaryDirectory("training-job")
        let shards = try writeShards(try testCorpusRecords(60), to: dir, "in", shards: 6)
        var config = BPETrainerConfig()
        config.vocabSizes = [400, 600]
        config.specialTokens = ["<|endoftext|>"]
        func job(_ f: (inout TokenizerTrainingJob) -> Void) -> TokenizerTrainingJob {
            var j = TokenizerTrainingJob(config: config)
            j.spillDirectory = dir.path
            f(&j)
            return j
        }
        var log: [String] = []
        let runner = DocumentRunner(threads: 2)
        try job { $0.output = dir.appendingPathComponent("whole.json").path }
            .run(makeReader: { smallBatchReader(shards) }, runner: runner, log: { log.append($0) })
        try job { $0.saveCounts = dir.appendingPathComponent("a.counts").path; $0.maxWords = 300 }
            .run(makeReader: { smallBatchReader(Array(shards[..<3])) }, runner: runner, log: { log.append($0) })
        try job { $0.saveCounts = dir.appendingPathComponent("b.counts").path }
            .run(makeReader: { smallBatchReader(Array(shards[3...])) }, runner: runner, log: { log.append($0) })
        try job { $0.countFiles = [dir.appendingPathComponent("a.counts").path, dir.appendingPathComponent("b.counts").path]
                  $0.output = dir.appendingPathComponent("parts.json").path }
            .run(makeReader: nil, runner: runner, log: { log.append($0) })
        for size in [400, 600] {
            let whole = try Data(contentsOf: dir.appendingPathComponent("whole-\(size).json"))
            let parts = try Data(contentsOf: dir.appendingPathComponent("parts-\(size).json"))
            #expect(whole == parts, "size \(size)")
            #expect(try Tokenizer.load(path: dir.appendingPathComponent("whole-\(size).json").path).vocabularySize == size)
        }
        #expect(log.contains { $0.hasPrefix("train-tokenizer: merging ") && $0.hasSuffix(" spilled runs") })
        #expect(log.contains { $0.hasPrefix("train-tokenizer: wrote \(dir.path)/whole-600.json: 600 tokens, ") })
        // No spilled run is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".run") }.isEmpty)
    }
}
