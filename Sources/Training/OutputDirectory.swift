// Output directories that appear only when complete (`export-hf`, `import-hf`): files are written into
// a hidden sibling `.NAME.tmp-PID`, which `commit()` renames to NAME; a failure removes it, so a failed
// run leaves no half folder, nor does an interrupt (the directory is registered with CorpusIO's
// `TemporaryFiles`, which the CLI's signal handler empties); a SIGKILLed run's `.NAME.tmp-PID` is removed by
// the next writer, which holds the output's `OutputLock` meanwhile. An existing NAME is replaced only when it holds nothing but files the
// command itself writes (a previous export); anything else is refused before a byte is written.
// Policy: the parent directories are created as needed and kept.
import CorpusIO
import Foundation

/// A failure of `export-hf` or `import-hf`: the file and what is wrong, in one line. `usage` marks a
/// bad argument rather than bad data (the CLI exits 64 instead of 1).
public struct HuggingFaceError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var usage = false
    public init(path: String, message: String, usage: Bool = false) {
        self.path = path; self.message = message; self.usage = usage
    }
    public var description: String { "\(path): \(message)" }
}

/// A directory written under a temporary name and renamed into place when complete.
final class OutputDirectory {
    /// The final path, as given.
    let path: String
    /// Where the files go until `commit`.
    let temporary: String
    private let parent: String, name: String
    private var done = false
    /// The output's `OutputLock`, held until `commit` or `abandon`.
    private var lock: OutputLock?

    /// Checks that `path` may be written (absent, an empty directory, or one holding only names in
    /// `replaceable`) and creates the temporary directory beside it.
    init(path: String, replaceable: Set<String>) throws {
        self.path = path
        let url = URL(fileURLWithPath: path).standardizedFileURL
        parent = url.deletingLastPathComponent().path
        name = url.lastPathComponent
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw HuggingFaceError(path: path, message: "exists and is not a directory", usage: true) }
            let names = (try? fm.contentsOfDirectory(atPath: url.path)) ?? []
            if let other = names.sorted().first(where: { !replaceable.contains($0) }) {
                throw HuggingFaceError(path: path, message: "already exists and holds \(other); choose a new or empty directory", usage: true)
            }
        }
        temporary = parent + "/.\(name).tmp-\(getpid())"
        do {
            try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw HuggingFaceError(path: path, message: "cannot create: \(error.localizedDescription)")
        }
        // One writer at a time; holding the lock, the temporaries a killed writer left are removed.
        do { lock = try OutputLock(output: parent + "/" + name) } catch let e as OutputError {
            throw HuggingFaceError(path: path, message: e.message)
        }
        OutputFile.removeStaleTemporaries(directory: parent, name: name, kinds: ["tmp", "old"])
        do {
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: false)
            TemporaryFiles.registerDirectory(temporary)
        } catch {
            throw HuggingFaceError(path: path, message: "cannot create: \(error.localizedDescription)")
        }
    }

    deinit { if !done { abandon() } }

    /// Moves the finished directory into place (replacing a previous output).
    func commit() throws {
        let fm = FileManager.default
        let final = parent + "/" + name, old = parent + "/.\(name).old-\(getpid())"
        do {
            let replacing = fm.fileExists(atPath: final)
            if replacing { try? fm.removeItem(atPath: old); try fm.moveItem(atPath: final, toPath: old) }
            try fm.moveItem(atPath: temporary, toPath: final)
            if replacing { try? fm.removeItem(atPath: old) }
            TemporaryFiles.unregisterDirectory(temporary)
            done = true
            lock?.release()
        } catch {
            abandon()
            throw HuggingFaceError(path: path, message: "cannot move the finished directory into place: \(error.localizedDescription)")
        }
    }

    /// Removes the temporary directory; `path` is left as it was.
    func abandon() {
        done = true
        try? FileManager.default.removeItem(atPath: temporary)
        TemporaryFiles.unregisterDirectory(temporary)
        lock?.release()
    }
}
