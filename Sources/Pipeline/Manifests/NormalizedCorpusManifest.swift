// What a corpus went through, carried from stage to stage so `bpb --run` can evaluate the way the
// training data was made:
//   normalize -o X   X.tokenmill.json (`NormalizedCorpusManifest`): {"bytes", "format", "inputs", "normalization"}
//   tokenize -o P    P.json "normalization" when every input has such a sidecar naming the same record
//   pack -o P        P.json copies "tokenizer" and "normalization" from its inputs' manifests
//   train --data P   RUN/checkpoint/data.json (`TrainingDataRecord`)
// A `NormalizationRecord` is {"crlf_to_lf", "drop_bom", "form", "strip_control"}; null means unknown.
import CorpusIO
import Foundation
import Normalization

/// The normalization a corpus went through: the form and the cleanups that change text.
public struct NormalizationRecord: Codable, Equatable, Sendable {
    public var form: NormalizationForm
    public var cleanups: Cleanups

    public init(form: NormalizationForm, cleanups: Cleanups) {
        self.form = form
        var c = cleanups
        c.dropEmpty = false   // dropping documents changes no text; not part of the record
        self.cleanups = c
    }

    enum CodingKeys: String, CodingKey { case form, dropBOM = "drop_bom", crlfToLF = "crlf_to_lf", stripControl = "strip_control" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .form)
        guard let form = NormalizationForm(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.form], debugDescription: "unknown form \"\(name)\""))
        }
        var cleanups = Cleanups.none
        cleanups.dropBOM = try c.decode(Bool.self, forKey: .dropBOM)
        cleanups.crlfToLF = try c.decode(Bool.self, forKey: .crlfToLF)
        cleanups.stripControl = try c.decode(Bool.self, forKey: .stripControl)
        self.init(form: form, cleanups: cleanups)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(form.rawValue, forKey: .form)
        try c.encode(cleanups.dropBOM, forKey: .dropBOM)
        try c.encode(cleanups.crlfToLF, forKey: .crlfToLF)
        try c.encode(cleanups.stripControl, forKey: .stripControl)
    }

    /// "nfkc", or "nfkc without control-character stripping" when a cleanup was switched off.
    public var summary: String {
        let off = [(cleanups.dropBOM, "BOM dropping"), (cleanups.crlfToLF, "CRLF to LF"), (cleanups.stripControl, "control-character stripping")]
            .filter { !$0.0 }.map(\.1)
        return form.rawValue + (off.isEmpty ? "" : " without " + off.joined(separator: ", "))
    }

    /// The one record shared by all `records` (nil when any is nil or they differ).
    public static func common(_ records: [NormalizationRecord?]) -> NormalizationRecord? {
        guard let first = records.first ?? nil, records.allSatisfy({ $0 == first }) else { return nil }
        return first
    }
}

/// X.tokenmill.json, the sidecar `normalize -o X` writes beside its output X.
public struct NormalizedCorpusManifest: CorpusSidecar, Codable, Equatable, Sendable {
    public static let format = "tokenmill-normalized-corpus"
    public static let suffix = ".tokenmill.json"

    public private(set) var format = Self.format
    public var normalization: NormalizationRecord
    /// The inputs as given to `normalize`.
    public var inputs: [String]
    /// The size of X when it was written: a sidecar whose size no longer matches is ignored.
    public var bytes: Int

    public init(normalization: NormalizationRecord, inputs: [String], bytes: Int) {
        self.normalization = normalization; self.inputs = inputs; self.bytes = bytes
    }

    /// Writes the sidecar of the finished corpus file `output`, atomically.
    public static func write(output: String, normalization: NormalizationRecord, inputs: [String]) throws {
        try write(NormalizedCorpusManifest(normalization: normalization, inputs: inputs, bytes: 0), output: output)
    }

    /// The normalization of the corpus file `path` from its sidecar, when it has a readable one that still
    /// matches the file's size (nil otherwise, as for stdin).
    public static func normalization(ofCorpusFile corpus: String) -> NormalizationRecord? {
        (try? read(ofCorpusFile: corpus))??.normalization
    }

    /// The normalization shared by all corpus files `inputs`: nil when any is unknown or they differ
    /// (then `warn` says so).
    public static func commonNormalization(ofCorpusFiles inputs: [String], warn: (String) -> Void) -> NormalizationRecord? {
        let records = inputs.map(normalization(ofCorpusFile:))
        if let common = NormalizationRecord.common(records) { return common }
        if !records.isEmpty && !records.contains(where: { $0 == nil }) {
            warn("warning: the inputs were normalized differently (their .tokenmill.json sidecars differ); the manifest records no normalization")
        }
        return nil
    }
}
