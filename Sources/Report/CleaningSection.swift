// The report's "Clean data" section: what the demo's dedup and decontaminate stages removed from the
// training split before the tokenizer was trained on it, and whether the test file bpb scores was among
// the decontamination targets. The figures come from demo.json's "cleaning" object, which `tokenmill
// demo` copies from the cleaned corpus's .cleaning.json (Pipeline's `CleaningRecord`) with the bpb test
// file's verdict; report.json repeats them under "clean_data". A table, not a chart: a handful of counts.
import Foundation
import Pipeline

extension DemoLayout {
    public static let trainDeduplicated = "train.dedup.jsonl.zst"
    public static let trainCleaned = "train.clean.jsonl.zst"
    /// dedup's removed-documents list (one JSON line per removed document).
    public static let dedupRemoved = "dedup-removed.jsonl"
    /// decontaminate's hits (one JSON line per test document hit).
    public static let contamination = "contamination.jsonl"
}

/// What demo.json says about cleaning.
public struct CleaningFigures: Equatable {
    /// The record of the text the tokenizer was trained on (nil: both stages were off).
    public var record: CleaningRecord?
    /// The test file bpb scores, and whether its content was among the decontamination targets.
    public var bpbTest: String
    public var bpbTestDecontaminated: Bool

    public init(record: CleaningRecord?, bpbTest: String, bpbTestDecontaminated: Bool) {
        self.record = record; self.bpbTest = bpbTest; self.bpbTestDecontaminated = bpbTestDecontaminated
    }

    /// demo.json's "cleaning" object.
    public var json: [String: Any] {
        var o: [String: Any] = ["bpb_test": bpbTest, "bpb_test_decontaminated": bpbTestDecontaminated]
        if let record, let object = try? JSONSerialization.jsonObject(with: prettyJSON(record)) { o["record"] = object }
        return o
    }

    /// Reads demo.json's "cleaning" object (nil when absent: a demo from before cleaning ran).
    /// - Throws: `ReportError` naming the file when the record is malformed.
    public init?(demoRecord object: Any?, path: String) throws {
        guard let o = object as? [String: Any] else { return nil }
        bpbTest = o["bpb_test"] as? String ?? "?"
        bpbTestDecontaminated = o["bpb_test_decontaminated"] as? Bool ?? false
        guard let r = o["record"] else { record = nil; return }
        do {
            record = try decodeManifest(CleaningRecord.self, from: JSONSerialization.data(withJSONObject: r), path: path)
        } catch {
            throw ReportError(description: "\(error) (in \"cleaning\")")
        }
    }
}

extension ReportData {
    /// The section's body: a table of counts and a sentence on the bpb test file.
    func cleaningFigure() -> String {
        guard let c = cleaning else { return "<p class=\"note\">No cleaning figures in demo.json (a demo from before dedup and decontamination ran).</p>\n" }
        guard let r = c.record else {
            return "<p class=\"note\">Dedup and decontamination were off (--no-dedup --no-decontaminate): the model trained on every training document, and bits per byte on \(xmlEscape(c.bpbTest)) may count text it saw.</p>\n"
        }
        var rows: [(String, String)] = [("training documents in", formatCount(r.documentsIn))]
        if let d = r.dedup {
            rows.append(("exact duplicates removed", formatCount(d.exactRemoved)))
            rows.append(("near duplicates removed", "\(formatCount(d.nearRemoved)) in \(formatCount(d.clusters)) clusters"))
        } else {
            rows.append(("dedup", "off"))
        }
        if let t = r.decontamination {
            rows.append(("test documents hit", "\(formatCount(t.testDocumentsHit)) of \(formatCount(t.testDocuments))"))
            rows.append(("training documents contaminated", "\(formatCount(t.trainingContaminated)), \(t.trainingRemoved == t.trainingContaminated ? "removed" : "\(formatCount(t.trainingRemoved)) removed, the rest flagged")"))
        } else {
            rows.append(("decontamination", "off"))
        }
        rows.append(("training documents kept", formatCount(r.documentsKept)))
        let table = "<table class=\"numbers\" id=\"clean-data\"><tbody>" + rows.map { "<tr><th>\(xmlEscape($0.0))</th><td>\(xmlEscape($0.1))</td></tr>" }.joined() + "</tbody></table>\n"
        var notes: [String] = []
        if let d = r.dedup {
            notes.append("Dedup: exact copies (SHA-256 of the NFC text) and near copies by MinHash over word \(d.ngram)-grams, \(d.bands) bands of \(d.rows) (numbers \(d.keepNumbers ? "kept" : "replaced by 0")); each cluster keeps its first document.")
        }
        if let t = r.decontamination {
            let ignored = t.maxNGramDocuments.map { "; \(formatCount(t.ignoredNGrams)) test n-gram\(t.ignoredNGrams == 1 ? "" : "s") held by more than \($0) training documents \(t.ignoredNGrams == 1 ? "was" : "were") ignored as boilerplate" } ?? ""
            notes.append("Decontamination: training documents sharing a \(t.ngram)-word n-gram with a document of \(t.against.map { xmlEscape($0.path) }.joined(separator: ", ")) \(t.trainingRemoved == t.trainingContaminated ? "removed" : "flagged")\(ignored).")
        }
        notes.append(c.bpbTestDecontaminated ? "Bits per byte is computed on \(xmlEscape(c.bpbTest)), which was among the decontamination targets (same SHA-256)."
                     : "Bits per byte is computed on \(xmlEscape(c.bpbTest)), which was <b>not</b> among the decontamination targets: its figures may count text the model trained on.")
        return table + "<p class=\"note\">" + notes.joined(separator: " ") + "</p>\n"
    }
}
