// The one table printer of the reports (stats, bpb): columns padded to a width, a rule of dashes after
// chosen rows, and the number formats the tables and summary lines share.
// Widths count Characters (so "–" is one), as a terminal shows them.
import Foundation

/// A plain-text table.
public struct TextTable: Sendable {
    public enum Alignment: Sendable { case left, right }

    public struct Column: Sendable {
        public var alignment: Alignment
        /// The width cells are padded to; with `grows`, at least the widest cell of the column.
        public var width: Int
        public var grows: Bool
        public init(_ alignment: Alignment, width: Int = 0, grows: Bool = true) {
            self.alignment = alignment
            self.width = width
            self.grows = grows
        }
    }

    public var columns: [Column]
    /// Between cells.
    public var separator: String

    public init(columns: [Column], separator: String = "  ") {
        self.columns = columns
        self.separator = separator
    }

    /// One line per row (cells beyond the columns are appended as they are), and after each row in
    /// `rulesAfter` a line of dashes as long as the first row's line.
    public func render(_ rows: [[String]], rulesAfter: Set<Int> = []) -> [String] {
        let widths = columns.indices.map { c in
            columns[c].grows ? max(columns[c].width, rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0) : columns[c].width
        }
        var lines: [String] = []
        var ruleWidth = 0
        for (i, row) in rows.enumerated() {
            var cells: [String] = []
            for (c, cell) in row.prefix(columns.count).enumerated() {
                let pad = String(repeating: " ", count: max(0, widths[c] - cell.count))
                cells.append(columns[c].alignment == .left ? cell + pad : pad + cell)
            }
            let line = cells.joined(separator: separator) + row.dropFirst(columns.count).joined()
            if i == 0 { ruleWidth = cells.joined(separator: separator).count }
            lines.append(line)
            if rulesAfter.contains(i) { lines.append(String(repeating: "-", count: ruleWidth)) }
        }
        return lines
    }
}

/// `n` with thousands separators: 1234567 → "1,234,567".
public func formatCount(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
        if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}

/// A byte count in B, kB, MB or GB (decimal units).
public func formatBytes(_ n: Int64) -> String {
    let d = Double(n)
    if d >= 1e9 { return String(format: "%.2f GB", d / 1e9) }
    if d >= 1e6 { return String(format: "%.1f MB", d / 1e6) }
    if d >= 1e3 { return String(format: "%.1f kB", d / 1e3) }
    return "\(n) B"
}
