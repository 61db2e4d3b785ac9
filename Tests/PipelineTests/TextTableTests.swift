// The table printer: padding, alignment, fixed and growing columns, rules, trailing cells.
import Testing
@testable import Pipeline

@Suite struct TextTableTests {
    @Test func padsAlignsAndRules() {
        let t = TextTable(columns: [.init(.left), .init(.right)])
        let lines = t.render([["", "documents"], ["Github", "54"], ["overall", "1,259"]], rulesAfter: [0, 1])
        #expect(lines == [
            "         documents",
            "------------------",
            "Github          54",
            "------------------",
            "overall      1,259",
        ])
    }

    @Test func fixedColumnsDoNotGrowAndExtraCellsTrail() {
        let t = TextTable(columns: [.init(.left, width: 4, grows: false), .init(.right, width: 5, grows: false)], separator: "")
        let lines = t.render([["n", "v"], ["long name", "123456", "  (1 empty)"]], rulesAfter: [0])
        #expect(lines == ["n       v", "---------", "long name123456  (1 empty)"])
    }

    @Test func formatsCountsAndBytes() {
        #expect(formatCount(0) == "0" && formatCount(999) == "999" && formatCount(1000) == "1,000")
        #expect(formatCount(-1234567) == "-1,234,567")
        #expect(formatBytes(999) == "999 B" && formatBytes(765_544) == "765.5 kB")
        #expect(formatBytes(31_700_000) == "31.7 MB" && formatBytes(2_500_000_000) == "2.50 GB")
    }
}
