// Snapshot tests of the report: committed demo-directory inputs (Tests/Fixtures/report, remade by
// tools/make-report-fixtures) are rendered and compared byte for byte with the committed report.html
// and report.json that `tokenmill report` wrote from them. A change to the page's look shows up here
// as a diff to review, then the expected files are remade.
import CorpusIO
import Foundation
import Report
import Testing
import TokenMillTestSupport

private let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/report").path
private let version = "0.1.0"

@Suite struct ReportSnapshotTests {
    /// The complete demo (`full`) and one whose training and bits per byte have not run (`partial`).
    @Test(arguments: ["full", "partial"])
    func rendersTheCommittedExpectedOutput(_ name: String) throws {
        let inputs = fixtures + "/" + name
        let dir = try makeTemporaryDirectory("report-\(name)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try ReportData.load(directory: inputs)
        try data.write(directory: dir.path, version: version)
        for file in [DemoLayout.reportHTML, DemoLayout.reportJSON] {
            let written = try Data(contentsOf: dir.appendingPathComponent(file))
            let expected = try Data(contentsOf: URL(fileURLWithPath: inputs + "/expected/" + file))
            #expect(written == expected, "\(name)/\(file) differs from the committed snapshot (\(written.count) bytes, expected \(expected.count))")
        }
    }

    @Test func everyFigureIsDrawnFromTheFullInputs() throws {
        let data = try ReportData.load(directory: fixtures + "/full")
        #expect(data.missing.isEmpty)
        let html = data.html(version: version)
        for id in ReportData.figureIDs {
            guard let start = html.range(of: "<figure id=\"\(id)\"") else { Issue.record("no figure \(id)"); continue }
            let rest = html[start.lowerBound...]
            let end = try #require(rest.range(of: "</figure>"))
            #expect(rest[..<end.lowerBound].contains("<svg"), "figure \(id) holds no chart")
        }
        // The figures' numbers are the inputs': the overall bits per byte and the last logged step.
        let bpb = try #require(data.bpbOverall)
        #expect(html.contains(String(format: "%.4f", bpb.bpb)))
        #expect(data.losses.last!.step > data.losses.first!.step)
    }

    @Test func missingInputsAreNamedAndLeftOut() throws {
        let data = try ReportData.load(directory: fixtures + "/partial")
        #expect(data.missing.keys.sorted() == ["bpb", "training"])
        #expect(data.missing["bpb"] == "bpb.json is missing")
        #expect(data.html(version: version).contains("bpb.json is missing"))
    }

    @Test func aMalformedMetricsLineIsAnErrorNamingFileAndLine() throws {
        let dir = try makeTemporaryDirectory("report-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("run"), withIntermediateDirectories: true)
        let metrics = dir.appendingPathComponent(DemoLayout.metrics)
        try Data("{\"step\": 1, \"loss\": 5, \"tokens\": 10}\n{\"step\": 2, \"loss\"\n".utf8).write(to: metrics)
        #expect {
            _ = try ReportData.load(directory: dir.path)
        } throws: { "\($0)" == "\(metrics.path):2: not a JSON object" }
    }

    /// The Clean data section from the fixture's record, and its other cases: the bpb test file not among
    /// the targets, both stages off, and a demo.json from before cleaning ran; a malformed record is an error.
    @Test func theCleanDataSectionSaysWhatWasRemovedAndWhetherBPBsFileWasATarget() throws {
        var data = try ReportData.load(directory: fixtures + "/full")
        let cleaning = try #require(data.cleaning)
        let record = try #require(cleaning.record)
        #expect(cleaning.bpbTestDecontaminated && record.documentsIn == 300 && record.documentsKept == 278)
        #expect(record.decontamination?.trainingRemoved == 22 && record.decontamination?.testDocumentsHit == 8)
        func section(_ d: ReportData) throws -> Substring {
            let html = d.html(version: version)
            let start = try #require(html.range(of: "<section id=\"clean\">"))
            let end = try #require(html.range(of: "</section>", range: start.upperBound ..< html.endIndex))
            return html[start.lowerBound ..< end.upperBound]
        }
        let shown = try section(data)
        #expect(shown.contains("<tr><th>test documents hit</th><td>8 of 40</td></tr>") && shown.contains("<tr><th>training documents kept</th><td>278</td></tr>"))
        #expect(shown.contains("which was among the decontamination targets"))
        data.cleaning?.bpbTestDecontaminated = false
        #expect(try section(data).contains("which was <b>not</b> among the decontamination targets"))
        data.cleaning?.record = nil
        #expect(try section(data).contains("Dedup and decontamination were off"))
        data.cleaning = nil
        #expect(try section(data).contains("No cleaning figures in demo.json"))
        #expect(throws: ReportError.self) {
            _ = try CleaningFigures(demoRecord: ["bpb_test": "t", "record": ["documents_in": "many"]], path: "demo.json")
        }
    }
}
