// Option groups and helpers shared by the subcommands: input reading, progress, error reporting.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline

extension InvalidUTF8Policy: ExpressibleByArgument {}
extension ErrorPolicy: ExpressibleByArgument {}

/// How plain-text inputs become documents (the text layouts of `RecordLayout`).
enum TextLayoutOption: String, ExpressibleByArgument, CaseIterable {
    case file, blocks
    var layout: RecordLayout { self == .file ? .textFile : .textBlocks }
}

/// How inputs are read: shared by every command that reads documents.
struct InputOptions: ParsableArguments {
    @Argument(help: "Input files, directories or globs (.txt, .jsonl, .jsonl.zst, .jsonl.gz); stdin when none or '-'.")
    var inputs: [String] = []

    @Option(name: .customLong("text-field"), help: "The JSON field holding the text, as a dotted path.")
    var textField: String = ReadOptions().textField

    @Option(name: .customLong("invalid-utf8"), help: "What to do with invalid UTF-8: replace (with U+FFFD, counted), skip the document, or fail.")
    var invalidUTF8: InvalidUTF8Policy = ReadOptions().invalidUTF8

    @Option(name: .customLong("on-error"), help: "What to do with a malformed record (not JSON, missing or non-string text field): fail, or skip it and count it.")
    var onError: ErrorPolicy = ReadOptions().onError

    @Option(name: .customLong("txt-layout"), help: "How .txt inputs become documents: file (one a file) or blocks (separated by blank lines).")
    var textLayout: TextLayoutOption = .file

    func validate() throws {
        try runningStage { try ReadOptions.validate(textField: textField) }
    }

    var readOptions: ReadOptions {
        var o = ReadOptions()
        o.textField = textField
        o.invalidUTF8 = invalidUTF8
        o.onError = onError
        o.textLayout = textLayout.layout
        return o
    }

    /// A reader over the expanded inputs; warnings go to stderr.
    func makeReader() throws -> CorpusReader {
        CorpusReader(inputs: try expandInputs(inputs), options: readOptions, warn: { printError($0) })
    }
}

/// Progress on stderr (Pipeline's reporter; the modes are documented there).
typealias ProgressMode = Pipeline.ProgressMode
typealias ProgressReporter = Pipeline.ProgressReporter
extension Pipeline.ProgressMode: ExpressibleByArgument {}

struct ProgressOptions: ParsableArguments {
    @Option(help: "Progress on stderr: auto (a bar when stderr is a terminal), bar, json (one JSON object per update: stage, event, documents, bytes, message, seconds), or none.")
    var progress: ProgressMode = .auto

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
    }

    /// The worker thread count: --threads, or every core.
    var workerThreads: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    func makeReporter(_ verb: String) -> ProgressReporter {
        ProgressReporter(stage: verb, mode: progress, isTerminal: standardErrorIsTerminal(), write: writeStandardError)
    }

    /// The document runner: --threads workers, progress as chosen, warnings on stderr.
    func makeRunner(_ verb: String) -> DocumentRunner {
        DocumentRunner(threads: workerThreads, progress: makeReporter(verb), warn: printError)
    }
}

func printError(_ message: String) {
    writeStandardError(message + "\n")
}

/// Writes `text` to standard error. A write that fails (stderr on a full disk, a closed pipe) cannot
/// be reported there: it is counted, the command goes on (a training run keeps checkpointing), and
/// `reportingErrors` turns the count into exit 1 when the command ends, so a run whose messages were
/// lost does not look clean. (FileHandle.write(_:) would stop the process with a trap instead.)
func writeStandardError(_ text: String) {
    if let capture = StageCapture.active { capture.standardError(text); return }   // a demo stage run in-process
    do { try FileHandle.standardError.write(contentsOf: Data(text.utf8)) } catch { lostStandardErrorWrites.increment() }
}

/// Whether stderr is a terminal (never while a demo stage runs in-process: its stderr is a log).
func standardErrorIsTerminal() -> Bool {
    StageCapture.active == nil && isatty(2) != 0
}

/// Standard-error writes that failed (see `writeStandardError`).
let lostStandardErrorWrites = LockedCounter()

/// A counter shared by threads.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

func formatCount(_ n: Int) -> String { Pipeline.formatCount(n) }
func formatBytes(_ n: Int64) -> String { Pipeline.formatBytes(n) }

/// Runs `body`, which writes to `out`; commits the output when it succeeds and abandons it when it
/// throws, and clears the progress line either way.
func writing(to out: OutputFile, progress: ProgressReporter, _ body: () throws -> Void) throws {
    defer { progress.finish() }
    try out.committing(body)
}

/// A failure the CLI reports as `error: …` with exit code 1.
struct RuntimeFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs a command body, turning library errors into one `error:` line and exit code 1, and usage errors
/// found while running (ValidationError) into one `error:` line and exit code 64.
func reportingErrors(_ body: () throws -> Void) throws {
    installInterruptHandler()
    do {
        try body()
    } catch let e as ValidationError {
        // A usage problem found while running (an option that does not fit the data): one line, exit 64.
        TemporaryFiles.removeAll()
        printError("error: \(e.message)")
        throw ExitCode(64)
    } catch let e as ExitCode {
        throw e
    } catch {
        TemporaryFiles.removeAll()
        printError("error: \(error)")
        throw ExitCode(1)
    }
    // Messages were lost on the way to stderr: the one signal left is the exit status.
    if lostStandardErrorWrites.value > 0 { throw ExitCode(1) }
}

/// On SIGINT, SIGTERM or SIGHUP: remove unfinished outputs, then exit with 128 + the signal number.
/// The signals are delivered to a dispatch source, so the cleanup runs on an ordinary thread (it takes
/// a lock, which a signal handler must not). They are also unblocked: a parent may have spawned us with
/// them blocked.
func installInterruptHandler() {
    guard interruptSources.isEmpty else { return }
    var set = sigset_t()
    sigemptyset(&set)
    for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, sig) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler {
            TemporaryFiles.removeAll()
            _exit(128 + sig)
        }
        source.resume()
        interruptSources.append(source)
    }
}

nonisolated(unsafe) private var interruptSources: [any DispatchSourceSignal] = []
