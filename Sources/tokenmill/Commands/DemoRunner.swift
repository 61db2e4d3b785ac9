// The stage runner behind `tokenmill demo`: runs one stage's subcommand in this process, its stderr and
// stdout writes captured (`StageCapture`) as a child's pipes would carry them; shows its latest message
// as a live status line, keeps its messages in OUT/logs/STAGE.log and prints one summary line. Whether a
// stage is reused, and the stamp that records a finished one, are Pipeline's `StageCache`.
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

    /// What the stage cache keys and stamps.
    var cached: CachedStage {
        CachedStage(name: name, args: args, corpusInputs: corpusInputs, after: after, settings: settings, outputs: outputs, digestOnly: digestOnly)
    }
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
    /// Keys, stamps and reuse decisions (Pipeline's `StageCache`).
    private let cache: StageCache

    /// A runner that only answers `reusesAll` (it creates nothing).
    init(checking out: String, corpus: String) {
        self.out = out
        self.corpus = corpus
        live = false
        cache = StageCache(out: out, corpus: corpus, version: TokenMill.configuration.version, stamps: DemoLayout.stamps)
    }

    init(out: String, corpus: String, progress: ProgressOptions) throws {
        self.out = out
        self.corpus = corpus
        live = progress.progress == .bar || (progress.progress == .auto && isatty(2) != 0)
        cache = StageCache(out: out, corpus: corpus, version: TokenMill.configuration.version, stamps: DemoLayout.stamps)
        for dir in [out, path(DemoLayout.stamps), path(DemoLayout.logs)] {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw RuntimeFailure(description: "\(dir): cannot create the directory (\(error.localizedDescription))")
            }
        }
    }

    private func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }

    /// Whether `run` would reuse every one of `stages` (in order), found as it would, without running or
    /// printing anything.
    func reusesAll(_ stages: [DemoStage]) -> Bool {
        cache.reusesAll(stages.filter(\.available).map(\.cached))
    }

    func run(_ stage: DemoStage, index: Int, of count: Int) throws -> DemoStageRecord {
        let label = "[\(index)/\(count)] " + stage.name.padding(toLength: 16, withPad: " ", startingAt: 0)
        guard stage.available else {
            let note = "skipped: this build has no `tokenmill \(stage.args[0])`"
            printError("\(label) \(note)")
            return DemoStageRecord(name: stage.name, seconds: 0, reused: false, summary: note)
        }
        let keyText: String
        switch try cache.lookup(stage.cached) {
        case .reuse(let stamp):
            printError("\(label) reused    \(stamp.summary)")
            return DemoStageRecord(name: stage.name, seconds: stamp.seconds, reused: true, summary: stamp.summary)
        case .redo(let text):
            keyText = text
        }

        // Not reusable: forget the stage's record first, so an interruption cannot leave it looking done.
        try cache.forget(stage.cached)
        for p in stage.clean { try removeIfPresent(p) }
        let start = Date()
        let (lines, stdout) = try runStage(stage, label: label)
        if let target = stage.stdout { try writeFileAtomically(Array(stdout), to: target) }
        let seconds = Date().timeIntervalSince(start)
        for o in stage.outputs where !FileManager.default.fileExists(atPath: o) {
            throw RuntimeFailure(description: "stage \(stage.name) finished without writing \(o); see \(path(DemoLayout.logs + "/\(stage.name).log"))")
        }
        var summary = stage.summary(StageMessages(lines: lines))
        if summary.hasPrefix(stage.args[0] + ": ") { summary.removeFirst(stage.args[0].count + 2) }
        // The digest of the outputs, then the stamp (written last: it marks the stage done).
        try cache.record(stage.cached, keyText: keyText, seconds: seconds, summary: summary)
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

/// A write error as one phrase: the POSIX message when there is one ("No space left on device").
func describeWriteError(_ error: Error) -> String {
    let ns = error as NSError
    if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(posix.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    return ns.localizedDescription
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
