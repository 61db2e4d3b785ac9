// The demo's in-process plumbing: while a stage (a subcommand run inside the demo's process) runs, its
// stderr and stdout writes are captured into the stage's log and output (StageCapture, StageMessageLog),
// and a live status line shows its latest message on a terminal (LiveStatus). CLI-only: the capture in
// force is process-wide state, which the libraries do not have.
import Foundation
import Report

/// A stage's messages (its stderr): each chunk is appended to its log as it comes and cut into lines for
/// the summary and the live status line.
final class StageMessageLog: @unchecked Sendable {
    private let log: FileHandle
    private let status: LiveStatus
    private let lock = NSLock()
    private var lines: [String] = []
    private var pending = Data()
    /// The first failed write to the log, if any (later writes are skipped).
    private(set) var failure: Error?

    init(log: FileHandle, status: LiveStatus) {
        self.log = log
        self.status = status
    }

    func append(_ data: Data) {
        lock.withLock {
            guard failure == nil else { return }
            do { try log.write(contentsOf: data) } catch { failure = error }
        }
    }

    /// A chunk of the stage's stderr.
    func receive(_ chunk: Data) {
        append(chunk)
        lock.withLock {
            pending.append(chunk)
            // Messages end in \n; progress bars redraw with \r: both end a line here.
            while let cut = pending.firstIndex(where: { $0 == 10 || $0 == 13 }) {
                let line = String(decoding: pending[pending.startIndex ..< cut], as: UTF8.self)
                    .replacingOccurrences(of: "\u{1B}[K", with: "").trimmingCharacters(in: .whitespaces)
                pending.removeSubrange(pending.startIndex ... cut)
                if !line.isEmpty { lines.append(line); status.show(line) }
            }
        }
    }

    /// The lines received (an unfinished last one included); stops the status line.
    func finish() -> [String] {
        lock.withLock {
            if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)); pending = Data() }
        }
        status.stop()
        return lock.withLock { lines }
    }
}

/// While the demo runs a stage in this process, the CLI's stderr writes (`writeStandardError`) and
/// stdout writes (`writeStandardOutput`) go to the stage's log and output instead, and stderr does not
/// count as a terminal (as for a child on a pipe).
final class StageCapture: @unchecked Sendable {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: StageCapture?
    /// The capture in force, if any; set and cleared by the demo around one stage.
    static var active: StageCapture? {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }

    private let messages: StageMessageLog
    private let lock = NSLock()
    private var out = Data()

    init(messages: StageMessageLog) { self.messages = messages }

    func standardError(_ text: String) { messages.receive(Data(text.utf8)) }
    func standardOutput(_ text: String) { lock.withLock { out.append(Data(text.utf8)) } }
    var stdout: Data { lock.withLock { out } }
}

/// The live status line of a running stage: its label, elapsed time and latest message, redrawn each
/// second and on each message, on stderr when it is a terminal.
final class LiveStatus: @unchecked Sendable {
    let label: String
    let enabled: Bool
    let start = Date()
    private let lock = NSLock()
    private var last = ""
    private var timer: DispatchSourceTimer?

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
        guard enabled else { return }
        let t = DispatchSource.makeTimerSource(queue: .global())
        t.schedule(deadline: .now() + 1, repeating: 1)
        t.setEventHandler { [weak self] in self?.draw() }
        t.resume()
        timer = t
    }

    func show(_ line: String) {
        guard enabled else { return }
        lock.withLock { last = line }
        draw()
    }

    private func draw() {
        lock.withLock {
            var ws = winsize()
            let width = ioctl(2, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 20 ? Int(ws.ws_col) : 100
            var text = "\(label) \(formatDuration(Date().timeIntervalSince(start)).padding(toLength: 9, withPad: " ", startingAt: 0)) \(last)"
            if text.count > width - 1 { text = String(text.prefix(width - 2)) + "…" }
            writeTerminal("\r\u{1B}[K" + text)
        }
    }

    func stop() {
        guard enabled else { return }
        timer?.cancel()
        lock.withLock { writeTerminal("\r\u{1B}[K") }
    }
}

/// The live status line's write: to stderr itself, past any `StageCapture` (a lost redraw is harmless).
private func writeTerminal(_ text: String) {
    _ = try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
}
