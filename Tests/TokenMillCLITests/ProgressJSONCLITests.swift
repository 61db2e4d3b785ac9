// `--progress json` end to end: stderr carries one JSON object per line ending with the "done" event and
// the final counts, then the command's summary line; stdout keeps only the data.
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct ProgressJSONCLITests {
    @Test func statsWritesJSONEventsOnStderr() throws {
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let r = try runTokenmill(["stats", "--progress", "json", "--json", corpus])
        #expect(r.status == 0)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.last?.hasPrefix("stats: 259 documents, 765.5 kB; ") == true)
        let events = try lines.dropLast().map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(!events.isEmpty && events.allSatisfy { $0["stage"] as? String == "stats" })
        let done = try #require(events.last)
        #expect(done["event"] as? String == "done" && done["documents"] as? Int == 259 && done["bytes"] as? Int == 765_544)
        #expect(events.dropLast().allSatisfy { $0["event"] as? String == "progress" })
        let report = try #require(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect((report["overall"] as? [String: Any])?["documents"] as? Int == 259)
    }

    @Test func trainWritesStatusAndDoneEventsWithoutDocumentCounts() throws {
        let dir = makeOneStepRunFixture("progress-json-train")
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ file: String) -> String { dir.appendingPathComponent(file).path }
        let r = try runTokenmill(["train", "--config", path("c.json"), "--data", path("src"), "--out", path("run2"),
                                  "--steps", "3", "--progress", "json"])
        #expect(r.status == 0)
        let events = r.stderr.split(separator: "\n").compactMap { line -> [String: Any]? in
            guard line.hasPrefix("{") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        #expect(events.allSatisfy { $0["stage"] as? String == "train" })
        #expect(events.contains { $0["event"] as? String == "status" && ($0["message"] as? String)?.hasPrefix("train: step ") == true })
        let done = try #require(events.last)
        #expect(done["event"] as? String == "done" && done["documents"] == nil && done["seconds"] is Double)
    }
}
