// What a model was trained on, carried from stage to stage so `tokenmill bpb --run` can evaluate the way
// the training data was made:
//   normalize -o X      writes X.tokenmill.json: {"format": "tokenmill-normalized-corpus", "normalization": N, "bytes": size of X}
//   tokenize -o P       PREFIX.json gets "normalization": N when every input has such a sidecar naming the same N
//   pack -o P           PREFIX.json copies "tokenizer" and "normalization" from its inputs' manifests
//   train --data P      RUN/checkpoint/data.json (`trainingDataRecord`): the data, its tokenizer and N
// N is {"form": "nfkc", "drop_bom": true, "crlf_to_lf": true, "strip_control": true}; null means unknown.
import CorpusIO
import Foundation
import Normalization

/// The normalization a corpus went through: the form and the cleanups that change text.
struct NormalizationRecord: Equatable {
    var form: NormalizationForm
    var cleanups: Cleanups

    init(form: NormalizationForm, cleanups: Cleanups) {
        self.form = form
        var c = cleanups
        c.dropEmpty = false   // dropping documents changes no text; not part of the record
        self.cleanups = c
    }

    init?(json: Any?) {
        guard let o = json as? [String: Any], let f = (o["form"] as? String).flatMap(NormalizationForm.init(rawValue:)),
              let bom = o["drop_bom"] as? Bool, let crlf = o["crlf_to_lf"] as? Bool, let control = o["strip_control"] as? Bool else { return nil }
        var c = Cleanups.none
        c.dropBOM = bom; c.crlfToLF = crlf; c.stripControl = control
        self.init(form: f, cleanups: c)
    }

    var json: [String: Any] {
        ["form": form.rawValue, "drop_bom": cleanups.dropBOM, "crlf_to_lf": cleanups.crlfToLF, "strip_control": cleanups.stripControl]
    }

    /// Compact JSON with sorted keys, for hand-written manifests.
    var jsonText: String {
        String(decoding: try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
    }

    /// "nfkc", or "nfkc without control-character stripping" when a cleanup was switched off.
    var summary: String {
        let off = [(cleanups.dropBOM, "BOM dropping"), (cleanups.crlfToLF, "CRLF to LF"), (cleanups.stripControl, "control-character stripping")]
            .filter { !$0.0 }.map(\.1)
        return form.rawValue + (off.isEmpty ? "" : " without " + off.joined(separator: ", "))
    }
}

/// The sidecar `normalize -o X` writes beside X.
func normalizationSidecarPath(_ output: String) -> String { output + ".tokenmill.json" }

/// Writes X.tokenmill.json for the finished output X (atomically).
func writeNormalizationSidecar(output: String, record: NormalizationRecord, inputs: [String]) throws {
    let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? NSNumber)?.intValue ?? 0
    let object: [String: Any] = ["format": "tokenmill-normalized-corpus", "normalization": record.json, "inputs": inputs, "bytes": size]
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    let file = try OutputFile(path: normalizationSidecarPath(output), compress: false)
    try file.write(Array(data) + [0x0A])
    try file.commit()
}

/// The normalization of a corpus file from its sidecar, when it has one that still matches the file's size.
func normalizationOfCorpusFile(_ path: String) -> NormalizationRecord? {
    guard path != "-", let data = FileManager.default.contents(atPath: normalizationSidecarPath(path)),
          let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
          o["format"] as? String == "tokenmill-normalized-corpus",
          let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue,
          (o["bytes"] as? Int) == size else { return nil }
    return NormalizationRecord(json: o["normalization"])
}

/// The normalization shared by all `inputs` (nil when any is unknown or they differ; then a warning for differing ones).
func commonNormalization(ofCorpusFiles inputs: [String], warn: (String) -> Void) -> NormalizationRecord? {
    let records = inputs.map(normalizationOfCorpusFile)
    guard let first = records.first ?? nil else { return nil }
    if records.contains(where: { $0 == nil }) { return nil }
    if records.contains(where: { $0 != first }) {
        warn("warning: the inputs were normalized differently (their .tokenmill.json sidecars differ); the manifest records no normalization")
        return nil
    }
    return first
}

/// The one normalization recorded by all `manifests` (nil when any has none or they differ).
func commonNormalization(ofManifests manifests: [[String: Any]?]) -> NormalizationRecord? {
    let records = manifests.map { NormalizationRecord(json: $0?["normalization"]) }
    guard let first = records.first ?? nil, records.allSatisfy({ $0 == first }) else { return nil }
    return first
}

/// An absolute, standardized form of `path` (relative to the current directory).
func absolutePath(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

/// RUN/checkpoint/data.json: what `train --data DATA` read, with the tokenizer and normalization its
/// manifests name (packed data: its own manifest, else its inputs'). The tokenizer's "resolved" path is
/// the absolute path of the file with the recorded SHA-256 (tried as given, then beside the manifest),
/// or null when none was found.
func trainingDataRecord(data: String) throws -> [String: Any] {
    let prefix = data.hasSuffix(".bin") || data.hasSuffix(".idx") ? String(data.dropLast(4)) : data
    let fm = FileManager.default
    let isMegatron = fm.fileExists(atPath: prefix + ".idx") && fm.fileExists(atPath: prefix + ".bin")
    var record: [String: Any] = ["format": "tokenmill-training-data", "data": data, "data_resolved": absolutePath(data),
                                 "manifest": NSNull(), "tokenizer": NSNull(), "normalization": NSNull(), "normalization_source": NSNull()]
    guard isMegatron, let manifest = try readManifest(prefix) else { return record }
    let manifestPath = absolutePath(prefix + ".json")
    let manifestDir = (manifestPath as NSString).deletingLastPathComponent
    record["manifest"] = manifestPath
    // A pack's inputs are tokenize prefixes, as given to `pack` (relative to its working directory, or beside the pack).
    let inputs: [(path: String, manifest: [String: Any]?)] = try ((manifest["inputs"] as? [String]) ?? []).map { i in
        for candidate in [i, manifestDir + "/" + (i as NSString).lastPathComponent] {
            if let m = try readManifest(candidate) { return (absolutePath(candidate + ".json"), m) }
        }
        return (i, nil)
    }
    let packed = manifest["format"] as? String == "tokenmill-packed-megatron-dataset"
    var tokenizer = manifest["tokenizer"] as? [String: Any]
    if tokenizer == nil && packed { tokenizer = inputs.compactMap { $0.manifest?["tokenizer"] as? [String: Any] }.first }
    if var t = tokenizer, let path = t["path"] as? String, let hash = t["sha256"] as? String {
        let candidates = path.hasPrefix("/") ? [path] : [path, manifestDir + "/" + path, manifestDir + "/" + (path as NSString).lastPathComponent]
        t["resolved"] = candidates.first { fm.fileExists(atPath: $0) && (try? sha256(ofFile: tokenizerFile($0))) == hash }.map(absolutePath) ?? NSNull()
        record["tokenizer"] = t
    }
    if let n = NormalizationRecord(json: manifest["normalization"]) {
        record["normalization"] = n.json
        record["normalization_source"] = manifestPath
    } else if packed && manifest["normalization"] == nil, !inputs.isEmpty,   // a pack from before packs recorded it
              let n = commonNormalization(ofManifests: inputs.map(\.manifest)) {
        record["normalization"] = n.json
        record["normalization_source"] = inputs[0].path
    }
    return record
}

/// The record saved in a checkpoint directory, if any.
func savedTrainingDataRecord(checkpoint dir: String) throws -> [String: Any]? {
    let path = dir + "/" + trainingDataRecordName
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], o["format"] as? String == "tokenmill-training-data" else {
        throw RuntimeFailure(description: "\(path): not a TokenMill training-data record")
    }
    return o
}

let trainingDataRecordName = "data.json"

/// The record of a resumed run: the new data's, but the tokenizer must be the one the run began with;
/// data that names no tokenizer keeps the run's tokenizer and normalization.
func resumedTrainingDataRecord(old: [String: Any]?, new: [String: Any], warn: (String) -> Void) throws -> [String: Any] {
    guard let old else { return new }
    var record = new
    let oldTokenizer = old["tokenizer"] as? [String: Any], newTokenizer = new["tokenizer"] as? [String: Any]
    if let a = oldTokenizer?["sha256"] as? String, let b = newTokenizer?["sha256"] as? String, a != b {
        throw RuntimeFailure(description: "\(new["manifest"] as? String ?? (new["data"] as? String ?? "")): tokenized with another tokenizer (\(newTokenizer?["path"] ?? "") sha256 \(b.prefix(12))…) than the run was trained with (\(oldTokenizer?["path"] ?? "") sha256 \(a.prefix(12))…)")
    }
    if newTokenizer == nil, let oldTokenizer {
        record["tokenizer"] = oldTokenizer
        if new["normalization"] is NSNull || new["normalization"] == nil {
            record["normalization"] = old["normalization"] ?? NSNull()
            record["normalization_source"] = old["normalization_source"] ?? NSNull()
        }
    }
    let before = NormalizationRecord(json: old["normalization"]), after = NormalizationRecord(json: record["normalization"])
    if let before, let after, before != after {
        warn("warning: the run was trained on \(before.summary)-normalized data and continues on \(after.summary)-normalized data; the record now says \(after.summary)")
    }
    return record
}

/// `record` as the pretty JSON written into the checkpoint.
func trainingDataRecordJSON(_ record: [String: Any]) -> Data {
    try! JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8)
}
