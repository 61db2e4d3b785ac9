// OUT.json, written by `pack` (and `merge` of its shards) beside OUT.bin/.idx (and OUT_valid.*): the
// tokenizer and normalization copied from the inputs' manifests, the options, the shard's part of the
// run, the packing reports and the SHA-256 of the files. One line per top-level field (ManifestCoding.swift).
// Read through `Decodable`; written only by `text` (no second, Codable, encoding to keep in step).
import CorpusIO
import Foundation
import Packing

/// How `pack` fills rows.
public enum PackingStrategy: String, CaseIterable, Codable, Sendable {
    case bestFit = "best-fit", concat
}

/// The options that decide a pack's output, as its manifest records them.
public struct PackSettings: Codable, Equatable, Sendable {
    public var strategy: PackingStrategy
    public var sequenceLength: Int
    public var padID: Int
    public var seed: UInt64
    public var shuffle: Bool
    public var bufferDocs: Int
    public var validFraction: Double

    public init(strategy: PackingStrategy, sequenceLength: Int, padID: Int, seed: UInt64, shuffle: Bool, bufferDocs: Int, validFraction: Double) {
        self.strategy = strategy; self.sequenceLength = sequenceLength; self.padID = padID; self.seed = seed
        self.shuffle = shuffle; self.bufferDocs = bufferDocs; self.validFraction = validFraction
    }

    enum CodingKeys: String, CodingKey {
        case strategy, sequenceLength = "seq_len", padID = "pad_id", seed, shuffle, bufferDocs = "buffer_docs", validFraction = "valid_fraction"
    }

    var inline: InlineJSON {
        .object([("strategy", .string(strategy.rawValue)), ("seq_len", .int(sequenceLength)), ("pad_id", .int(padID)), ("seed", .number(String(seed))),
                 ("shuffle", .bool(shuffle)), ("buffer_docs", .int(bufferDocs)), ("valid_fraction", .double(validFraction))])
    }

    /// Whether document `index` (counted over all inputs in order) is held out for validation.
    public func isValidation(_ index: Int) -> Bool {
        guard validFraction > 0 else { return false }
        var rng = SplitMix64(seed: seed ^ 0x5EED_0F_5A11D ^ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
        return rng.unit() < validFraction
    }

    /// The buffer holding the `k`-th document of a stream.
    public func buffer(of k: Int) -> Int { bufferDocs > 0 ? k / bufferDocs : 0 }

    /// How many buffers a stream of `documents` documents fills.
    public func bufferCount(_ documents: Int) -> Int {
        documents == 0 ? 0 : bufferDocs > 0 ? (documents + bufferDocs - 1) / bufferDocs : 1
    }

    /// The seed of the row order of the train or the validation rows.
    public func rowSeed(validation: Bool) -> UInt64 { seed ^ (validation ? 0x7A11_D0FF_5EED_0002 : 0x7A11_D0FF_5EED_0001) }
}

/// A packing report as a manifest records it (the shares are written for readers, and recomputed on read).
public struct PackingReportRecord: Decodable, Equatable, Sendable {
    public var report: PackingReport
    public init(_ report: PackingReport) { self.report = report }

    enum CodingKeys: String, CodingKey {
        case documents, tokens, truncatedDocuments = "truncated_documents", truncatedShare = "truncated_share", rows
        case paddingTokens = "padding_tokens", paddingShare = "padding_share"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var r = PackingReport()
        r.documents = try c.decode(Int.self, forKey: .documents)
        r.tokens = try c.decode(Int.self, forKey: .tokens)
        r.truncatedDocuments = try c.decode(Int.self, forKey: .truncatedDocuments)
        r.rows = try c.decode(Int.self, forKey: .rows)
        r.paddingTokens = try c.decode(Int.self, forKey: .paddingTokens)
        report = r
    }

    var inline: InlineJSON {
        let r = report
        return .object([("documents", .int(r.documents)), ("tokens", .int(r.tokens)), ("truncated_documents", .int(r.truncatedDocuments)),
                        ("truncated_share", .double(r.truncatedShare)), ("rows", .int(r.rows)), ("padding_tokens", .int(r.paddingTokens)),
                        ("padding_share", .double(r.paddingShare))])
    }
}

/// The manifest of a packed dataset.
public struct PackedDatasetManifest: FormattedRecord, Equatable, Sendable {
    public static let format = "tokenmill-packed-megatron-dataset"
    public static let layout = "one Megatron document per row of seq_len tokens; its sequences are document pieces, and its last sequence is always padding (pad_id, possibly empty)"

    public var tokenizer: TokenizerRecord?
    public var inputs: [String]
    public var normalization: NormalizationRecord?
    public var options: PackSettings
    /// Set on the output of `pack --shard I/N` only.
    public var shard: Shard?
    public var report: PackingReport
    public var validation: PackingReport
    public var bestFit: PackingReport
    public var concat: PackingReport
    /// SHA-256 by suffix (".bin", ".idx", "_valid.bin", "_valid.idx"); nil in manifests from before they were recorded.
    public var sha256: [String: String]?

    /// What a pack shard's manifest says about its part of the run, for `merge`.
    public struct Shard: Decodable, Equatable, Sendable {
        public var index: Int, count: Int
        public var trainBuffers: Range<Int>, validBuffers: Range<Int>
        public var totalTrainBuffers: Int, totalValidBuffers: Int
        /// A fingerprint of the inputs, which every shard reads whole.
        public var inputDocuments: Int, inputTokens: Int

        public init(index: Int, count: Int, trainBuffers: Range<Int>, validBuffers: Range<Int>, totalTrainBuffers: Int, totalValidBuffers: Int,
                    inputDocuments: Int, inputTokens: Int) {
            self.index = index; self.count = count; self.trainBuffers = trainBuffers; self.validBuffers = validBuffers
            self.totalTrainBuffers = totalTrainBuffers; self.totalValidBuffers = totalValidBuffers
            self.inputDocuments = inputDocuments; self.inputTokens = inputTokens
        }

        enum CodingKeys: String, CodingKey {
            case index, count, trainBuffers = "train_buffers", validBuffers = "valid_buffers", inputDocuments = "input_documents", inputTokens = "input_tokens"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decode(Int.self, forKey: .index)
            count = try c.decode(Int.self, forKey: .count)
            // [first, end, total] buffers.
            func buffers(_ key: CodingKeys) throws -> (Range<Int>, Int) {
                let v = try c.decode([Int].self, forKey: key)
                guard v.count == 3, v[0] <= v[1] else {
                    throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [key], debugDescription: "expected [first, end, total] buffers, found \(v)"))
                }
                return (v[0] ..< v[1], v[2])
            }
            (trainBuffers, totalTrainBuffers) = try buffers(.trainBuffers)
            (validBuffers, totalValidBuffers) = try buffers(.validBuffers)
            inputDocuments = try c.decode(Int.self, forKey: .inputDocuments)
            inputTokens = try c.decode(Int.self, forKey: .inputTokens)
        }

        var inline: InlineJSON {
            .object([("index", .int(index)), ("count", .int(count)),
                     ("train_buffers", .array([trainBuffers.lowerBound, trainBuffers.upperBound, totalTrainBuffers].map { .int($0) })),
                     ("valid_buffers", .array([validBuffers.lowerBound, validBuffers.upperBound, totalValidBuffers].map { .int($0) })),
                     ("input_documents", .int(inputDocuments)), ("input_tokens", .int(inputTokens))])
        }
    }

    public init(tokenizer: TokenizerRecord?, inputs: [String], normalization: NormalizationRecord?, options: PackSettings, shard: Shard?,
                report: PackingReport, validation: PackingReport, bestFit: PackingReport, concat: PackingReport, sha256: [String: String]? = nil) {
        self.tokenizer = tokenizer; self.inputs = inputs; self.normalization = normalization; self.options = options; self.shard = shard
        self.report = report; self.validation = validation; self.bestFit = bestFit; self.concat = concat; self.sha256 = sha256
    }

    enum CodingKeys: String, CodingKey { case format, layout, tokenizer, inputs, normalization, options, shard, report, validation, comparison, sha256 }
    enum ComparisonKeys: String, CodingKey { case bestFit = "best-fit", concat }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)  // "format" is checked by `decodeManifest`
        tokenizer = try c.decodeIfPresent(TokenizerRecord.self, forKey: .tokenizer)
        inputs = try c.decode([String].self, forKey: .inputs)
        normalization = try c.decodeIfPresent(NormalizationRecord.self, forKey: .normalization)
        options = try c.decode(PackSettings.self, forKey: .options)
        shard = try c.decodeIfPresent(Shard.self, forKey: .shard)
        report = try c.decode(PackingReportRecord.self, forKey: .report).report
        validation = try c.decode(PackingReportRecord.self, forKey: .validation).report
        let comparison = try c.nestedContainer(keyedBy: ComparisonKeys.self, forKey: .comparison)
        bestFit = try comparison.decode(PackingReportRecord.self, forKey: .bestFit).report
        concat = try comparison.decode(PackingReportRecord.self, forKey: .concat).report
        sha256 = try c.decodeIfPresent([String: String].self, forKey: .sha256)
    }

    /// The manifest's bytes, in the layout `pack` has always written.
    public var text: String {
        var m = ManifestLines()
        m.add("format", .string(Self.format))
        m.add("layout", .string(Self.layout))
        m.add("tokenizer", .foundationCompact(tokenizer))
        m.add("inputs", .array(inputs.map { .string($0) }))
        m.add("normalization", .foundationCompact(normalization))
        m.add("options", options.inline)
        m.add("shard", shard?.inline ?? .null)
        m.add("report", PackingReportRecord(report).inline)
        m.add("validation", PackingReportRecord(validation).inline)
        m.add("comparison", .object([("best-fit", PackingReportRecord(bestFit).inline), ("concat", PackingReportRecord(concat).inline)]))
        if let sha256 { m.add(DatasetHashes.key, hashesJSON(sha256)) }
        return m.text
    }

    /// OUT.json for the dataset `prefix`.
    public static func path(prefix: String) -> String { prefix + ".json" }

    /// Where the pack at `packPrefix` finds the manifest of its input `input` (a tokenize prefix as given to
    /// `pack`): the path as given (relative to pack's working directory), else the same name beside the pack.
    public static func inputCandidates(_ input: String, packPrefix: String) -> [String] {
        [input, (absolutePath(packPrefix) as NSString).deletingLastPathComponent + "/" + (input as NSString).lastPathComponent]
    }

    /// Reads OUT.json (nil when there is none).
    public static func read(prefix: String) throws(ManifestError) -> PackedDatasetManifest? {
        try readManifest(PackedDatasetManifest.self, path: path(prefix: prefix))
    }

    /// Writes OUT.json for the committed OUT.bin/.idx (and OUT_valid.bin/.idx with `validation`), with
    /// their SHA-256, atomically.
    public func write(prefix: String, validation: Bool) throws {
        var m = self
        m.sha256 = try DatasetHashes.compute(prefix: prefix, suffixes: [".bin", ".idx"] + (validation ? ["_valid.bin", "_valid.idx"] : []))
        try writeFileAtomically(Array(m.text.utf8), to: Self.path(prefix: prefix))
    }
}

/// A dataset manifest of either kind, told apart by its "format" field.
public enum DatasetManifest: Sendable, Equatable {
    case tokenized(TokenizedDatasetManifest)
    case packed(PackedDatasetManifest)

    /// Reads PREFIX.json (nil when there is none); another "format" is an error naming the field.
    public static func read(prefix: String) throws(ManifestError) -> DatasetManifest? {
        let path = prefix + ".json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        switch try decodeManifest(FormatField.self, from: data, path: path).format {
        case TokenizedDatasetManifest.format: return .tokenized(try decodeManifest(TokenizedDatasetManifest.self, from: data, path: path))
        case PackedDatasetManifest.format: return .packed(try decodeManifest(PackedDatasetManifest.self, from: data, path: path))
        case let other:
            throw ManifestError(path: path, field: "format", "is \(encodeJSONString(other)), expected \"\(TokenizedDatasetManifest.format)\" or \"\(PackedDatasetManifest.format)\"")
        }
    }

    /// The tokenizer the manifest names (a pack's copies its inputs').
    public var tokenizer: TokenizerRecord? {
        switch self { case .tokenized(let m): return m.tokenizer; case .packed(let m): return m.tokenizer }
    }
    public var normalization: NormalizationRecord? {
        switch self { case .tokenized(let m): return m.normalization; case .packed(let m): return m.normalization }
    }
    public var inputs: [String] {
        switch self { case .tokenized(let m): return m.inputs; case .packed(let m): return m.inputs }
    }
    public var sha256: [String: String]? {
        switch self { case .tokenized(let m): return m.sha256; case .packed(let m): return m.sha256 }
    }
    public var tokenizedManifest: TokenizedDatasetManifest? { if case .tokenized(let m) = self { return m }; return nil }
    public var packedManifest: PackedDatasetManifest? { if case .packed(let m) = self { return m }; return nil }
}
