// The count-words stage of `train-tokenizer`: pre-token counts of every document (one `WordCounter`
// per worker thread, summed in input order, so the counts do not depend on the thread count), kept in
// bounded memory by spilling sorted runs to disk and merging them at the end.
// Costs: the distinct pre-tokens held (about their bytes + 40 B each) up to `maxWords`, then one run
// file per spill; merging the runs streams them (one entry per run in memory).
import CorpusIO
import Foundation
import Tokenization

/// Counts the pre-tokens of a batch of documents.
public struct WordCountStage: DocumentStage {
    let counters: WorkerPool<WordCounter>

    /// - Throws: when the configured normalization cannot be opened.
    public init(config: BPETrainerConfig) {
        counters = WorkerPool { try WordCounter(config: config) }
    }

    public func process(_ batch: DecodedBatch) throws -> WordCounts {
        try counters.withWorker { counter in
            for doc in batch.documents { try counter.add(doc.text) }
            return counter.take()
        }
    }
}

/// Word counts in bounded memory: summed in memory until `maxWords` distinct words are held, then
/// written as a sorted run to `directory` and started again; the runs are removed on `deinit`.
public final class SpillingWordCounts {
    /// The counts held in memory (not yet spilled).
    public private(set) var words = WordCounts()
    /// The spilled runs, in order.
    public private(set) var runs: [String] = []
    /// Spill when this many distinct words are held (0: never).
    public let maxWords: Int
    public let directory: String

    /// Starts from `words` (e.g. counts read from files), held as they are.
    public init(_ words: WordCounts = WordCounts(), maxWords: Int = 0, directory: String = FileManager.default.temporaryDirectory.path) {
        self.words = words
        self.maxWords = maxWords
        self.directory = directory
    }

    deinit { for r in runs { try? FileManager.default.removeItem(atPath: r) } }

    /// Adds counts, spilling when the bound is reached.
    public func add(_ counts: WordCounts) throws {
        words.merge(counts)
        if maxWords > 0 && words.distinct >= maxWords { try spill() }
    }

    /// Writes the counts held as a sorted run and empties them.
    public func spill() throws {
        let path = directory + "/.tokenmill-words-\(getpid())-\(runs.count).run"
        try writeFileAtomically(words.sortedSerialized(), to: path)
        runs.append(path)
        words = WordCounts()
    }

    /// Spills what is held when runs exist, so that every count is in a run (before a streamed merge).
    /// Returns the number of runs, 0 when nothing was ever spilled.
    public func finishSpilling() throws -> Int {
        if !runs.isEmpty && words.distinct > 0 { try spill() }
        return runs.count
    }

    /// Every count in memory: the runs merged back (call `finishSpilling` first).
    public func merged() throws -> WordCounts {
        guard !runs.isEmpty else { return words }
        var all = words
        try mergeSortedRuns(runs) { word, c in all.add(word, count: c) }
        return all
    }

    /// Streams the merged runs into a word-count file at `path` without holding them in memory (call
    /// `finishSpilling` first; with no runs, writes the counts held).
    public func write(to path: String) throws {
        let out = try OutputFile(path: path, compress: false)
        try out.committing {
            if runs.isEmpty { try out.write(words.serialized()) } else { try mergeSortedRuns(runs, write: { try out.write($0) }) }
        }
    }
}

extension WordCountStage {
    /// Counts every document of `reader` into `counts`; returns what was read.
    public static func run(reader: CorpusReader, config: BPETrainerConfig, into counts: SpillingWordCounts,
                           runner: DocumentRunner) throws -> ReadTotals {
        try runner.run(WordCountStage(config: config), reader: reader) { try counts.add($0) }
    }
}
