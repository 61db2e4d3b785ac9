// The progress reporter's modes: json writes one parseable object per update with the documented
// fields, bar redraws one status line, none and a non-terminal auto write nothing.
import Foundation
import Testing
@testable import Pipeline

/// Collects what a reporter writes.
final class Sink: @unchecked Sendable {
    var pieces: [String] = []
    func write(_ s: String) { pieces.append(s) }
}

private func objects(_ sink: Sink) throws -> [[String: Any]] {
    let lines = sink.pieces.joined().split(separator: "\n")
    return try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
}

@Suite struct ProgressTests {
    @Test func jsonModeWritesOneObjectPerUpdateAndADoneEvent() throws {
        let sink = Sink()
        let p = ProgressReporter(stage: "normalize", mode: .json, write: sink.write)
        p.update(documents: 3, bytes: 1200)
        p.update(documents: 7, bytes: 2500)   // within 0.25 s of the first: throttled
        p.finish()
        p.finish()                              // "done" once
        let events = try objects(sink)
        #expect(events.count == 2)
        #expect(events[0]["stage"] as? String == "normalize" && events[0]["event"] as? String == "progress")
        #expect(events[0]["documents"] as? Int == 3 && events[0]["bytes"] as? Int == 1200)
        #expect((events[0]["seconds"] as? Double).map { $0 >= 0 && $0 < 60 } == true)
        // The done event carries the last counts, also those of a throttled update.
        #expect(events[1]["event"] as? String == "done" && events[1]["documents"] as? Int == 7 && events[1]["bytes"] as? Int == 2500)
        // Keys in the documented order.
        let first = sink.pieces[0]
        let order = ["\"stage\"", "\"event\"", "\"documents\"", "\"bytes\"", "\"seconds\""].map { first.range(of: $0)!.lowerBound }
        #expect(order == order.sorted())
    }

    @Test func jsonStatusEscapesItsMessage() throws {
        let sink = Sink()
        let p = ProgressReporter(stage: "train", mode: .json, write: sink.write)
        p.show("step 3 | loss \"8.3\"\tok\\")
        let events = try objects(sink)
        #expect(events.count == 1)
        #expect(events[0]["event"] as? String == "status" && events[0]["message"] as? String == "step 3 | loss \"8.3\"\tok\\")
        #expect(events[0]["documents"] == nil)
    }

    @Test func barRedrawsOneLineAndClearsIt() {
        let sink = Sink()
        let p = ProgressReporter(stage: "encode", mode: .bar, write: sink.write)
        p.update(documents: 1234, bytes: 2_500_000)
        #expect(sink.pieces.count == 1)
        #expect(sink.pieces[0].hasPrefix("\r\u{1B}[Kencode: 1,234 documents, 2.5 MB, "))
        #expect(sink.pieces[0].hasSuffix(" MB/s"))
        p.finish()
        #expect(sink.pieces == [sink.pieces[0], StatusLine.clear])
    }

    @Test func noneAndNonTerminalAutoAreSilent() {
        let sink = Sink()
        for p in [ProgressReporter(stage: "s", mode: .none, write: sink.write),
                  ProgressReporter(stage: "s", mode: .auto, isTerminal: false, write: sink.write)] {
            p.update(documents: 1, bytes: 1)
            p.show("x")
            p.finish()
            #expect(!p.enabled)
        }
        #expect(sink.pieces.isEmpty)
        #expect(ProgressReporter(stage: "s", mode: .auto, isTerminal: true, write: sink.write).mode == .bar)
        #expect(ProgressMode.json.resolved(isTerminal: true) == .json)
    }
}
