// The count-words stage of `train-tokenizer`: pre-token counts of every document (one `WordCounter`
// per worker thread, summed in input order, so the counts do not depend on the thread count), kept in
// bounded memory by spilling sorted runs to disk and merging them at the end.
// Costs: the distinct pre-tokens held (their bytes + 44 B each) up to `maxWords` or `maxBytes`, then one
// run file per spill; merging the runs streams them (one entry per run in memory).
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

/// Word counts in bounded memory: summed in memory until `maxWords` distinct words are held or the next
/// word would make the tables outgrow `maxBytes`, then written as a sorted run to `directory` and
/// started again; the runs are removed on `deinit`.
public final class SpillingWordCounts {
    /// The counts held in memory (not yet spilled).
    public private(set) var words: WordCounts
    /// The spilled runs, in order.
    public private(set) var runs: [String] = []
    /// Spill when this many distinct words are held (0: never).
    public let maxWords: Int
    /// Spill before the tables would take more than this many bytes (0: no bound). The tables are
    /// reserved once at this size (pages are resident only once used): a power-of-two hash table at
    /// most half full, 44 bytes a word (`WordCounts.bytesPerWord`, the spill's sort order included),
    /// the rest for the words' bytes.
    public let maxBytes: Int
    public let directory: String

    /// Starts from `words` (e.g. counts read from files), held as they are; with `maxBytes`, starts empty.
    public init(_ words: WordCounts = WordCounts(), maxWords: Int = 0, maxBytes: Int = 0,
                directory: String = FileManager.default.temporaryDirectory.path) {
        self.maxWords = maxWords
        self.maxBytes = maxBytes
        self.directory = directory
        if maxBytes > 0 {
            precondition(words.distinct == 0, "bounded counts start empty")
            let (capacity, arena) = Self.layout(maxBytes)
            self.words = WordCounts(capacity: capacity, arenaCapacity: arena)
        } else {
            self.words = words
        }
    }

    /// The words and arena bytes a table of `maxBytes` holds: S/2 words for the largest power-of-two
    /// slot count S where each word's 32 bytes of fields and sort order, at least 12 bytes of text, and
    /// the 4-byte slots fit (S of them, and S/2 more while the slot array doubles to S); every byte
    /// left goes to the arena.
    static func layout(_ maxBytes: Int) -> (words: Int, arenaBytes: Int) {
        var slots = 16
        while (32 + 12) * slots + 6 * (slots * 2) <= maxBytes { slots *= 2 }
        let words = slots / 2
        return (words, max(1 << 10, maxBytes - 32 * words - 6 * slots))
    }

    deinit { for r in runs { try? FileManager.default.removeItem(atPath: r) } }

    /// Adds counts, spilling when a bound is reached.
    public func add(_ counts: WordCounts) throws {
        if maxBytes > 0 {
            try counts.forEachWord { try add(word: $0, count: $1) }
        } else {
            words.merge(counts)
        }
        if maxWords > 0 && words.distinct >= maxWords { try spill() }
    }

    /// Adds one word, spilling first when it would not fit in `maxBytes`.
    public func add(word: UnsafeBufferPointer<UInt8>, count: UInt64) throws {
        if maxBytes > 0 && !words.hasRoom(for: word) { try spill() }
        words.add(word, count: count)
    }

    /// Adds the counts of a word-count file, streamed (one entry at a time).
    public func add(countFile path: String) throws {
        try mergeSortedRuns([path]) { word, c in
            try word.withUnsafeBufferPointer { try add(word: $0, count: c) }
            if maxWords > 0 && words.distinct >= maxWords { try spill() }
        }
    }

    /// Writes the counts held as a sorted run and empties them.
    public func spill() throws {
        let path = directory + "/.tokenmill-words-\(getpid())-\(runs.count).run"
        let out = try OutputFile(path: path, compress: false)
        try out.committing { try words.writeSorted { try out.write($0) } }
        runs.append(path)
        if maxBytes > 0 { words.removeAll() } else { words = WordCounts() }
    }

    /// Spills what is held when runs exist, so that every count is in a run (before a streamed merge).
    /// Returns the number of runs, 0 when nothing was ever spilled.
    public func finishSpilling() throws -> Int {
        if !runs.isEmpty && words.distinct > 0 { try spill() }
        return runs.count
    }

    /// Frees the counts held in memory (after they were spilled or used).
    public func releaseMemory() { words = WordCounts() }

    /// Calls `body` with every word and its summed count: the runs merged in byte order (call
    /// `finishSpilling` first), or the counts held when nothing was spilled. Holds one entry per run.
    public func forEachWord(_ body: (UnsafeBufferPointer<UInt8>, UInt64) throws -> Void) throws {
        if runs.isEmpty { return try words.forEachWord(body) }
        try mergeSortedRuns(runs) { word, c in try word.withUnsafeBufferPointer { try body($0, c) } }
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
