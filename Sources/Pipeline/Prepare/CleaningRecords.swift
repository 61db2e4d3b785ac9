// What `dedup`, `decontaminate` and `prepare` leave beside a cleaned corpus file X: X.cleaning.json (the
// `CleaningRecord`, merged with the record of the file they read, so decontaminate after dedup keeps
// both parts) and X.tokenmill.json (the inputs' normalization, carried over so that `tokenize` of X still
// records it). `train` copies the cleaning records into data.json; `bpb` reads them there. Also the summary
// lines the three commands print.
import CorpusIO
import Deduplication
import Foundation

extension CleaningRecord {
    /// The record of one `cleanCorpus` run with `options`; the list files are named as given.
    public init(_ report: CleaningReport, options: CleaningOptions, removedList: String?, hitsList: String?) {
        let dedup = report.dedup.map { d in
            CleaningRecord.Dedup(exactRemoved: d.exactRemoved, nearRemoved: d.nearRemoved, clusters: d.clusters, nearDuplicates: options.nearDuplicates,
                                 ngram: d.config.ngram, bands: d.config.bands, rows: d.config.rows, seed: d.config.seed,
                                 keepNumbers: !d.config.normalizeNumbers, removedList: removedList)
        }
        let decontamination = report.testFiles.isEmpty ? nil : CleaningRecord.Decontamination(
            against: zip(report.testFiles, report.testFileHashes).map { CleaningRecord.TestFile(path: $0, sha256: $1) }, ngram: report.ngram,
            testDocuments: report.testDocuments, testDocumentsHit: report.contaminatedTests.count, trainingContaminated: report.contaminatedTraining,
            trainingRemoved: report.contaminatedRemoved, maxNGramDocuments: report.maxTrainingDocumentsPerNGram, ignoredNGrams: report.ignoredNGrams,
            hitsList: hitsList)
        self.init(documentsIn: report.documents, documentsKept: report.kept, dedup: dedup, decontamination: decontamination)
    }
}

/// Writes X.cleaning.json for the finished corpus file `output` (nothing for stdout), on top of the
/// record of the one input file read when it has one, and X.tokenmill.json when the inputs share a
/// recorded normalization.
/// - Throws: when a sidecar cannot be written, or an input's cleaning sidecar is malformed.
public func writeCleaningSidecars(output: String?, inputs: [String], record: CleaningRecord, warn: (String) -> Void) throws {
    guard let output, output != "-" else { return }
    let files = try expandInputs(inputs)
    let earlier = files.count == 1 ? try CleanedCorpusManifest.cleaning(ofCorpusFile: files[0]) : nil
    try CleanedCorpusManifest.write(output: output, cleaning: record.merging(earlier: earlier), inputs: inputs)
    if let normalization = NormalizedCorpusManifest.commonNormalization(ofCorpusFiles: files, warn: warn) {
        try NormalizedCorpusManifest.write(output: output, normalization: normalization, inputs: inputs)
    }
}

/// "dedup: 5,857 documents … in 78 clusters" without the time: the counts `dedup` prints.
public func dedupSummary(_ report: CleaningReport) -> String {
    guard let d = report.dedup else { return "dedup: off" }
    return "dedup: \(formatCount(report.documents)) documents (\(formatBytes(report.bytes))) in, \(formatCount(d.kept)) kept, \(formatCount(d.removed.count)) removed (\(formatCount(d.exactRemoved)) exact, \(formatCount(d.nearRemoved)) near) in \(formatCount(d.clusters)) clusters"
}

/// "decontaminate: … test documents hit …" without the time: the counts `decontaminate` prints.
public func decontaminationSummary(_ r: CleaningReport, removed: Bool) -> String {
    "decontaminate: \(formatCount(r.dedup?.kept ?? r.documents)) training documents\(r.dedup == nil ? " (\(formatBytes(r.bytes)))" : ""), \(formatCount(r.contaminatedTraining)) contaminated (\(removed ? "removed" : "flagged")), \(formatCount(r.kept)) written; \(formatCount(r.contaminatedTests.count)) of \(formatCount(r.testDocuments)) test documents hit (\(formatCount(r.shortTestDocuments)) shorter than \(r.ngram) words); \(r.ngram)-gram table \(formatBytes(Int64(r.testNGramTableBytes)))" + (r.maxTrainingDocumentsPerNGram.map { "; \(formatCount(r.ignoredNGrams)) n-grams in more than \($0) training documents ignored" } ?? "")
}
