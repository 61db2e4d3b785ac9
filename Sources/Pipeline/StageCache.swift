// The demo's stage cache: decides whether a stage of `tokenmill demo` can be reused from an earlier run
// in the same output directory, and records a finished stage so that a later run can.
// Policy: a stage is reused when its key (tool version, arguments less --threads, its settings, the size
// and SHA-256 of each corpus file it reads, and the output digests of the earlier stages it reads) hashes
// to what its stamp (STAMPS/STAGE.json, a `DemoStageStamp`) records, and every output it records still has
// its path, size and mtime. Anything else, a stamp that cannot be read included, means the stage is redone.
// A redone stage's new digest enters the keys of the stages after it, so they are redone too when its
// outputs changed. Paths in keys and stamps are written with $OUT and $CORPUS, so a key survives a new
// working directory. The stamp is written last (to a temporary name, then renamed): it marks the stage done.
// Costs: each corpus input is hashed once per cache (streamed); outputs are hashed once when recorded.
import CorpusIO
import Foundation

/// What the cache needs to know of one stage: what decides its output and what it writes.
public struct CachedStage: Sendable, Equatable {
    public var name: String
    /// The subcommand's arguments (its name first).
    public var args: [String]
    /// Files outside OUT the stage reads; their size and SHA-256 enter the stage's key.
    public var corpusInputs: [String]
    /// Earlier stages whose outputs the stage reads; their digests enter the stage's key.
    public var after: [String]
    /// What else decides the stage's output (e.g. a preset's resolved settings); enters the key when not empty.
    public var settings: String
    /// Files the stage writes; all must exist, unchanged, for the stage to be reused.
    public var outputs: [String]
    /// The outputs hashed into the stage's digest (nil: all of them).
    public var digestOnly: [String]?

    public init(name: String, args: [String], corpusInputs: [String] = [], after: [String] = [], settings: String = "",
                outputs: [String], digestOnly: [String]? = nil) {
        self.name = name; self.args = args; self.corpusInputs = corpusInputs; self.after = after
        self.settings = settings; self.outputs = outputs; self.digestOnly = digestOnly
    }
}

/// A cache operation that failed: the file and what went wrong.
public struct StageCacheError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var message: String
    public init(path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
}

/// The stage cache of one output directory. Use it in stage order: `lookup` (then, when not reused,
/// `forget`, run the stage, `record`) for each stage, so that each key sees the digests of the stages before.
public final class StageCache {
    /// What `lookup` found.
    public enum Decision {
        /// The stage's stamp matches: its outputs are current.
        case reuse(DemoStageStamp)
        /// The stage must run; `record` takes the key text.
        case redo(keyText: String)
    }

    public let out: String
    public let corpus: String
    /// The tool's version, the first line of every key.
    public let version: String
    /// The stamps' directory, inside OUT.
    public let stampsDirectory: String
    /// The output digest of each stage reused or recorded through this cache.
    public private(set) var digests: [String: String] = [:]
    private var inputHashes: [String: String] = [:]

    /// A cache over `out`, whose stamps are in OUT/`stamps`; `corpus` is the directory written $CORPUS in keys.
    public init(out: String, corpus: String, version: String, stamps: String) {
        self.out = out
        self.corpus = corpus
        self.version = version
        stampsDirectory = (out as NSString).appendingPathComponent(stamps)
    }

    /// Where `stage`'s stamp is.
    public func stampPath(_ stage: CachedStage) -> String { (stampsDirectory as NSString).appendingPathComponent("\(stage.name).json") }

    /// A path with OUT and the corpus directory written symbolically.
    public func symbolic(_ p: String) -> String {
        if p == out || p.hasPrefix(out + "/") { return "$OUT" + p.dropFirst(out.count) }
        if p == corpus || p.hasPrefix(corpus + "/") { return "$CORPUS" + p.dropFirst(corpus.count) }
        return p
    }

    /// The text a stage's reuse depends on: tool version, arguments (less --threads, which changes no
    /// output), the stage's settings, corpus files' sizes and hashes, and earlier stages' digests
    /// ("none" for a stage not seen yet).
    /// - Throws: `StageCacheError` when a corpus input cannot be read.
    public func key(_ stage: CachedStage) throws(StageCacheError) -> String {
        var args: [String] = []
        var skip = false
        for a in stage.args {
            if skip { skip = false; continue }
            if a == "--threads" { skip = true; continue }
            args.append(symbolic(a))
        }
        var key = "tokenmill \(version)\nstage \(stage.name)\nargs \(args.joined(separator: " "))\n"
        if !stage.settings.isEmpty { key += "settings \(stage.settings)\n" }
        for input in stage.corpusInputs {
            let hash = try inputHash(input)
            key += "input \(symbolic(input)) \(fileSize(input) ?? -1) \(hash)\n"
        }
        for dep in stage.after { key += "after \(dep) \(digests[dep] ?? "none")\n" }
        return key
    }

    private func inputHash(_ input: String) throws(StageCacheError) -> String {
        if let known = inputHashes[input] { return known }
        let hash = try hashFile(input)
        inputHashes[input] = hash
        return hash
    }

    /// Whether `stage` can be reused; a reused stage's digest is remembered for the stages after it.
    /// - Throws: `StageCacheError` when a corpus input cannot be read.
    public func lookup(_ stage: CachedStage) throws(StageCacheError) -> Decision {
        let keyText = try key(stage)
        guard let stamp = reusable(stage, keyHash: Self.hash(keyText)) else { return .redo(keyText: keyText) }
        digests[stage.name] = stamp.digest
        return .reuse(stamp)
    }

    /// Whether `lookup` would reuse every one of `stages` (in order); writes and removes nothing.
    public func reusesAll(_ stages: [CachedStage]) -> Bool {
        for stage in stages {
            guard case .reuse = (try? lookup(stage)) else { return false }
        }
        return true
    }

    /// Removes `stage`'s stamp (before it runs, so an interruption cannot leave it looking done).
    /// - Throws: `StageCacheError` when the stamp is there and cannot be removed.
    public func forget(_ stage: CachedStage) throws(StageCacheError) {
        let path = stampPath(stage)
        var info = stat()
        if lstat(path, &info) != 0 && errno == ENOENT { return }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            throw StageCacheError(path: path, "cannot remove the stale stamp (\(error.localizedDescription))")
        }
    }

    /// Records that `stage` finished with `keyText` (from `lookup`): hashes its outputs into its digest
    /// and writes its stamp. Returns the stamp.
    /// - Throws: `StageCacheError` when an output is missing or unreadable, or the stamp cannot be written.
    @discardableResult
    public func record(_ stage: CachedStage, keyText: String, seconds: Double, summary: String) throws(StageCacheError) -> DemoStageStamp {
        let digest = SHA256()
        for o in stage.digestOnly ?? stage.outputs { digest.update(Array("\(symbolic(o)) \(try hashFile(o))\n".utf8)) }
        let digestHex = digest.hexDigest()
        var outputs: [DemoStageStamp.Output] = []
        for o in stage.outputs {
            guard let size = fileSize(o) else { throw StageCacheError(path: o, "stage \(stage.name) finished without writing it") }
            outputs.append(.init(path: symbolic(o), size: size, modifiedMillis: mtimeMillis(o) ?? -1))
        }
        let stamp = DemoStageStamp(stage: stage.name, key: Self.hash(keyText), keyText: keyText, digest: digestHex,
                                   seconds: seconds, summary: summary, outputs: outputs)
        let path = stampPath(stage)
        do {
            try FileManager.default.createDirectory(atPath: stampsDirectory, withIntermediateDirectories: true)
            try writeFileAtomically(Array(stamp.encoded), to: path)
        } catch {
            throw StageCacheError(path: path, "cannot write the stage's stamp (\(error))")
        }
        digests[stage.name] = digestHex
        return stamp
    }

    /// The SHA-256 (hex) of a key text: what a stamp's `key` holds.
    public static func hash(_ keyText: String) -> String {
        let hasher = SHA256()
        hasher.update(Array(keyText.utf8))
        return hasher.hexDigest()
    }

    /// The stamp of a finished stage whose key and outputs still match, or nil.
    private func reusable(_ stage: CachedStage, keyHash: String) -> DemoStageStamp? {
        guard let stamp = try? DemoStageStamp.read(path: stampPath(stage)),
              stamp.key == keyHash, stamp.outputs.count == stage.outputs.count else { return nil }
        for (o, recorded) in zip(stage.outputs, stamp.outputs) {
            guard recorded.path == symbolic(o), recorded.size == fileSize(o), recorded.modifiedMillis == mtimeMillis(o) else { return nil }
        }
        return stamp
    }

    private func hashFile(_ path: String) throws(StageCacheError) -> String {
        do { return try sha256(ofFile: path) } catch { throw StageCacheError(path: path, "cannot hash (\(error))") }
    }

    private func fileSize(_ p: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int
    }

    private func mtimeMillis(_ p: String) -> Int? {
        ((try? FileManager.default.attributesOfItem(atPath: p))?[.modificationDate] as? Date).map { Int(($0.timeIntervalSince1970 * 1000).rounded()) }
    }
}
