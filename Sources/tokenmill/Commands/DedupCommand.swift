// `tokenmill dedup`: exact and MinHash near-duplicate removal (library: Deduplication.cleanCorpus).
import ArgumentParser
import CorpusIO
import Deduplication
import Foundation
import Pipeline

struct DedupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Remove exact and near-duplicate documents, keeping the first of each cluster in input order.",
        discussion: """
        Example: tokenmill dedup -o kept.jsonl.zst --removed removed.jsonl corpora/train.jsonl.zst

        Exact duplicates share the first 128 bits of SHA-256 of their NFC text. Near duplicates share an \
        LSH band of their MinHash signature over word 5-grams (text lowercased, diacritics, punctuation \
        and number values dropped, as datatrove; --keep-numbers keeps the values): 14 bands of 8 hashes catch pairs of Jaccard similarity \
        s with probability 1-(1-s^8)^14 (0.5: 5%, 0.7: 56%, 0.8: 92%, 0.9: 99.96%). Matches join \
        clusters (union-find); each cluster keeps its first document in input order. --removed lists \
        every removed document as a JSON line: its input position (0-based), cluster and the survivor's \
        position. Order: the kept documents follow the inputs in the order given (directories and globs \
        expanded sorted), each file's documents in file order; positions count across all inputs in that \
        order. With -o FILE, FILE.cleaning.json records the counts and settings (`train` copies it into \
        the run's data.json) and FILE.tokenmill.json carries the inputs' normalization. Sharded: run \
        `dedup --shard I/N --signatures DIR` for each I (any machines), then \
        `dedup --from-signatures DIR -o …` on the same inputs; the output is byte-identical to one run. \
        Shard I reads only a contiguous range of whole input files, balanced by size on disk (the rule of \
        tokenize --shard), and says how many bytes it read; with fewer input files than shards, split the \
        input first (tokenmill split --parts N). \
        Memory: --sort-memory for the on-disk sorts of keys (half again while a run is sorted; signatures, exact and band keys spill to \
        --work-dir: about 136 bytes + 24 bytes a document + 24 bytes a document and band), plus about \
        150 bytes per document that has a duplicate, plus 2 x threads batches of 1 MiB; nothing is held \
        per unique document.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(name: [.short, .long], help: "The kept documents (.jsonl or .jsonl.zst); stdout when omitted or '-'.")
    var output: String?

    @Option(help: "Write one JSON line per removed document (position, cluster, survivor, match) to this file.")
    var removed: String?

    @Option(help: "Words per shingle.")
    var ngram: Int = MinHashConfig().ngram

    @Option(help: "LSH bands.")
    var bands: Int = MinHashConfig().bands

    @Option(help: "MinHash hashes per band.")
    var rows: Int = MinHashConfig().rows

    @Option(help: "The seed of the MinHash functions (sharded runs must use the same).")
    var seed: UInt64 = MinHashConfig().seed

    @Flag(name: .customLong("keep-numbers"), help: "Keep number values in shingles (by default every number becomes 0, as datatrove; then templated problems that differ only in their numbers are near duplicates).")
    var keepNumbers = false

    @Flag(name: .customLong("exact-only"), help: "Remove exact duplicates only (no MinHash bands are compared).")
    var exactOnly = false

    @Option(help: "Sign only shard I of N (I/N, 0-based: a contiguous range of whole input files balanced by size, the only files it reads) into --signatures DIR, and stop.")
    var shard: Shard?

    @Option(help: "The directory --shard writes its signature file to.")
    var signatures: String?

    @Option(name: .customLong("from-signatures"), help: "Cluster the signature files of every shard in this directory instead of signing, then write the kept documents.")
    var fromSignatures: String?

    @Option(name: .customLong("work-dir"), help: "Where scratch files go (removed at the end); the system temporary directory when omitted.")
    var workDir: String?

    @Option(name: .customLong("sort-memory"), help: "Megabytes of sort buffer for the on-disk sorts.")
    var sortMemory: Int = CleaningOptions().sortMemoryBytes >> 20

    func validate() throws {
        if ngram < 1 || bands < 1 || rows < 1 { throw ValidationError("--ngram, --bands and --rows must be at least 1.") }
        if sortMemory < 1 { throw ValidationError("--sort-memory must be at least 1 (MB).") }
        if shard != nil && signatures == nil { throw ValidationError("--shard needs --signatures DIR.") }
        if shard == nil && signatures != nil { throw ValidationError("--signatures goes with --shard; to cluster shards use --from-signatures.") }
        if shard != nil && fromSignatures != nil { throw ValidationError("--shard signs and --from-signatures clusters: give one.") }
        if shard == nil && (input.inputs.isEmpty || input.inputs.contains("-")) {
            throw ValidationError("dedup reads its input twice (sign, then filter): give files, not stdin.")
        }
    }

    var options: CleaningOptions {
        var o = CleaningOptions()
        o.minhash = MinHashConfig(ngram: ngram, bands: bands, rows: rows, seed: seed, normalizeNumbers: !keepNumbers)
        o.nearDuplicates = !exactOnly
        o.sortMemoryBytes = sortMemory << 20
        o.threads = progressOptions.workerThreads
        return o
    }

    func run() throws {
        try reportingErrors {
            let progress = progressOptions.makeReporter("dedup")
            if let shard, let signatures {
                try FileManager.default.createDirectory(atPath: signatures, withIntermediateDirectories: true)
                let s = SignatureShard(index: shard.index, count: shard.count)
                let path = "\(signatures)/\(s.fileName)"
                let inputs = try expandInputs(input.inputs)
                let plan: InputShardPlan
                do { plan = try InputShardPlan(inputs: inputs, index: shard.index, count: shard.count) }
                catch let e as ShardPlanError where e.isUsage { throw ValidationError(e.message) }
                let reader = CorpusReader(inputs: inputs, files: plan.files, options: input.readOptions, warn: { printError($0) })
                let (documents, _) = try writeSignatures(documents: PositionedDocuments(reader: reader, warn: { printError($0) }),
                                                         config: options.minhash, shard: s, path: path, threads: options.threads,
                                                         progress: { progress.update(documents: $0, bytes: $1) })
                progress.finish()
                printError("dedup: shard \(s): signed \(formatCount(documents)) documents of \(plan.filesDescription) into \(path); read \(formatBytes(reader.inputBytesRead)) of \(formatBytes(plan.totalBytes)); " + String(format: "%.2f s", progress.elapsed))
                return
            }
            var files: [String]? = nil
            if let fromSignatures {
                let names = try FileManager.default.contentsOfDirectory(atPath: fromSignatures)
                    .filter { $0.hasPrefix("signatures-") && $0.hasSuffix(".bin") }.sorted()
                if names.isEmpty { throw RuntimeFailure(description: "\(fromSignatures): no signatures-I-of-N.bin files (write them with dedup --shard I/N --signatures \(fromSignatures))") }
                files = names.map { "\(fromSignatures)/\($0)" }
            }
            // The input is read twice (sign, then filter) when signing here: its warnings are printed once, on the last pass.
            var passes = files == nil ? 2 : 1
            let openInput = { () throws -> CorpusReader in
                passes -= 1
                return CorpusReader(inputs: try expandInputs(input.inputs), options: input.readOptions,
                                    warn: passes == 0 ? { printError($0) } : { _ in })
            }
            let report = try withScratchDirectory(workDir, kind: "dedup") { work in
                try cleanCorpus(open: openInput, openTest: { _ in try input.makeReader() },
                                output: output, removedOutput: removed, contaminationOutput: nil, signatures: files,
                                workDirectory: work, options: options, warn: { printError($0) },
                                progress: { _, docs, bytes in progress.update(documents: docs, bytes: bytes) })
            }
            progress.finish()
            try writeCleaningSidecars(output: output, inputs: input.inputs, record: CleaningRecord(report, options: options, removedList: removed, hitsList: nil),
                                      warn: { printError($0) })
            printError(dedupSummary(report) + skippedSuffix(report.skipped) + String(format: "; %.2f s", progress.elapsed))
        }
    }
}

/// ", N skipped (…)" for records skipped by reason (Pipeline's `SkipCounts`, as normalize prints it), or "".
func skippedSuffix(_ skipped: [CorpusErrorKind: Int]) -> String {
    var counts = SkipCounts()
    counts.merge(skipped)
    return counts.total > 0 ? ", \(formatCount(counts.total)) skipped (\(counts.summary))" : ""
}
