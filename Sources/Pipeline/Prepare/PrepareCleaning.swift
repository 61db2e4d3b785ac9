// What prepare's "dedup" and "decontaminate" tables mean as Deduplication's `CleaningOptions`: nil values take
// the `dedup`/`decontaminate` verbs' defaults, except "keep_numbers" (true) and "max_ngram_documents" (10),
// prepare's own defaults (PrepareConfig.swift says why).
import CorpusIO
import Deduplication

extension PrepareConfig {
    /// The cleaning options of this config, with the test files expanded (directories and globs).
    public func cleaningOptions(threads: Int) throws -> CleaningOptions {
        var options = CleaningOptions()
        let d = dedup ?? Dedup(), defaults = MinHashConfig()
        options.dedup = dedupEnabled
        options.minhash = MinHashConfig(ngram: d.ngram ?? defaults.ngram, bands: d.bands ?? defaults.bands, rows: d.rows ?? defaults.rows,
                                        seed: d.seed ?? defaults.seed, normalizeNumbers: !(d.keepNumbers ?? Dedup.defaultKeepNumbers))
        options.nearDuplicates = !(d.exactOnly ?? false)
        options.sortMemoryBytes = d.sortMemory.map { $0 << 20 } ?? options.sortMemoryBytes
        let t = decontaminate ?? Decontaminate()
        options.testFiles = decontaminationTargets.isEmpty ? [] : try expandInputs(decontaminationTargets)
        options.decontamination = DecontaminationConfig(ngram: t.ngram ?? DecontaminationConfig().ngram)
        options.removeContaminated = (t.action ?? "remove") == "remove"
        let limit = t.maxNGramDocuments ?? Decontaminate.defaultMaxNGramDocuments
        options.maxTrainingDocumentsPerNGram = limit > 0 ? limit : nil
        options.threads = threads
        return options
    }
}
