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

    private func count(_ inputs: [String], threads: Int, maxWords: Int, maxBytes: Int = 0) throws -> (SpillingWordCounts, ReadTotals) {
        var config = BPETrainerConfig()
        config.preset = .gpt2
        config.specialTokens = ["<|endoftext|>"]
        let counts = SpillingWordCounts(maxWords: maxWords, maxBytes: maxBytes, directory: dir.path)
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

    /// Counting within 64 KiB of tables spills (and never lets them grow) and gives the same counts.
    @Test func spillingByBytesGivesTheSameCounts() throws {
        let input = try writeShards(try testCorpusRecords(100), to: dir, "in", shards: 20)
        let (memory, _) = try count(input, threads: 1, maxWords: 0)
        let inMemory = try memory.merged()
        let (bounded, _) = try count(input, threads: 2, maxWords: 0, maxBytes: 64 << 10)
        #expect(bounded.words.memoryBytes <= 64 << 10 + 4096, "the tables grew to \(bounded.words.memoryBytes) bytes")
        #expect(try bounded.finishSpilling() > 3)
        let merged = try bounded.merged()
        #expect(merged.total == inMemory.total && table(merged) == table(inMemory))
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
        // No spilled run or scratch directory is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".run") || $0.hasPrefix(".") }.isEmpty)
    }
}

@Suite struct MaxMemoryTrainingJobTests {
    /// On the bundled test split: a bound that holds everything gives the same tokenizer.json as no
    /// bound; a bound below the merge phase's need sets the rarest pre-tokens aside, says so, and still
    /// writes the full vocabulary; a bound below the minimum is an error naming it.
    @Test func boundedRunsEqualTheExactOneOrReportTheirReduction() throws {
        let dir = try makeTemporaryDirectory("max-memory-job")
        let shards = try writeShards(try testCorpusRecords(259), to: dir, "in", shards: 4)
        var config = BPETrainerConfig()
        config.vocabSizes = [600]
        config.preset = .cl100k
        func run(_ name: String, _ f: (inout TokenizerTrainingJob) -> Void) throws -> (json: Data, log: [String]) {
            var j = TokenizerTrainingJob(config: config)
            j.spillDirectory = dir.path
            j.output = dir.appendingPathComponent("\(name).json").path
            f(&j)
            var log: [String] = []
            try j.run(makeReader: { smallBatchReader(shards) }, runner: DocumentRunner(threads: 2), log: { log.append($0) })
            return (try Data(contentsOf: dir.appendingPathComponent("\(name).json")), log)
        }
        let counts = dir.appendingPathComponent("all.counts").path
        let exact = try run("exact") { $0.saveCounts = counts }
        let histogram = PreTokenHistogram(try WordCounts.read(path: counts), vocabSize: 600)
        let all = histogram.kept(threshold: 1)
        #expect(all.words > 10_000, "\(all.words) pre-tokens of 2+ bytes")

        let roomy = try run("roomy") { $0.maxMemory = 1 << 30 }
        #expect(roomy.json == exact.json)
        #expect(!roomy.log.contains { $0.contains("set aside") })

        // Half the words' memory: no reserve, so the bound is the merge phase's fixed part and the words
        // (and one run reader: the count table is spilled to make room).
        let fixed = BPETrainer.fixedMemory(vocabSize: 600)
        let reduced = try run("reduced") { $0.reservedMemory = 0; $0.maxMemory = fixed + all.cost / 2 + runReaderBytes }
        let t = try #require(histogram.threshold(budget: all.cost / 2))
        #expect(t > 1 && histogram.kept(threshold: t).cost <= all.cost / 2)
        let aside = histogram.setAside(threshold: t)
        let line = try #require(reduced.log.first { $0.contains("set aside") })
        #expect(line.contains("set aside the \(formatCount(aside.words)) distinct pre-tokens counted fewer than \(t) times (of \(formatCount(histogram.distinct)))"), "\(line)")
        #expect(line.contains(String(format: "%.2f%%", 100 * Double(aside.corpusBytes) / Double(histogram.corpusBytes))), "\(line)")
        #expect(try Tokenizer.load(path: dir.appendingPathComponent("reduced.json").path).vocabularySize == 600)

        #expect(throws: TokenizerError.self) { try run("tiny") { $0.reservedMemory = 0; $0.maxMemory = fixed } }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("tiny.json").path))
    }
}

@Test func memorySizesParseInPowersOf1024() {
    #expect(parseMemorySize("512M") == 512 << 20)
    #expect(parseMemorySize("4G") == 4 << 30 && parseMemorySize("4GiB") == 4 << 30 && parseMemorySize("4GB") == 4 << 30 && parseMemorySize("4g") == 4 << 30)
    #expect(parseMemorySize("1.5G") == 3 << 29)
    #expect(parseMemorySize("2T") == 2 << 40 && parseMemorySize("64K") == 64 << 10 && parseMemorySize("1000") == 1000)
    for bad in ["", "G", "lots", "4Q", "-1G", "4 G B", "1e3"] { #expect(parseMemorySize(bad) == nil, "\(bad)") }
    #expect(formatMemory(4 << 30) == "4 GiB" && formatMemory(300 << 20) == "300 MiB" && formatMemory(3 << 29) == "1.50 GiB")
}
