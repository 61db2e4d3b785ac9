// The stats stage on real records: the groups add up to the overall row, the overall row equals the
// counts taken one document at a time, and both renderings carry them.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport
@testable import Pipeline

@Suite struct StatsStageTests {
    @Test func groupsAddUpAndRenderingsAgree() throws {
        let dir = try makeTemporaryDirectory("stats-stage")
        let input = try writeLines(try testCorpusRecords(150), to: dir, "in.jsonl")
        let report = try StatsReport(reader: smallBatchReader([input]), by: "meta.pile_set_name", runner: DocumentRunner(threads: 3))
        var expected = CorpusStats()
        let docs = try readDocuments([input])
        for d in docs { expected.add(d.text) }
        #expect(report.overall == expected)
        #expect(Set(report.groups.keys) == Set(docs.map { $0.field("meta.pile_set_name") ?? "unknown" }))
        #expect(report.groups.values.reduce(0) { $0 + $1.documents } == 150)
        #expect(report.groups.values.reduce(0) { $0 + $1.bytes } == expected.bytes)

        let json = try #require(JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        let overall = try #require(json["overall"] as? [String: Int])
        #expect(overall["documents"] == 150 && overall["bytes"] == expected.bytes && overall["max_bytes"] == expected.maxBytes)
        #expect(overall["p50_bytes"] == expected.quantile(0.5))
        #expect(json["by"] as? String == "meta.pile_set_name")
        #expect(Set((json["groups"] as? [String: Any])?.keys.map { $0 } ?? []) == Set(report.groups.keys))

        let lines = report.table.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == report.groups.count + 5)   // title, header, rule, groups, rule, overall
        #expect(lines[2].allSatisfy { $0 == "-" } && lines[lines.count - 2].allSatisfy { $0 == "-" })
        #expect(lines.last!.hasPrefix("overall") && lines.last!.contains(formatCount(expected.bytes)))
        #expect(Set(lines.map(\.count)).count == 2)   // the title, and every other line as wide as the rules
    }

    @Test func withoutAFieldTheRowIsAll() throws {
        let dir = try makeTemporaryDirectory("stats-stage")
        let input = try writeLines(try testCorpusRecords(10), to: dir, "in.jsonl")
        let report = try StatsReport(reader: smallBatchReader([input]), by: nil, runner: DocumentRunner(threads: 1))
        #expect(report.groups.isEmpty && report.json.hasPrefix("{\"overall\": {\"documents\": 10,") && !report.json.contains("\"by\""))
        let lines = report.table.split(separator: "\n")
        #expect(lines.count == 4 && lines[3].hasPrefix("all "))
        #expect(report.line == "stats: 10 documents, \(formatBytes(Int64(report.overall.bytes)))")
    }
}
