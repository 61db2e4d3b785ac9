// Training a tokenizer end to end, as `train-tokenizer` does: (1) count words (saved counts, then the
// corpus, in bounded memory with spilling), (2) learn the merges up to the largest size, (3) write one
// tokenizer.json (and optionally .tiktoken) per requested size, each to a temporary name renamed when
// complete. With several sizes the size goes before the extension (tokenizer-32768.json); the smaller
// vocabularies' merges are prefixes. With --save-counts and no output, spilled runs are merged
// straight into the count file, so counting a large shard never holds all its words. With a memory
// bound, counting spills within it, the merged runs are streamed twice (a count histogram, then the
// words kept) and the count table is freed before the merges, which hold only the kept words.
import CorpusIO
import Foundation
import Tokenization

/// One written tokenizer.
public struct WrittenTokenizer: Sendable, Equatable {
    public var path: String
    public var requestedSize: Int
    public var vocabularySize: Int
    public var merges: Int
    /// The line `train-tokenizer` prints for it.
    public var line: String {
        let note = vocabularySize < requestedSize ? " (stopped early: no pair left above --min-frequency)" : ""
        return "train-tokenizer: wrote \(path): \(formatCount(vocabularySize)) tokens, \(formatCount(merges)) merges\(note)"
    }
}

/// A `train-tokenizer` run.
public struct TokenizerTrainingJob {
    public var config: BPETrainerConfig
    /// Word-count files added before counting.
    public var countFiles: [String] = []
    /// Spill when this many distinct words are held (0: never), into `spillDirectory`.
    public var maxWords = 0
    public var spillDirectory = FileManager.default.temporaryDirectory.path
    /// A bound on the run's peak memory (resident set), in bytes; 0: none. Counting spills to disk to
    /// stay under it; before the merges, when the distinct pre-tokens do not fit, the rarest are set
    /// aside (`PreTokenHistogram`: every pre-token counted fewer than a threshold times, the smallest
    /// threshold that fits) and the run says how many and what share of the corpus's bytes they hold.
    public var maxMemory = 0
    /// What the process holds besides the counts and the merge phase's words (code, libraries, the
    /// workers' batches, readers' buffers), taken off `maxMemory` first; nil: `reservedMemory(threads:)`.
    public var reservedMemory: Int?
    /// Where to write the word counts, if anywhere.
    public var saveCounts: String?
    /// The tokenizer.json to write (nil: only count).
    public var output: String?
    public var tiktoken = false

    public init(config: BPETrainerConfig) { self.config = config }

    /// The memory a run holds besides counts and words with `threads` counting threads (measured with
    /// a tiny count table on the bundled corpus and the 1 GB scale corpus; see the README).
    public static func reservedMemory(threads: Int) -> Int { (40 << 20) + threads * (12 << 20) }

    /// The least `maxMemory` a run can use: the reserve, plus a 4 MiB count table or the merge phase's
    /// fixed part and 1 MiB of words, whichever is larger (the two phases do not overlap).
    public static func minimumMemory(threads: Int, vocabSize: Int) -> Int {
        minimumMemory(reserved: reservedMemory(threads: threads), vocabSize: vocabSize)
    }

    static func minimumMemory(reserved: Int, vocabSize: Int) -> Int {
        reserved + max(4 << 20, BPETrainer.fixedMemory(vocabSize: vocabSize) + (1 << 20))
    }

    /// Runs the job; `makeReader` gives the corpus (nil: only the count files). Each step's line goes to `log`.
    /// Spilled runs go to a scratch directory under `spillDirectory` (removed at the end; one a killed run
    /// left is removed by the next run).
    public func run(makeReader: (() throws -> CorpusReader)?, runner: DocumentRunner, log: (String) -> Void) throws {
        try withScratchDirectory(spillDirectory, kind: "words") { scratch in
            try run(makeReader: makeReader, runner: runner, log: log, scratch: scratch)
        }
    }

    private func run(makeReader: (() throws -> CorpusReader)?, runner: DocumentRunner, log: (String) -> Void, scratch: String) throws {
        let vocabSize = config.vocabSizes.last!
        let reserved = reservedMemory ?? Self.reservedMemory(threads: runner.threads)
        if maxMemory > 0 {
            let minimum = Self.minimumMemory(reserved: reserved, vocabSize: vocabSize)
            guard maxMemory >= minimum else {
                throw TokenizerError.usage("--max-memory \(formatMemory(maxMemory)) is below the \(formatMemory(minimum)) a run with \(runner.threads) threads and vocabulary \(vocabSize) needs at least")
            }
        }
        // 1. Count words (in parallel; summing makes the result independent of the thread count), in
        // the memory left by the reserve when bounded.
        let counts = SpillingWordCounts(maxWords: maxWords, maxBytes: maxMemory > 0 ? maxMemory - reserved : 0, directory: scratch)
        for path in countFiles { try counts.add(countFile: path) }
        var read = ReadTotals()
        if let makeReader {
            let reader = try makeReader()
            let bound = maxMemory > 0 ? "bounded by --max-memory \(formatMemory(maxMemory)), spilling to \(spillDirectory)" : "memory grows with the distinct pre-tokens (their bytes + 44 B each)"
            log("train-tokenizer: counting with \(runner.threads) threads; \(bound)")
            read = try WordCountStage.run(reader: reader, config: config, into: counts, runner: runner)
            runner.progress.finish()
        }
        let counted = "train-tokenizer: \(formatCount(read.documents)) documents, \(formatBytes(Int64(read.bytes)))"
        var runs = try counts.finishSpilling()
        if runs > 0 { log("train-tokenizer: merging \(runs) spilled runs") }
        if runs > 0, let saveCounts, output == nil {  // the merge streams into the file
            try counts.write(to: saveCounts)
            return log(counted + "; wrote word counts to \(saveCounts)")
        }
        // 2. The count histogram (while merging the runs), then the words that fit.
        var histogram = PreTokenHistogram(vocabSize: vocabSize)
        try counts.forEachWord { histogram.add(length: $0.count, count: $1) }
        log(counted + ", \(formatCount(Int(histogram.occurrences))) pre-tokens, \(formatCount(histogram.distinct)) distinct"
            + String(format: " (%.1f s, peak memory %@)", runner.progress.elapsed, formatBytes(Int64(peakResidentBytes()))))
        if let saveCounts {
            try counts.write(to: saveCounts)
            log("train-tokenizer: wrote word counts to \(saveCounts)")
        }
        guard let output else { return }
        let fixed = reserved + BPETrainer.fixedMemory(vocabSize: vocabSize)
        var threshold: UInt64 = 1
        if maxMemory > 0 {
            // The merge phase holds the kept words beside the run readers while it loads them; with no
            // run, beside the count table, unless that is spilled (then one run) and freed.
            var budget = maxMemory - fixed - runs * runReaderBytes
            if runs == 0, let t = histogram.threshold(budget: budget), counts.words.usedBytes + histogram.kept(threshold: t).cost > budget {
                try counts.spill()
                counts.releaseMemory()
                runs = 1
                budget -= runReaderBytes
            }
            guard let t = histogram.threshold(budget: budget) else {
                throw TokenizerError.usage("--max-memory \(formatMemory(maxMemory)) cannot hold the merge phase even for the most frequent pre-tokens; give at least \(formatMemory(fixed + runs * runReaderBytes + histogram.kept(threshold: histogram.largestCount).cost))")
            }
            threshold = t
        }
        let kept = histogram.kept(threshold: threshold)
        if threshold > 1 {
            let aside = histogram.setAside(threshold: threshold)
            let share = histogram.corpusBytes > 0 ? 100 * Double(aside.corpusBytes) / Double(histogram.corpusBytes) : 0
            log("train-tokenizer: --max-memory \(formatMemory(maxMemory)): set aside the \(formatCount(aside.words)) distinct pre-tokens counted fewer than \(threshold) times (of \(formatCount(histogram.distinct)))"
                + String(format: ", %.2f%% of the corpus's pre-token bytes; merging the other %@", share, formatCount(kept.words)))
        }
        // While the words load, they sit beside the count table (or the run readers).
        let loading = reserved + (runs == 0 ? counts.words.usedBytes : runs * runReaderBytes) + 16 * kept.words + 4 * kept.textBytes
        let words = TrainingWords(reservingWords: kept.words, bytes: kept.textBytes)
        try counts.forEachWord { w, c in if c >= threshold { words.append(w, count: c) } }
        counts.releaseMemory()
        // The counting threads' malloc arenas keep what they freed; hand it back before the merges.
        returnFreedMemory()
        // 3. Merges, up to the largest size.
        let estimate = max(fixed + kept.cost, loading)
        log("train-tokenizer: merging \(formatCount(kept.words)) pre-tokens of 2+ bytes; memory estimate \(formatBytes(Int64(estimate)))")
        let start = Date()
        let result = try BPETrainer.train(words, vocabSize: vocabSize, specialTokens: config.specialTokens, minFrequency: config.minFrequency)
        let mergeSeconds = Date().timeIntervalSince(start)
        // 4. One file per size.
        for written in try writeTrainedTokenizers(result, config: config, output: output, tiktoken: tiktoken) { log(written.line) }
        log(String(format: "train-tokenizer: %d merges in %.2f s; peak memory %@ (estimate %@)", result.merges.count, mergeSeconds,
                   formatBytes(Int64(peakResidentBytes())), formatBytes(Int64(estimate))))
    }
}

/// Calls glibc's `malloc_trim(0)` (looked up with dlsym: no header of ours declares it), which returns
/// the free pages of every malloc arena to the system; does nothing where it does not exist.
func returnFreedMemory() {
    typealias Trim = @convention(c) (Int) -> Int32
    guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
    _ = unsafeBitCast(f, to: Trim.self)(0)
}

/// The process's peak resident set so far, in bytes (getrusage's ru_maxrss).
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// A memory size as `--max-memory` takes it: an integer or decimal, then K, M, G or T (powers of 1024,
/// with or without a following `i` and `B`), or a plain byte count. Nil when malformed.
public func parseMemorySize(_ text: String) -> Int? {
    var s = Substring(text.trimmingCharacters(in: .whitespaces))
    if s.hasSuffix("B") || s.hasSuffix("b") { s = s.dropLast() }
    if s.hasSuffix("i") { s = s.dropLast() }
    var scale = 1.0
    if let unit = s.last, let k = "KMGT".firstIndex(of: Character(unit.uppercased())) {
        scale = pow(1024, Double("KMGT".distance(from: "KMGT".startIndex, to: k) + 1))
        s = s.dropLast()
    }
    guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let v = Double(s) else { return nil }
    let bytes = v * scale
    return bytes.isFinite && bytes < 9e18 ? Int(bytes) : nil
}

/// A size in binary units, as given to `--max-memory` (512 MiB, 4 GiB, 1.5 GiB).
public func formatMemory(_ n: Int) -> String {
    let mib = Double(n) / 1_048_576
    if mib >= 1024 { return String(format: mib.truncatingRemainder(dividingBy: 1024) == 0 ? "%.0f GiB" : "%.2f GiB", mib / 1024) }
    return String(format: mib.rounded() == mib ? "%.0f MiB" : "%.1f MiB", mib)
}

/// Writes the tokenizers of `result` for every size of `config` to `output` (sized names when several).
public func writeTrainedTokenizers(_ result: BPETrainingResult, config: BPETrainerConfig, output: String,
                                   tiktoken: Bool) throws -> [WrittenTokenizer] {
    var written: [WrittenTokenizer] = []
    for size in config.vocabSizes {
        let tokenizer = try result.tokenizer(vocabSize: size, preset: config.preset, normalization: config.normalization)
        let path = config.vocabSizes.count == 1 ? output : sizedPath(output, size)
        try writeFileAtomically(Array(tokenizer.huggingFaceJSON().utf8), to: path)
        if tiktoken { try writeFileAtomically(Array(try tokenizer.tiktokenText().utf8), to: replacingExtension(path, with: "tiktoken")) }
        written.append(WrittenTokenizer(path: path, requestedSize: size, vocabularySize: tokenizer.vocabularySize,
                                        merges: tokenizer.model.merges.count))
    }
    return written
}

/// `path` with `-size` before its extension.
func sizedPath(_ path: String, _ size: Int) -> String {
    let ns = path as NSString
    let ext = ns.pathExtension
    return ext.isEmpty ? "\(path)-\(size)" : "\(ns.deletingPathExtension)-\(size).\(ext)"
}

func replacingExtension(_ path: String, with ext: String) -> String {
    ((path as NSString).deletingPathExtension as NSString).appendingPathExtension(ext) ?? path + "." + ext
}
