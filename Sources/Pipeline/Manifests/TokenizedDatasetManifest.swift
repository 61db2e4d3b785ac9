// PREFIX.json, written by `tokenize` (and `merge` of its shards) beside PREFIX.bin/.idx: the tokenizer,
// the inputs, the options, the counts and the SHA-256 of the two files. One line per top-level field
// (see ManifestCoding.swift); the "sha256" field comes last, once the files are complete.
import CorpusIO
import Foundation
import Packing

/// The tokenizer a dataset was made with: the path as given, its file's SHA-256 and its vocabulary size
/// (added tokens included).
public struct TokenizerRecord: Codable, Equatable, Sendable {
    public var path: String
    public var sha256: String
    public var vocabularySize: Int

    public init(path: String, sha256: String, vocabularySize: Int) {
        self.path = path; self.sha256 = sha256; self.vocabularySize = vocabularySize
    }

    enum CodingKeys: String, CodingKey { case path, sha256, vocabularySize = "vocabulary_size" }

    var inline: InlineJSON { .object([("path", .string(path)), ("sha256", .string(sha256)), ("vocabulary_size", .int(vocabularySize))]) }
}

/// The manifest of a tokenized Megatron dataset.
public struct TokenizedDatasetManifest: FormattedRecord, Codable, Equatable, Sendable {
    public static let format = "megatron-indexed-dataset"

    public private(set) var format = Self.format
    public var tokenmillVersion: String
    public var tokenizer: TokenizerRecord
    public var inputs: [String]
    /// Written since normalize recorded it (older manifests lack it: unknown).
    @ExplicitNull public var normalization: NormalizationRecord?
    public var options: Options
    /// Set on the output of `tokenize --shard I/N` only.
    @ExplicitNull public var shard: Shard?
    public var counts: Counts
    /// SHA-256 by suffix (".bin", ".idx"); nil in manifests written before TokenMill recorded them.
    public var sha256: [String: String]?

    public struct Options: Codable, Equatable, Sendable {
        public var dtype: IndexedDType
        /// The end-of-text token appended to every document (nil: none).
        public var eod: EndOfText?
        public var allowSpecial: Bool
        public var textField: String
        public var fimRate: Double
        public var fimSPMRate: Double
        public var fimTokens: [String]
        public var splitPunctuationNewline: Double
        public var seed: UInt64

        public struct EndOfText: Equatable, Sendable {
            public var token: String
            public var id: Int32
            public init(token: String, id: Int32) { self.token = token; self.id = id }
        }

        public init(dtype: IndexedDType, eod: EndOfText?, allowSpecial: Bool, textField: String, fimRate: Double, fimSPMRate: Double,
                    fimTokens: [String], splitPunctuationNewline: Double, seed: UInt64) {
            self.dtype = dtype; self.eod = eod; self.allowSpecial = allowSpecial; self.textField = textField
            self.fimRate = fimRate; self.fimSPMRate = fimSPMRate; self.fimTokens = fimTokens
            self.splitPunctuationNewline = splitPunctuationNewline; self.seed = seed
        }

        enum CodingKeys: String, CodingKey {
            case dtype, appendEOD = "append_eod", eodToken = "eod_token", eodID = "eod_id", allowSpecial = "allow_special"
            case textField = "text_field", fimRate = "fim_rate", fimSPMRate = "fim_spm_rate", fimTokens = "fim_tokens"
            case splitPunctuationNewline = "split_punctuation_newline", seed
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let name = try c.decode(String.self, forKey: .dtype)
            guard let dtype = IndexedDType.allCases.first(where: { "\($0)" == name }) else {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.dtype], debugDescription: "unknown element type \"\(name)\""))
            }
            self.dtype = dtype
            if try c.decode(Bool.self, forKey: .appendEOD) {
                eod = EndOfText(token: try c.decodeIfPresent(String.self, forKey: .eodToken) ?? "", id: try c.decode(Int32.self, forKey: .eodID))
            }
            allowSpecial = try c.decode(Bool.self, forKey: .allowSpecial)
            textField = try c.decode(String.self, forKey: .textField)
            fimRate = try c.decode(Double.self, forKey: .fimRate)
            fimSPMRate = try c.decode(Double.self, forKey: .fimSPMRate)
            fimTokens = try c.decode([String].self, forKey: .fimTokens)
            // Written since token-boundary randomization; older manifests mean 0.
            splitPunctuationNewline = try c.decodeIfPresent(Double.self, forKey: .splitPunctuationNewline) ?? 0
            seed = try c.decode(UInt64.self, forKey: .seed)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode("\(dtype)", forKey: .dtype)
            try c.encode(eod != nil, forKey: .appendEOD)
            try c.encode(eod?.token, forKey: .eodToken)
            try c.encode(eod?.id, forKey: .eodID)
            try c.encode(allowSpecial, forKey: .allowSpecial)
            try c.encode(textField, forKey: .textField)
            try c.encode(fimRate, forKey: .fimRate)
            try c.encode(fimSPMRate, forKey: .fimSPMRate)
            try c.encode(fimTokens, forKey: .fimTokens)
            try c.encode(splitPunctuationNewline, forKey: .splitPunctuationNewline)
            try c.encode(seed, forKey: .seed)
        }

        var inline: InlineJSON {
            .object([("dtype", .string("\(dtype)")), ("append_eod", .bool(eod != nil)), ("eod_token", .optional(eod?.token)),
                     ("eod_id", eod.map { .int(Int($0.id)) } ?? .null), ("allow_special", .bool(allowSpecial)), ("text_field", .string(textField)),
                     ("fim_rate", .double(fimRate)), ("fim_spm_rate", .double(fimSPMRate)), ("fim_tokens", .array(fimTokens.map { .string($0) })),
                     ("split_punctuation_newline", .double(splitPunctuationNewline)), ("seed", .number(String(seed)))])
        }
    }

    /// Which shard of a run this is: the contiguous range of input files it read (`InputShardPlan`) and
    /// the bytes it read from them, so `merge` can check the shards tile the inputs and concatenate them.
    /// Manifests of older TokenMills (every N-th batch, with "batch_documents") have no "files": merge
    /// refuses them.
    public struct Shard: Codable, Equatable, Sendable {
        public var index: Int
        public var count: Int
        /// Input files [first, end) of the manifest's "inputs"; nil in an older TokenMill's shard.
        public var files: Range<Int>?
        /// Bytes read from the input files (compressed, as stored).
        public var inputBytes: Int64?
        public init(index: Int, count: Int, files: Range<Int>?, inputBytes: Int64?) {
            self.index = index; self.count = count; self.files = files; self.inputBytes = inputBytes
        }
        enum CodingKeys: String, CodingKey { case index, count, files, inputBytes = "input_bytes" }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decode(Int.self, forKey: .index)
            count = try c.decode(Int.self, forKey: .count)
            if let pair = try c.decodeIfPresent([Int].self, forKey: .files) {
                guard pair.count == 2, pair[0] >= 0, pair[0] <= pair[1] else {
                    throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.files], debugDescription: "expected [first, end] with first <= end"))
                }
                files = pair[0] ..< pair[1]
            }
            inputBytes = try c.decodeIfPresent(Int64.self, forKey: .inputBytes)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(count, forKey: .count)
            try c.encodeIfPresent(files.map { [$0.lowerBound, $0.upperBound] }, forKey: .files)
            try c.encodeIfPresent(inputBytes, forKey: .inputBytes)
        }

        var inline: InlineJSON {
            var fields: [(String, InlineJSON)] = [("index", .int(index)), ("count", .int(count))]
            if let files { fields.append(("files", .array([.int(files.lowerBound), .int(files.upperBound)]))) }
            if let inputBytes { fields.append(("input_bytes", .number(String(inputBytes)))) }
            return .object(fields)
        }
    }

    public struct Counts: Codable, Equatable, Sendable {
        public var documents = 0, tokens = 0, textBytes = 0, emptySkipped = 0, malformedSkipped = 0, fimPSM = 0, fimSPM = 0
        public var punctuationNewlineSplit = 0, punctuationNewlineEligible = 0
        public init() {}

        enum CodingKeys: String, CodingKey {
            case documents, tokens, textBytes = "text_bytes", emptySkipped = "empty_skipped", malformedSkipped = "malformed_skipped"
            case fimPSM = "fim_psm", fimSPM = "fim_spm", punctuationNewlineSplit = "punctuation_newline_split"
            case punctuationNewlineEligible = "punctuation_newline_eligible"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            documents = try c.decode(Int.self, forKey: .documents)
            tokens = try c.decode(Int.self, forKey: .tokens)
            textBytes = try c.decode(Int.self, forKey: .textBytes)
            emptySkipped = try c.decode(Int.self, forKey: .emptySkipped)
            malformedSkipped = try c.decode(Int.self, forKey: .malformedSkipped)
            fimPSM = try c.decode(Int.self, forKey: .fimPSM)
            fimSPM = try c.decode(Int.self, forKey: .fimSPM)
            // Written since token-boundary randomization; older manifests mean 0.
            punctuationNewlineSplit = try c.decodeIfPresent(Int.self, forKey: .punctuationNewlineSplit) ?? 0
            punctuationNewlineEligible = try c.decodeIfPresent(Int.self, forKey: .punctuationNewlineEligible) ?? 0
        }

        /// The counts of two parts of one run, added.
        public static func + (a: Counts, b: Counts) -> Counts {
            var s = Counts()
            s.documents = a.documents + b.documents; s.tokens = a.tokens + b.tokens; s.textBytes = a.textBytes + b.textBytes
            s.emptySkipped = a.emptySkipped + b.emptySkipped; s.malformedSkipped = a.malformedSkipped + b.malformedSkipped
            s.fimPSM = a.fimPSM + b.fimPSM; s.fimSPM = a.fimSPM + b.fimSPM
            s.punctuationNewlineSplit = a.punctuationNewlineSplit + b.punctuationNewlineSplit
            s.punctuationNewlineEligible = a.punctuationNewlineEligible + b.punctuationNewlineEligible
            return s
        }

        var inline: InlineJSON {
            .object([("documents", .int(documents)), ("tokens", .int(tokens)), ("text_bytes", .int(textBytes)), ("empty_skipped", .int(emptySkipped)),
                     ("malformed_skipped", .int(malformedSkipped)), ("fim_psm", .int(fimPSM)), ("fim_spm", .int(fimSPM)),
                     ("punctuation_newline_split", .int(punctuationNewlineSplit)), ("punctuation_newline_eligible", .int(punctuationNewlineEligible))])
        }
    }

    public init(tokenmillVersion: String, tokenizer: TokenizerRecord, inputs: [String], normalization: NormalizationRecord?,
                options: Options, shard: Shard?, counts: Counts, sha256: [String: String]? = nil) {
        self.tokenmillVersion = tokenmillVersion; self.tokenizer = tokenizer; self.inputs = inputs; self.normalization = normalization
        self.options = options; self.shard = shard; self.counts = counts; self.sha256 = sha256
    }

    enum CodingKeys: String, CodingKey {
        case format, tokenmillVersion = "tokenmill_version", tokenizer, inputs, normalization, options, shard, counts, sha256
    }

    /// The manifest's bytes, in the layout `tokenize` has always written.
    public var text: String {
        var m = ManifestLines()
        m.add("format", .string(Self.format))
        m.add("tokenmill_version", .string(tokenmillVersion))
        m.add("tokenizer", tokenizer.inline)
        m.add("inputs", .array(inputs.map { .string($0) }))
        m.add("normalization", .foundationCompact(normalization))
        m.add("options", options.inline)
        m.add("shard", shard?.inline ?? .null)
        m.add("counts", counts.inline)
        if let sha256 { m.add(DatasetHashes.key, hashesJSON(sha256)) }
        return m.text
    }

    /// PREFIX.json for the dataset `prefix`.
    public static func path(prefix: String) -> String { prefix + ".json" }

    /// Reads PREFIX.json (nil when there is none); a manifest of another kind is an error naming "format".
    public static func read(prefix: String) throws(ManifestError) -> TokenizedDatasetManifest? {
        try readManifest(TokenizedDatasetManifest.self, path: path(prefix: prefix))
    }

    /// Writes PREFIX.json for the committed PREFIX.bin/.idx, with their SHA-256, atomically.
    public func write(prefix: String) throws {
        var m = self
        m.sha256 = try DatasetHashes.compute(prefix: prefix, suffixes: [".bin", ".idx"])
        try writeFileAtomically(Array(m.text.utf8), to: Self.path(prefix: prefix))
    }
}
