// `prepare`'s config: normalize → dedup → decontaminate → tokenize (with FIM) → pack, as one typed value decoded from JSON or
// TOML (CorpusIO's `readConfigObject`: the same keys either way). Keys are the stages' option names
// with underscores ("split_punctuation_newline" is tokenize's --split-punctuation-newline); an unknown
// key is an error naming it and the known ones; the values are checked as the verbs check their options
// (`TokenizeOptions.validate`, `PackOptions.validate`), named by their keys.
import CorpusIO
import FillInTheMiddle
import Foundation
import Normalization

/// The whole `prepare` run: inputs, the output prefix, the tokenizer and the stages to run.
public struct PrepareConfig: Codable, Equatable, Sendable {
    public var inputs: [String]
    /// The output prefix: PREFIX.normalized.jsonl.zst, PREFIX.bin/.idx/.json, PREFIX.packed.*.
    public var output: String
    public var tokenizer: String
    public var textField: String = "text"
    /// Normalize first when present.
    public var normalize: Normalize?
    /// Dedup after normalizing: on unless "enabled" is false, with the pipeline's defaults.
    public var dedup: Dedup?
    /// Decontaminate after dedup, against "against" (off without test files, or with "enabled" false).
    public var decontaminate: Decontaminate?
    public var tokenize: Tokenize?
    /// Pack the tokenized documents when present.
    public var pack: Pack?

    public struct Normalize: Codable, Equatable, Sendable {
        /// A `NormalizationForm` raw value ("nfkc", "nfkc-casefold", …).
        public var form: String?
        public init(form: String? = nil) { self.form = form }
        enum CodingKeys: String, CodingKey, CaseIterable { case form }
    }

    /// Dedup's options; nil values take the verb's defaults, except "keep_numbers" (`defaultKeepNumbers`).
    public struct Dedup: Codable, Equatable, Sendable {
        /// The pipeline keeps numbers in shingles: templated problems that differ only in their numbers
        /// (DM Mathematics) are different documents to train on, not duplicates. `tokenmill dedup`'s
        /// default is datatrove's (numbers become 0).
        public static let defaultKeepNumbers = true
        public var enabled: Bool?
        public var keepNumbers: Bool?
        public var exactOnly: Bool?
        public var ngram: Int?
        public var bands: Int?
        public var rows: Int?
        public var seed: UInt64?
        /// Megabytes of sort buffer.
        public var sortMemory: Int?
        public init() {}
        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled, keepNumbers = "keep_numbers", exactOnly = "exact_only", ngram, bands, rows, seed, sortMemory = "sort_memory"
        }
    }

    /// Decontamination's options; nil values take the verb's defaults, except "max_ngram_documents"
    /// (`defaultMaxNGramDocuments`).
    public struct Decontaminate: Codable, Equatable, Sendable {
        /// The pipeline ignores a test n-gram that more than 10 training documents hold: on the bundled
        /// corpus plain 13-gram overlap removes 1,237 of 5,857 training documents, mostly for shared
        /// boilerplate (the man-pages colophon, license headers); with 10, 395. 0 ignores none.
        public static let defaultMaxNGramDocuments = 10
        public var enabled: Bool?
        /// Test files (or directories or globs).
        public var against: [String]?
        public var ngram: Int?
        public var maxNGramDocuments: Int?
        /// "remove" (the default) or "flag".
        public var action: String?
        public init() {}
        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled, against, ngram, maxNGramDocuments = "max_ngram_documents", action
        }
    }

    /// Tokenize's options; nil values take the verb's defaults.
    public struct Tokenize: Codable, Equatable, Sendable {
        public var fimRate: Double?
        public var fimSPMRate: Double?
        public var splitPunctuationNewline: Double?
        public var seed: UInt64?
        public var appendEOD: Bool?
        public var eodToken: String?
        /// BEGIN,HOLE,END.
        public var fimTokens: String?
        public var allowSpecial: Bool?
        public init() {}
        enum CodingKeys: String, CodingKey, CaseIterable {
            case fimRate = "fim_rate", fimSPMRate = "fim_spm_rate", splitPunctuationNewline = "split_punctuation_newline", seed
            case appendEOD = "append_eod", eodToken = "eod_token", fimTokens = "fim_tokens", allowSpecial = "allow_special"
        }
    }

    /// Pack's options; nil values take the verb's defaults.
    public struct Pack: Codable, Equatable, Sendable {
        public var seqLen: Int
        public var strategy: PackingStrategy?
        public var validFraction: Double?
        public var seed: UInt64?
        public var bufferDocs: Int?
        public var padID: Int?
        public var shuffle: Bool?
        public init(seqLen: Int) { self.seqLen = seqLen }
        enum CodingKeys: String, CodingKey, CaseIterable {
            case seqLen = "seq_len", strategy, validFraction = "valid_fraction", seed, bufferDocs = "buffer_docs", padID = "pad_id", shuffle
        }
    }

    public init(inputs: [String], output: String, tokenizer: String) {
        self.inputs = inputs; self.output = output; self.tokenizer = tokenizer
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inputs, output, tokenizer, textField = "text_field", normalize, dedup, decontaminate, tokenize, pack
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputs = try c.decode([String].self, forKey: .inputs)
        output = try c.decode(String.self, forKey: .output)
        tokenizer = try c.decode(String.self, forKey: .tokenizer)
        textField = try c.decodeIfPresent(String.self, forKey: .textField) ?? "text"
        normalize = try c.decodeIfPresent(Normalize.self, forKey: .normalize)
        dedup = try c.decodeIfPresent(Dedup.self, forKey: .dedup)
        decontaminate = try c.decodeIfPresent(Decontaminate.self, forKey: .decontaminate)
        tokenize = try c.decodeIfPresent(Tokenize.self, forKey: .tokenize)
        pack = try c.decodeIfPresent(Pack.self, forKey: .pack)
    }

    /// Reads and checks the config file at `path` (JSON or TOML, `readConfigObject`).
    /// - Throws: `ConfigFileError` when the file cannot be read or parsed (with the line for TOML);
    ///   `StageError.usage` naming the file and the key for an unknown key, a wrong type or a value out of range.
    public static func read(path: String) throws -> PrepareConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigFileError(path: path, message: "cannot read the config") }
        return try decode(readConfigObject(data, path: path), file: path)
    }

    /// The config that `root` (a config file's top-level object) holds; `file` names it in errors.
    public static func decode(_ root: [String: Any], file: String) throws -> PrepareConfig {
        func fail(_ message: String) -> StageError { StageError(.usage, "\(file): \(message)") }
        func check(_ object: [String: Any], _ known: [String], at path: String) throws {
            if let key = object.keys.sorted().first(where: { !known.contains($0) }) {
                throw fail("unknown key '\(path)\(key)' (known: \(known.sorted().joined(separator: ", "))).")
            }
        }
        try check(root, CodingKeys.allCases.map(\.rawValue), at: "")
        let sections: [(CodingKeys, [String])] = [(.normalize, Normalize.CodingKeys.allCases.map(\.rawValue)),
                                                  (.dedup, Dedup.CodingKeys.allCases.map(\.rawValue)),
                                                  (.decontaminate, Decontaminate.CodingKeys.allCases.map(\.rawValue)),
                                                  (.tokenize, Tokenize.CodingKeys.allCases.map(\.rawValue)),
                                                  (.pack, Pack.CodingKeys.allCases.map(\.rawValue))]
        var object = root
        for (key, known) in sections {
            guard let value = root[key.rawValue] else { continue }
            if value is NSNull { object[key.rawValue] = nil; continue }
            guard let section = value as? [String: Any] else { throw fail("'\(key.rawValue)' must be an object.") }
            try check(section, known, at: key.rawValue + ".")
        }
        // Integers as the verbs parse them (their text): 8.5 or -1 for a seed is no integer.
        var integers: [(String, String, (String) -> Bool)] = [("tokenize", "seed", { UInt64($0) != nil }), ("pack", "seed", { UInt64($0) != nil }),
                                                              ("pack", "seq_len", { Int($0) != nil }), ("pack", "buffer_docs", { Int($0) != nil }),
                                                              ("pack", "pad_id", { Int($0) != nil }), ("dedup", "seed", { UInt64($0) != nil })]
        for key in ["ngram", "bands", "rows", "sort_memory"] { integers.append(("dedup", key, { Int($0) != nil })) }
        for key in ["ngram", "max_ngram_documents"] { integers.append(("decontaminate", key, { Int($0) != nil })) }
        for (section, key, parses) in integers {
            if let n = (object[section] as? [String: Any])?[key] as? NSNumber, !(n is Bool), !parses(n.stringValue) {
                throw fail("'\(section).\(key)' must be \(key == "seed" ? "an integer from 0 to \(UInt64.max)" : "an integer").")
            }
        }
        if let inputs = root["inputs"], (inputs as? [String])?.isEmpty ?? true { throw fail("'inputs' must be a non-empty list of paths.") }
        let config: PrepareConfig
        do {
            config = try JSONDecoder().decode(PrepareConfig.self, from: JSONSerialization.data(withJSONObject: object))
        } catch let DecodingError.keyNotFound(key, ctx) {
            let path = (ctx.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            throw fail(["inputs": "'inputs' must be a non-empty list of paths.", "output": "'output' (the output prefix) is required."][path]
                       ?? "'\(path)' is required.")
        } catch let DecodingError.typeMismatch(type, ctx) {
            throw fail("'\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' must be \(describe(type)).")
        } catch let DecodingError.dataCorrupted(ctx) {
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw fail(path == "pack.strategy" ? "'pack.strategy' must be one of \(PackingStrategy.allCases.map(\.rawValue).joined(separator: ", "))."
                       : path.isEmpty ? ctx.debugDescription : "'\(path)' is not valid: \(ctx.debugDescription)")
        }
        try config.validate(file: file)
        return config
    }

    /// What a value of `type` is called in an error.
    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Bool.Type: "a boolean (true or false)"
        case is String.Type, is PackingStrategy.Type: "a string"
        case is Double.Type, is Int.Type, is UInt64.Type: "a number"
        case is [String].Type: "a non-empty list of paths"
        default: "an object"
        }
    }

    /// Checks the values as the verbs check their options, naming them by their keys.
    func validate(file: String) throws(StageError) {
        func named(_ section: String) -> (String) -> String { { "'\(section).\($0.replacingOccurrences(of: "-", with: "_"))'" } }
        if let form = normalize?.form, NormalizationForm(rawValue: form) == nil {
            throw StageError(.usage, "\(file): 'normalize.form' must be one of \(NormalizationForm.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if let d = dedup {
            for (key, value, least) in [("ngram", d.ngram, 1), ("bands", d.bands, 1), ("rows", d.rows, 1), ("sort_memory", d.sortMemory, 1)] {
                if let value, value < least { throw StageError(.usage, "\(file): 'dedup.\(key)' must be at least \(least).") }
            }
        }
        if let d = decontaminate {
            if let n = d.ngram, n < 1 { throw StageError(.usage, "\(file): 'decontaminate.ngram' must be at least 1.") }
            if let m = d.maxNGramDocuments, m < 0 { throw StageError(.usage, "\(file): 'decontaminate.max_ngram_documents' must be 0 (ignore none) or more.") }
            if let a = d.action, !["remove", "flag"].contains(a) { throw StageError(.usage, "\(file): 'decontaminate.action' must be remove or flag.") }
            if d.enabled == true && (d.against ?? []).isEmpty {
                throw StageError(.usage, "\(file): 'decontaminate.against' must list the test files to decontaminate against.")
            }
        }
        let t = tokenizeOptions
        do throws(StageError) {
            try ReadOptions.validate(textField: textField, name: "'text_field'")
            try TokenizeOptions.validate(fimRate: t.fim.rate, fimSPMRate: t.fim.spmRate, splitPunctuationNewline: t.splitPunctuationNewline,
                                         checkpointEvery: t.checkpointEvery, fimTokens: tokenize?.fimTokens, name: named("tokenize"))
            try packOptions?.validate(name: named("pack"))
        } catch {
            throw StageError(error.kind, "\(file): \(error.message)")
        }
    }

    /// The normalization form (nfkc unless given).
    public var normalizationForm: NormalizationForm { normalize?.form.flatMap(NormalizationForm.init(rawValue:)) ?? .nfkc }

    /// Tokenize's options (threads and reading aside: the caller's).
    public var tokenizeOptions: TokenizeOptions {
        var o = TokenizeOptions()
        let t = tokenize ?? Tokenize()
        o.appendEOD = t.appendEOD ?? o.appendEOD
        o.eodToken = t.eodToken
        o.allowSpecial = t.allowSpecial ?? o.allowSpecial
        o.fim = FIMConfig(rate: t.fimRate ?? o.fim.rate, spmRate: t.fimSPMRate ?? o.fim.spmRate, seed: t.seed ?? o.fim.seed)
        o.fimTokens = t.fimTokens?.split(separator: ",").map(String.init)
        o.splitPunctuationNewline = t.splitPunctuationNewline ?? o.splitPunctuationNewline
        o.read.textField = textField
        return o
    }

    /// Pack's options, when the config packs.
    public var packOptions: PackOptions? {
        guard let p = pack else { return nil }
        var o = PackOptions(sequenceLength: p.seqLen)
        o.strategy = p.strategy ?? o.strategy
        o.validFraction = p.validFraction ?? o.validFraction
        o.seed = p.seed ?? o.seed
        o.bufferDocs = p.bufferDocs ?? o.bufferDocs
        o.padID = p.padID
        o.shuffle = p.shuffle ?? o.shuffle
        return o
    }

    /// Whether dedup runs (unless switched off).
    public var dedupEnabled: Bool { dedup?.enabled ?? true }
    /// The test files decontamination runs against (none: it does not run).
    public var decontaminationTargets: [String] { decontaminate?.enabled == false ? [] : decontaminate?.against ?? [] }

    /// The file the normalize stage writes (the tokenize stage's input then).
    public var normalizedPath: String { output + ".normalized.jsonl.zst" }
    /// The file dedup and decontamination write (the tokenize stage's input then), with its .cleaning.json.
    public var cleanedPath: String { output + ".clean.jsonl.zst" }
    /// Dedup's removed-documents list.
    public var dedupRemovedPath: String { output + ".dedup-removed.jsonl" }
    /// Decontamination's hits list (test documents hit, training documents that hit them).
    public var contaminationPath: String { output + ".contamination.jsonl" }
    /// The packed dataset's prefix.
    public var packedPrefix: String { output + ".packed" }
}
