// The report's FP8 part: present only for fp8 runs, aggregated from metrics.jsonl's per-window "fp8"
// statistics (the run's error is the RMS over every value, windows weighted by their counts; a step a
// resumed run logged twice counts once), with the settings from the run's checkpoint config.
import CorpusIO
import Foundation
import Report
import Testing
import TokenMillTestSupport

@Suite struct FP8SectionTests {
    @Test func fp8RunsGetTheSectionAggregatedOverWindows() throws {
        let dir = try makeTemporaryDirectory("report-fp8")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("run/checkpoint"), withIntermediateDirectories: true)
        // Three windows of activations (counts 100, 300, 600), the second logged twice (a resume).
        let windows: [(step: Int, count: Int, error: Double, saturated: Double)] = [(10, 100, 0.02, 0.01), (20, 300, 0.04, 0.0), (30, 600, 0.01, 0.002)]
        var lines = windows.map { w in
            "{\"step\": \(w.step), \"loss\": 5, \"tokens\": \(w.step * 64), \"kept_activation_bytes\": 1000, \"activation_bytes\": 4000, \"optimizer_bytes\": 88, "
                + "\"fp8\": {\"activation\": {\"count\": \(w.count), \"relative_error\": \(w.error), \"saturated\": \(w.saturated), \"underflowed\": 0}}}"
        }
        lines.insert(lines[1], at: 2)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent(DemoLayout.metrics))
        try Data("{\"training\": {\"precision\": \"fp8\", \"fp8_scaling\": \"per-tensor\", \"fp8_accumulation\": \"fp32\"}}".utf8)
            .write(to: dir.appendingPathComponent(DemoLayout.runConfig))
        let data = try ReportData.load(directory: dir.path)
        let fp8 = try #require(data.fp8)
        #expect(fp8.scaling == "per-tensor" && fp8.accumulation == "fp32")
        #expect(fp8.keptActivationBytes == 1000 && fp8.activationBytes == 4000 && fp8.optimizerBytes == 88)
        let row = try #require(fp8.kinds.first)
        #expect(fp8.kinds.count == 1 && row.name == "activation" && row.count == 1000)
        let rms = (windows.reduce(0) { $0 + $1.error * $1.error * Double($1.count) } / 1000).squareRoot()
        #expect(abs(row.relativeError - rms) < 1e-12)
        #expect(abs(row.saturated - (0.01 * 100 + 0.002 * 600) / 1000) < 1e-12)
        #expect(row.lastRelativeError == 0.01)
        let html = data.html(version: "0")
        #expect(html.contains("<figure id=\"fig-fp8\">") && html.contains(String(format: "%.2f%%", 100 * rms)) && html.contains("fp8_scaling per-tensor"))
        let json = try #require(try JSONSerialization.jsonObject(with: data.json(version: "0")) as? [String: Any])
        #expect((json["fp8"] as? [String: Any])?["fp8_scaling"] as? String == "per-tensor")
    }

    @Test func fp32RunsHaveNoFP8Section() throws {
        let data = try ReportData.load(directory: packageRoot.appendingPathComponent("Tests/Fixtures/report/full").path)
        #expect(!data.losses.isEmpty && data.fp8 == nil)
        #expect(!data.html(version: "0").contains("fig-fp8"))
    }
}
