// RUN/checkpoint/data.json: what `train --data DATA` read, with the tokenizer and normalization its
// manifests name (packed data: its own manifest, else its inputs'), for `bpb --run`, `export-hf` and
// `megatron-args --run`. `import-hf` writes one naming the imported tokenizer. Foundation's pretty layout
// with sorted keys (ManifestCoding.swift); absent values are written as null, except "cleaning" (and
// "imported_from"), written only when known so that records of uncleaned data keep their bytes.
// "cleaning": one `CleaningRecord` per corpus file the data was tokenized from (from its X.cleaning.json),
// when every one has such a sidecar; `bpb` reads it to say whether its test file was decontaminated against.
import CorpusIO
import Foundation
import Packing

public struct TrainingDataRecord: FormattedRecord, Codable, Equatable, Sendable {
    public static let format = "tokenmill-training-data"
    /// The record's file name in a checkpoint directory.
    public static let fileName = "data.json"

    public private(set) var format = Self.format
    /// The data as given to `train`, and its absolute path (nil for an imported model).
    @ExplicitNull public var data: String?
    @ExplicitNull public var dataResolved: String?
    /// The absolute path of the data's manifest (nil: none).
    @ExplicitNull public var manifest: String?
    @ExplicitNull public var tokenizer: Tokenizer?
    @ExplicitNull public var normalization: NormalizationRecord?
    /// The manifest the normalization was read from.
    @ExplicitNull public var normalizationSource: String?
    /// The Hugging Face folder of an imported model (absent otherwise).
    public var importedFrom: String?
    /// How each corpus file the data was tokenized from was cleaned (absent: unknown for at least one).
    public var cleaning: [CleaningRecord]?

    /// The tokenizer as the data's manifest names it, and the absolute path of the file found with the
    /// recorded SHA-256 when training began (nil when none was found).
    public struct Tokenizer: Codable, Equatable, Sendable {
        public var path: String
        public var sha256: String
        public var vocabularySize: Int?
        @ExplicitNull public var resolved: String?

        public init(path: String, sha256: String, vocabularySize: Int?, resolved: String?) {
            self.path = path; self.sha256 = sha256; self.vocabularySize = vocabularySize; self.resolved = resolved
        }

        enum CodingKeys: String, CodingKey { case path, sha256, vocabularySize = "vocabulary_size", resolved }
    }

    public init(data: String?, dataResolved: String?, manifest: String? = nil, tokenizer: Tokenizer? = nil,
                normalization: NormalizationRecord? = nil, normalizationSource: String? = nil, importedFrom: String? = nil) {
        self.data = data; self.dataResolved = dataResolved; self.manifest = manifest; self.tokenizer = tokenizer
        self.normalization = normalization; self.normalizationSource = normalizationSource; self.importedFrom = importedFrom
    }

    enum CodingKeys: String, CodingKey {
        case format, data, dataResolved = "data_resolved", manifest, tokenizer, normalization
        case normalizationSource = "normalization_source", importedFrom = "imported_from", cleaning
    }

    /// The record's bytes as the checkpoint stores them.
    public var encoded: Data { prettyJSON(self) }

    /// The record saved in the checkpoint directory `dir` (nil when it has none).
    public static func read(checkpoint dir: String) throws(ManifestError) -> TrainingDataRecord? {
        try readManifest(TrainingDataRecord.self, path: dir + "/" + fileName)
    }

    /// The record for `train --data data`: the manifest beside a Megatron prefix, the tokenizer it (or, for
    /// a pack without one, its inputs' manifests) names, found by SHA-256 (of `tokenizerSourceFile` for a
    /// tokenizer directory), and the normalization.
    public static func describing(data: String) throws -> TrainingDataRecord {
        let prefix = datasetPrefix(data)
        let fm = FileManager.default
        var record = TrainingDataRecord(data: data, dataResolved: absolutePath(data))
        guard fm.fileExists(atPath: prefix + ".idx") && fm.fileExists(atPath: prefix + ".bin"),
              let manifest = try DatasetManifest.read(prefix: prefix) else { return record }
        let manifestPath = absolutePath(prefix + ".json")
        let manifestDir = (manifestPath as NSString).deletingLastPathComponent
        record.manifest = manifestPath
        // A pack's inputs are tokenize prefixes, as given to `pack` (relative to its working directory, or beside the pack).
        let inputs: [(path: String, manifest: DatasetManifest?)] = try manifest.inputs.map { i in
            for candidate in PackedDatasetManifest.inputCandidates(i, packPrefix: prefix) {
                if let m = try DatasetManifest.read(prefix: candidate) { return (absolutePath(candidate + ".json"), m) }
            }
            return (i, nil)
        }
        let packed = manifest.packedManifest != nil
        var tokenizer = manifest.tokenizer
        if tokenizer == nil && packed { tokenizer = inputs.compactMap { $0.manifest?.tokenizer }.first }
        if let t = tokenizer {
            let candidates = t.path.hasPrefix("/") ? [t.path] : [t.path, manifestDir + "/" + t.path, manifestDir + "/" + (t.path as NSString).lastPathComponent]
            let resolved = candidates.first { fm.fileExists(atPath: $0) && (try? sha256(ofFile: tokenizerSourceFile($0))) == t.sha256 }.map(absolutePath)
            record.tokenizer = Tokenizer(path: t.path, sha256: t.sha256, vocabularySize: t.vocabularySize, resolved: resolved)
        }
        if let n = manifest.normalization {
            record.normalization = n
            record.normalizationSource = manifestPath
        } else if packed, !inputs.isEmpty, let n = NormalizationRecord.common(inputs.map { $0.manifest?.normalization }) {
            // A pack from before packs recorded "normalization": its inputs' (a pack that records null got
            // that from these same inputs, so the fallback finds nothing there).
            record.normalization = n
            record.normalizationSource = inputs[0].path
        }
        // The corpus files behind the tokenized data (a pack's inputs' inputs), each with its cleaning sidecar.
        let tokenized: [(String, DatasetManifest?)] = packed ? inputs.map { ($0.path, $0.manifest) } : [(manifestPath, manifest)]
        var cleaning: [CleaningRecord] = []
        for (path, m) in tokenized {
            guard let m = m?.tokenizedManifest else { cleaning = []; break }
            let dir = (path as NSString).deletingLastPathComponent
            let found = try m.inputs.map { input -> CleaningRecord? in
                let candidates = input.hasPrefix("/") ? [input] : [input, dir + "/" + input, dir + "/" + (input as NSString).lastPathComponent]
                for candidate in candidates {
                    guard var c = try CleanedCorpusManifest.cleaning(ofCorpusFile: candidate) else { continue }
                    c.corpus = input
                    return c
                }
                return nil
            }
            guard !found.isEmpty, found.allSatisfy({ $0 != nil }) else { cleaning = []; break }
            cleaning += found.compactMap { $0 }
        }
        record.cleaning = cleaning.isEmpty ? nil : cleaning
        return record
    }

    /// What `bpb` says about a test file, from `cleaning`.
    public enum DecontaminationStatus: Equatable, Sendable {
        /// Every corpus file was decontaminated against a file with this content.
        case decontaminated
        /// The record says how the data was cleaned, and this file's content is not among the targets of
        /// these corpus files (all of them when none was decontaminated against it).
        case notAmongTargets(corpora: [String])
        /// No cleaning record: nothing can be said.
        case unknown
    }

    /// Whether the training data was decontaminated against a test file whose SHA-256 is `sha256`.
    public func decontaminationStatus(testSHA256 sha256: String) -> DecontaminationStatus {
        guard let cleaning, !cleaning.isEmpty else { return .unknown }
        let missing = cleaning.filter { !$0.decontaminated(againstSHA256: sha256) }
        return missing.isEmpty ? .decontaminated : .notAmongTargets(corpora: missing.map { $0.corpus ?? "?" })
    }

    /// The record of a resumed run: this (the new data's) record, but the tokenizer must be the one the run
    /// began with (`old`); data that names no tokenizer keeps the run's tokenizer and normalization.
    public func resuming(from old: TrainingDataRecord?, warn: (String) -> Void) throws -> TrainingDataRecord {
        guard let old else { return self }
        var record = self
        if let a = old.tokenizer, let b = tokenizer, a.sha256 != b.sha256 {
            throw ManifestError(path: manifest ?? data ?? "", field: nil,
                                "tokenized with another tokenizer (\(b.path) sha256 \(b.sha256.prefix(12))…) than the run was trained with (\(a.path) sha256 \(a.sha256.prefix(12))…)")
        }
        if tokenizer == nil, let oldTokenizer = old.tokenizer {
            record.tokenizer = oldTokenizer
            if normalization == nil {
                record.normalization = old.normalization
                record.normalizationSource = old.normalizationSource
            }
        }
        // The run saw the old data too: its cleaning records stay (unknown when either side's is).
        if old.cleaning != record.cleaning && (old.data != nil || old.cleaning != nil) {
            if let before = old.cleaning, let after = record.cleaning {
                record.cleaning = before + after.filter { !before.contains($0) }
            } else {
                record.cleaning = nil
            }
        }
        if let before = old.normalization, let after = record.normalization, before != after {
            warn("warning: the run was trained on \(before.summary)-normalized data and continues on \(after.summary)-normalized data; the record now says \(after.summary)")
        }
        return record
    }
}

/// An absolute, standardized form of `path` (relative to the current directory).
public func absolutePath(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
