// X.cleaning.json, the sidecar `dedup -o X`, `decontaminate -o X` and `prepare` write beside a cleaned
// corpus file X: what was removed from it and, for decontamination, against which test files (path and
// SHA-256). It travels as normalization does (NormalizedCorpusManifest.swift): `train --data P` follows
// P's manifest to the corpus files it was tokenized from and copies their records into
// RUN/checkpoint/data.json ("cleaning", `TrainingDataRecord`), where `bpb` looks for its test file.
// Policy: a sidecar whose recorded size no longer matches X is ignored (as the normalization sidecar).
// A stage that cleans an already cleaned file (decontaminate after dedup) keeps the earlier stage's part
// (`merging`). Foundation's pretty layout with sorted keys; absent parts are omitted.
import CorpusIO
import Foundation

/// What cleaning a corpus file did: dedup and decontamination, each nil when it did not run.
public struct CleaningRecord: Codable, Equatable, Sendable {
    /// The cleaned corpus file, as the tokenize manifest names it (set in data.json only).
    public var corpus: String?
    /// Documents read by the first cleaning stage, and written by the last.
    public var documentsIn: Int
    public var documentsKept: Int
    public var dedup: Dedup?
    public var decontamination: Decontamination?

    /// Exact and MinHash near-duplicate removal (`tokenmill dedup`).
    public struct Dedup: Codable, Equatable, Sendable {
        public var exactRemoved: Int
        public var nearRemoved: Int
        /// Clusters of two or more documents.
        public var clusters: Int
        /// False: exact duplicates only.
        public var nearDuplicates: Bool
        public var ngram: Int
        public var bands: Int
        public var rows: Int
        public var seed: UInt64
        /// Numbers kept in shingles (false: every number became 0, datatrove's default).
        public var keepNumbers: Bool
        /// The removed-documents list (one JSON line per removed document), when one was written.
        public var removedList: String?

        public init(exactRemoved: Int, nearRemoved: Int, clusters: Int, nearDuplicates: Bool, ngram: Int, bands: Int, rows: Int,
                    seed: UInt64, keepNumbers: Bool, removedList: String?) {
            self.exactRemoved = exactRemoved; self.nearRemoved = nearRemoved; self.clusters = clusters; self.nearDuplicates = nearDuplicates
            self.ngram = ngram; self.bands = bands; self.rows = rows; self.seed = seed; self.keepNumbers = keepNumbers; self.removedList = removedList
        }

        enum CodingKeys: String, CodingKey {
            case exactRemoved = "exact_removed", nearRemoved = "near_removed", clusters, nearDuplicates = "near_duplicates"
            case ngram, bands, rows, seed, keepNumbers = "keep_numbers", removedList = "removed_list"
        }
    }

    /// One test file decontaminated against: the path as given and its SHA-256 when read.
    public struct TestFile: Codable, Equatable, Sendable {
        public var path: String
        public var sha256: String
        public init(path: String, sha256: String) { self.path = path; self.sha256 = sha256 }
    }

    /// Word n-gram overlap with test files (`tokenmill decontaminate`).
    public struct Decontamination: Codable, Equatable, Sendable {
        public var against: [TestFile]
        public var ngram: Int
        public var testDocuments: Int
        public var testDocumentsHit: Int
        /// Training documents sharing an n-gram with a test document, and how many of them were removed
        /// (0 when they were only flagged).
        public var trainingContaminated: Int
        public var trainingRemoved: Int
        /// nil: no test n-gram was ignored as too common.
        public var maxNGramDocuments: Int?
        public var ignoredNGrams: Int
        /// The hits list (one JSON line per test document hit), when one was written.
        public var hitsList: String?

        public init(against: [TestFile], ngram: Int, testDocuments: Int, testDocumentsHit: Int, trainingContaminated: Int,
                    trainingRemoved: Int, maxNGramDocuments: Int?, ignoredNGrams: Int, hitsList: String?) {
            self.against = against; self.ngram = ngram; self.testDocuments = testDocuments; self.testDocumentsHit = testDocumentsHit
            self.trainingContaminated = trainingContaminated; self.trainingRemoved = trainingRemoved
            self.maxNGramDocuments = maxNGramDocuments; self.ignoredNGrams = ignoredNGrams; self.hitsList = hitsList
        }

        enum CodingKeys: String, CodingKey {
            case against, ngram, testDocuments = "test_documents", testDocumentsHit = "test_documents_hit"
            case trainingContaminated = "training_contaminated", trainingRemoved = "training_removed"
            case maxNGramDocuments = "max_ngram_documents", ignoredNGrams = "ignored_ngrams", hitsList = "hits_list"
        }
    }

    public init(documentsIn: Int, documentsKept: Int, dedup: Dedup?, decontamination: Decontamination?) {
        self.documentsIn = documentsIn; self.documentsKept = documentsKept; self.dedup = dedup; self.decontamination = decontamination
    }

    enum CodingKeys: String, CodingKey {
        case corpus, documentsIn = "documents_in", documentsKept = "documents_kept", dedup, decontamination
    }

    /// This stage's record on top of `earlier` (the record of the file this stage read): documents in
    /// are the earlier stage's, and a part this stage did not run is the earlier stage's.
    public func merging(earlier: CleaningRecord?) -> CleaningRecord {
        guard let earlier else { return self }
        var r = self
        r.documentsIn = earlier.documentsIn
        r.dedup = dedup ?? earlier.dedup
        r.decontamination = decontamination ?? earlier.decontamination
        return r
    }

    /// Whether this corpus was decontaminated against a test file whose SHA-256 is `sha256`.
    public func decontaminated(againstSHA256 sha256: String) -> Bool {
        decontamination?.against.contains { $0.sha256 == sha256 } ?? false
    }
}

/// X.cleaning.json.
public struct CleanedCorpusManifest: CorpusSidecar, Codable, Equatable, Sendable {
    public static let format = "tokenmill-cleaned-corpus"
    public static let suffix = ".cleaning.json"

    public private(set) var format = Self.format
    public var cleaning: CleaningRecord
    /// The inputs as given to the stage.
    public var inputs: [String]
    /// The size of X when it was written.
    public var bytes: Int

    public init(cleaning: CleaningRecord, inputs: [String], bytes: Int) {
        self.cleaning = cleaning; self.inputs = inputs; self.bytes = bytes
    }

    /// Writes the sidecar of the finished corpus file `output`, atomically.
    public static func write(output: String, cleaning: CleaningRecord, inputs: [String]) throws {
        try write(CleanedCorpusManifest(cleaning: cleaning, inputs: inputs, bytes: 0), output: output)
    }

    /// The cleaning record of the corpus file `corpus`, when it has a sidecar that still matches its size
    /// (nil otherwise, as for stdin).
    /// - Throws: `ManifestError` when the sidecar is there but malformed.
    public static func cleaning(ofCorpusFile corpus: String) throws(ManifestError) -> CleaningRecord? {
        try read(ofCorpusFile: corpus)?.cleaning
    }
}
