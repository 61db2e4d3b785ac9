// The stage runner behind `tokenmill demo`: runs one stage's subcommand in this process, its stderr and
// stdout writes captured (`StageCapture`) as a child's pipes would carry them; shows its latest message
// as a live status line, keeps its messages in OUT/logs/STAGE.log, prints one summary line, and records what produced the stage so that a later run can reuse it (the policy
// is in DemoCommand.swift).
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline
import Report

/// One stage: a subcommand's arguments, what it reads and writes.
struct DemoStage {
    var name: String
    var args: [String]
    /// Files outside OUT the stage reads; their size and SHA-256 enter the stage's key.
    var corpusInputs: [String] = []
    /// Earlier stages whose outputs the stage reads; their digests enter the stage's key.
    var after: [String] = []
    /// What else decides the stage's output (the train stage: its preset's resolved settings, which a
    /// new build may change under the same name); enters the stage's key.
    var settings = ""
    /// Files the stage writes; all must exist, unchanged, for the stage to be reused.
    var outputs: [String]
    /// Write the child's stdout to this file (atomically) instead of its log.
    var stdout: String? = nil
    /// The outputs hashed into the stage's digest (default: all of them).
    var digestOnly: [String]? = nil
    /// Paths removed before the stage runs.
    var clean: [String] = []
    /// The stage's summary line from its messages (default: its last line).
    var summary: (StageMessages) -> String = { $0.lines.last ?? "" }
    /// False when this build lacks the subcommand: the stage is skipped with a note.
    var available = true
}

struct StageMessages {
    var lines: [String]
}

/// What the run did with one stage (written to demo.json).
struct DemoStageRecord {
    var name: String
    var seconds: Double
    var reused: Bool
    var summary: String
}

final class DemoRunner {
    let out: String
    let corpus: String
    let live: Bool
    /// The output digest of each stage done or reused in this run.
    private var digests: [String: String] = [:]
    private var inputHashes: [String: String] = [:]

    /// A runner that only answers `reusesAll` (it creates nothing).
    init(checking out: String, corpus: String) {
        self.out = out
        self.corpus = corpus
        live = false
    }

    init(out: String, corpus: String, progress: ProgressOptions) throws {
        self.out = out
        self.corpus = corpus
        live = progress.progress == .bar || (progress.progress == .auto && isatty(2) != 0)
        for dir in [out, path(DemoLayout.stamps), path(DemoLayout.logs)] {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw RuntimeFailure(description: "\(dir): cannot create the directory (\(error.localizedDescription))")
            }
        }
    }

    private func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }

    /// A path with OUT and the corpus directory written symbolically, so keys survive a new working directory.
    private func symbolic(_ p: String) -> String {
        if p == out || p.hasPrefix(out + "/") { return "$OUT" + p.dropFirst(out.count) }
        if p == corpus || p.hasPrefix(corpus + "/") { return "$CORPUS" + p.dropFirst(corpus.count) }
        return p
    }

    /// The text a stage's reuse depends on: tool version, arguments (less --threads, which changes no
    /// output), the stage's settings, corpus files' sizes and hashes, and earlier stages' digests.
    private func key(_ stage: DemoStage) throws -> String {
        var args: [String] = []
        var skip = false
        for a in stage.args {
            if skip { skip = false; continue }
            if a == "--threads" { skip = true; continue }
            args.append(symbolic(a))
        }
        var key = "tokenmill \(TokenMill.configuration.version)\nstage \(stage.name)\nargs \(args.joined(separator: " "))\n"
        if !stage.settings.isEmpty { key += "settings \(stage.settings)\n" }
        for input in stage.corpusInputs {
            if inputHashes[input] == nil { inputHashes[input] = try sha256(ofFile: input) }
            key += "input \(symbolic(input)) \(fileSize(input) ?? -1) \(inputHashes[input]!)\n"
        }
        for dep in stage.after { key += "after \(dep) \(digests[dep] ?? "none")\n" }
        return key
    }

    private func fileSize(_ p: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int
    }

    private func mtimeMillis(_ p: String) -> Int? {
        ((try? FileManager.default.attributesOfItem(atPath: p))?[.modificationDate] as? Date).map { Int(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// The SHA-256 of a stage's key text: what its stamp records.
    private func keyHash(_ keyText: String) -> String {
        let hasher = SHA256()
        hasher.update(Array(keyText.utf8))
        return hasher.hexDigest()
    }

    /// Whether `run` would reuse every one of `stages` (in order), found as it would, without running or
    /// printing anything.
    func reusesAll(_ stages: [DemoStage]) -> Bool {
        for stage in stages where stage.available {
            guard let keyText = try? key(stage), let stamp = reusable(stage, keyHash: keyHash(keyText)) else { return false }
            digests[stage.name] = stamp.digest
        }
        return true
    }

    private func stampPath(_ stage: DemoStage) -> String { path(DemoLayout.stamps + "/\(stage.name).json") }

    /// The stamp of a finished stage whose key and outputs still match, or nil (also for a stamp that
    /// cannot be read: the stage is redone).
    private func reusable(_ stage: DemoStage, keyHash: String) -> DemoStageStamp? {
        guard let stamp = try? DemoStageStamp.read(path: stampPath(stage)),
              stamp.key == keyHash, stamp.outputs.count == stage.outputs.count else { return nil }
        for (o, recorded) in zip(stage.outputs, stamp.outputs) {
            guard recorded.path == symbolic(o), recorded.size == fileSize(o), recorded.modifiedMillis == mtimeMillis(o) else { return nil }
        }
        return stamp
    }

    func run(_ stage: DemoStage, index: Int, of count: Int) throws -> DemoStageRecord {
        let label = "[\(index)/\(count)] " + stage.name.padding(toLength: 16, withPad: " ", startingAt: 0)
        guard stage.available else {
            let note = "skipped: this build has no `tokenmill \(stage.args[0])`"
            printError("\(label) \(note)")
            return DemoStageRecord(name: stage.name, seconds: 0, reused: false, summary: note)
        }
        let keyText = try key(stage)
        let keyHash = keyHash(keyText)
        if let stamp = reusable(stage, keyHash: keyHash) {
            digests[stage.name] = stamp.digest
            printError("\(label) reused    \(stamp.summary)")
            return DemoStageRecord(name: stage.name, seconds: stamp.seconds, reused: true, summary: stamp.summary)
        }

        // Not reusable: forget the stage's record first, so an interruption cannot leave it looking done.
        try removeIfPresent(stampPath(stage))
        for p in stage.clean { try removeIfPresent(p) }
        let start = Date()
        let (lines, stdout) = try runStage(stage, label: label)
        if let target = stage.stdout { try writeAtomically(Array(stdout), to: target) }
        let seconds = Date().timeIntervalSince(start)
        for o in stage.outputs where !FileManager.default.fileExists(atPath: o) {
            throw RuntimeFailure(description: "stage \(stage.name) finished without writing \(o); see \(path(DemoLayout.logs + "/\(stage.name).log"))")
        }
        var summary = stage.summary(StageMessages(lines: lines))
        if summary.hasPrefix(stage.args[0] + ": ") { summary.removeFirst(stage.args[0].count + 2) }

        // The digest of the outputs, then the stamp (written last: it marks the stage done).
        let digest = SHA256()
        for o in stage.digestOnly ?? stage.outputs { digest.update(Array("\(symbolic(o)) \(try sha256(ofFile: o))\n".utf8)) }
        let digestHex = digest.hexDigest()
        digests[stage.name] = digestHex
        let stamp = DemoStageStamp(stage: stage.name, key: keyHash, keyText: keyText, digest: digestHex, seconds: seconds, summary: summary,
                                   outputs: stage.outputs.map { .init(path: symbolic($0), size: fileSize($0) ?? -1, modifiedMillis: mtimeMillis($0) ?? -1) })
        try writeAtomically(Array(stamp.encoded), to: stampPath(stage))
        printError("\(label) \(formatDuration(seconds).padding(toLength: 9, withPad: " ", startingAt: 0)) \(summary)")
        return DemoStageRecord(name: stage.name, seconds: seconds, reused: false, summary: summary)
    }

    /// Runs `tokenmill ARGS` in this process; returns its stderr lines and its stdout. Throws when it fails.
    private func runStage(_ stage: DemoStage, label: String) throws -> ([String], Data) {
        let logPath = path(DemoLayout.logs + "/\(stage.name).log")
        // Streamed, not atomic: a log is read while its stage runs, and what a failed stage wrote is kept.
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RuntimeFailure(description: "\(logPath): cannot write (\(String(cString: strerror(errno))))") }
        let log = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        defer { close(fd) }   // nothing buffered: every write below is checked
        let messages = StageMessageLog(log: log, status: LiveStatus(label: label, enabled: live))
        messages.append(Data(("$ tokenmill " + stage.args.joined(separator: " ") + "\n").utf8))
        let (exit, stdout) = runInProcess(stage, messages: messages)
        let lines = messages.finish()
        if stage.stdout == nil && !stdout.isEmpty { messages.append(stdout) }
        // A stage's log is the demo's record of it: a failed write fails the stage (once it has finished).
        if let logFailure = messages.failure {
            throw RuntimeFailure(description: "\(logPath): cannot write the stage's log (\(describeWriteError(logFailure)))")
        }
        guard exit == "exit 0" else {
            for l in lines.suffix(8) { printError("  " + l) }
            throw RuntimeFailure(description: "stage \(stage.name) failed (\(exit)); its messages are in \(logPath)")
        }
        return (lines, stdout)
    }

    /// The stage's subcommand run in this process (OpenBLAS's kernel, which train and bpb need, was
    /// settled by `main` for the whole demo), its messages and stdout captured as a child's pipes would
    /// carry them, ending as a child would (argument-parser's message and exit code for an error it
    /// throws). Returns how it ended ("exit N") and its stdout.
    private func runInProcess(_ stage: DemoStage, messages: StageMessageLog) -> (String, Data) {
        let capture = StageCapture(messages: messages)
        StageCapture.active = capture
        defer { StageCapture.active = nil }
        do {
            var command = try TokenMill.parseAsRoot(stage.args)
            try command.run()
        } catch {
            let code = TokenMill.exitCode(for: error)
            let text = TokenMill.fullMessage(for: error)
            if !text.isEmpty {
                if code.isSuccess { capture.standardOutput(text + "\n") } else { capture.standardError(text + "\n") }
            }
            return ("exit \(code.rawValue)", capture.stdout)
        }
        return ("exit 0", capture.stdout)
    }
}

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

    fileprivate init(log: FileHandle, status: LiveStatus) {
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

/// A write error as one phrase: the POSIX message when there is one ("No space left on device").
func describeWriteError(_ error: Error) -> String {
    let ns = error as NSError
    if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(posix.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    return ns.localizedDescription
}

/// The live status line's write: to stderr itself, past any `StageCapture` (a lost redraw is harmless).
private func writeTerminal(_ text: String) {
    _ = try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
}

/// Writes `text` to standard output, unbuffered (or to the in-process stage's capture); a failed write
/// (a full disk, a closed pipe) is a one-line error naming `what` instead of a crash or a silently short
/// output.
func writeStandardOutput(_ text: String, what: String) throws {
    if let capture = StageCapture.active { capture.standardOutput(text); return }
    do { try FileHandle.standardOutput.write(contentsOf: Data(text.utf8)) } catch {
        throw RuntimeFailure(description: "standard output: cannot write \(what) (\(describeWriteError(error)))")
    }
}

/// Removes the file or directory at `path` when there is one; failing to remove it is an error naming
/// it (a stale stamp left behind could make a stage look done).
func removeIfPresent(_ path: String) throws {
    var info = stat()
    if lstat(path, &info) != 0 && errno == ENOENT { return }
    do { try FileManager.default.removeItem(atPath: path) } catch {
        throw RuntimeFailure(description: "\(path): cannot remove (\(describeWriteError(error)))")
    }
}
