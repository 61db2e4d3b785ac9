// Progress on stderr, in one of four modes, for every stage: `bar` redraws one status line at most four
// times a second, `json` writes one JSON object per update (for programs that drive TokenMill), `none`
// is silent, and `auto` is `bar` when stderr is a terminal, else `none`.
// Policy: the reporter never writes to a file descriptor itself; it hands each piece of text to the
// `write` closure its owner gives (the CLI's is stderr), so it can be tested and silenced.
//
// JSON mode, one object per line, keys always in this order:
//   {"stage": "normalize", "event": "progress", "documents": 1200, "bytes": 5242880, "seconds": 1.25}
//   {"stage": "train", "event": "status", "message": "step 3 | loss 8.33 ...", "seconds": 4.02}
//   {"stage": "normalize", "event": "done", "documents": 5857, "bytes": 31700000, "seconds": 2.5}
// - stage: the command or stage reporting; event: "progress" (counts so far), "status" (a free-form
//   line, e.g. the trainer's step line), "done" (once, at the end, with the last counts);
// - documents, bytes: documents and UTF-8 bytes read so far (progress and done); message: the status text;
// - seconds: since the reporter was made, three decimals.
// Updates are throttled to four a second in both bar and json modes; "done" is always written.
import CorpusIO
import Foundation

/// How progress is shown.
public enum ProgressMode: String, Sendable, CaseIterable {
    case auto, bar, json, none

    /// `auto` resolved against whether stderr is a terminal.
    public func resolved(isTerminal: Bool) -> ProgressMode { self == .auto ? (isTerminal ? .bar : .none) : self }
}

/// The one status-line helper: a line redrawn in place on a terminal.
public enum StatusLine {
    /// The escape that returns to the start of the line and erases it.
    public static let clear = "\r\u{1B}[K"
    /// `text` drawn over the current line.
    public static func draw(_ text: String) -> String { clear + text }
}

/// Reports a stage's progress in the chosen mode. Used from the thread that consumes results.
public final class ProgressReporter {
    public let stage: String
    /// The resolved mode: bar, json or none.
    public let mode: ProgressMode
    private let write: (String) -> Void
    private let start = Date()
    private var last = Date.distantPast
    private var shown = false
    private var documents = 0, bytes: Int64 = 0
    private var finished = false

    /// Whether json events carry documents and bytes (a stage reading documents does; training does not).
    public let countsDocuments: Bool

    /// A reporter for `stage` in `mode` (`auto` resolved with `isTerminal`), writing through `write`.
    public init(stage: String, mode: ProgressMode, isTerminal: Bool = false, countsDocuments: Bool = true,
                write: @escaping (String) -> Void) {
        self.stage = stage
        self.mode = mode.resolved(isTerminal: isTerminal)
        self.countsDocuments = countsDocuments
        self.write = write
    }

    /// A reporter that shows nothing (its `elapsed` still runs).
    public static var silent: ProgressReporter { ProgressReporter(stage: "", mode: .none, write: { _ in }) }

    /// Whether anything is shown.
    public var enabled: Bool { mode != .none }

    /// Seconds since the reporter was made.
    public var elapsed: Double { Date().timeIntervalSince(start) }

    private func due() -> Bool {
        let now = Date()
        guard now.timeIntervalSince(last) >= 0.25 else { return false }
        last = now
        return true
    }

    /// Documents and bytes read so far.
    public func update(documents: Int, bytes: Int64) {
        self.documents = documents
        self.bytes = bytes
        guard enabled, due() else { return }
        switch mode {
        case .json: write(jsonEvent("progress", counts: true) + "\n")
        default:
            let mbs = Double(bytes) / 1e6 / max(elapsed, 1e-9)
            show(now: "\(stage): \(formatCount(documents)) documents, \(formatBytes(bytes)), \(String(format: "%.1f", mbs)) MB/s")
        }
    }

    /// Shows `line` as the status (at most four times a second).
    public func show(_ line: String) {
        guard enabled, due() else { return }
        if mode == .json { write(jsonEvent("status", message: line) + "\n") } else { show(now: line) }
    }

    private func show(now line: String) {
        write(StatusLine.draw(line))
        shown = true
    }

    /// Clears the status line (before printing an ordinary line); the next `show` redraws it.
    public func clear() {
        if shown { write(StatusLine.clear); shown = false; last = .distantPast }
    }

    /// Ends the report: clears the bar, or writes the json "done" event (once).
    public func finish() {
        if shown { write(StatusLine.clear); shown = false }
        if mode == .json && !finished { write(jsonEvent("done", counts: countsDocuments) + "\n") }
        finished = true
    }

    private func jsonEvent(_ event: String, counts: Bool = false, message: String? = nil) -> String {
        var s = "{\"stage\": \(encodeJSONString(stage)), \"event\": \"\(event)\""
        if counts { s += ", \"documents\": \(documents), \"bytes\": \(bytes)" }
        if let message { s += ", \"message\": \(encodeJSONString(message))" }
        return s + String(format: ", \"seconds\": %.3f}", elapsed)
    }
}
