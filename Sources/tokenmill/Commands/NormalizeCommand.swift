// `tokenmill normalize`: cleanups + Unicode normalization over a stream of documents.
import ArgumentParser
import CorpusIO
import Foundation
import Normalization
import Pipeline

extension NormalizationForm: ExpressibleByArgument {}

struct NormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Clean up and Unicode-normalize documents, streaming, on all cores, in input order.",
        discussion: """
        Example: tokenmill normalize --form nfkc -o clean.jsonl.zst corpora/train.jsonl.zst

        Cleanups run before the normalization form: drop a leading BOM, CRLF to LF, strip control \
        characters other than \\n and \\t; then empty documents are dropped. JSON records keep every \
        other field byte for byte. Writes .jsonl, or .jsonl.zst when the output name ends in .zst, and \
        beside it OUTPUT.tokenmill.json naming the form and cleanups, which `tokenize` copies into its \
        manifest so that `bpb --run` normalizes test text the same way. \
        Memory: about 4 MiB of read buffer plus 2 × threads batches of 1 MiB, whatever the input size \
        (a single record larger than that is held whole).
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: "The Unicode normalization form.")
    var form: NormalizationForm = .nfkc

    @Option(name: [.short, .long], help: "The output file (.jsonl or .jsonl.zst); stdout when omitted or '-'.")
    var output: String?

    @Flag(inversion: .prefixedNo, help: "Drop a byte order mark at the start of a document.")
    var dropBom = true

    @Flag(name: .customLong("crlf-to-lf"), inversion: .prefixedNo, help: "Turn CRLF line endings into LF.")
    var crlfToLF = true

    @Flag(inversion: .prefixedNo, help: "Strip control characters (Unicode Cc) other than \\n and \\t.")
    var stripControl = true

    @Flag(inversion: .prefixedNo, help: "Drop documents that are empty after normalization.")
    var dropEmpty = true

    func run() throws {
        try reportingErrors {
            var cleanups = Cleanups()
            cleanups.dropBOM = dropBom
            cleanups.crlfToLF = crlfToLF
            cleanups.stripControl = stripControl
            cleanups.dropEmpty = dropEmpty
            let summary = try normalizeCorpus(reader: try input.makeReader(), form: form, cleanups: cleanups,
                                              output: output, threads: progressOptions.workerThreads,
                                              progress: progressOptions.makeReporter("normalize"))
            if let output, output != "-" {
                try writeNormalizationSidecar(output: output, record: NormalizationRecord(form: form, cleanups: cleanups), inputs: input.inputs)
            }
            printError(summary)
        }
    }
}

/// What one normalized batch produced.
private struct NormalizedBatch: Sendable {
    var bytes: [UInt8] = []
    /// `bytes` as a zstd frame, when the output is compressed.
    var frames: [UInt8]?
    var documentsIn = 0, documentsOut = 0, changed = 0, droppedEmpty = 0
    var bytesOut = 0
    var decoded: DecodedBatch
}

/// Per-thread normalizers, handed out and returned by the workers.
private final class NormalizerPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [TextNormalizer] = []
    let form: NormalizationForm
    let cleanups: Cleanups
    init(form: NormalizationForm, cleanups: Cleanups) { self.form = form; self.cleanups = cleanups }
    func take() throws -> TextNormalizer {
        lock.lock(); defer { lock.unlock() }
        return try free.popLast() ?? TextNormalizer(form: form, cleanups: cleanups)
    }
    func give(_ n: TextNormalizer) { lock.lock(); free.append(n); lock.unlock() }
}

/// Normalizes every document of `reader` into `output`; returns the summary line.
func normalizeCorpus(reader: CorpusReader, form: NormalizationForm, cleanups: Cleanups, output: String?,
                     threads: Int, progress: ProgressReporter) throws -> String {
    let out = try OutputFile(path: output)
    let encoder = out.isZstd ? ZstdFrameEncoder() : nil
    let pool = NormalizerPool(form: form, cleanups: cleanups)
    let options = reader.options
    let textPath = options.textPath
    _ = try pool.take()  // fail early if ICU cannot open the form
    var docsIn = 0, docsOut = 0, changed = 0, dropped = 0, repaired = 0, repairs = 0
    var bytesIn = 0, bytesOut = 0
    var skipped: [CorpusErrorKind: Int] = [:]
    try writing(to: out, progress: progress) {
        try orderedParallelMap(threads: threads, next: { try reader.nextBatch() }, transform: { batch in
            let decoded = try decodeDocuments(batch, options: options)
            let normalizer = try pool.take()
            defer { pool.give(normalizer) }
            var result = NormalizedBatch(decoded: decoded)
            result.bytes.reserveCapacity(batch.bytes.count + batch.bytes.count / 8)
            for var doc in decoded.documents {
                result.documentsIn += 1
                let changed = try normalizer.normalize(&doc.text)
                if changed { result.changed += 1 }
                if cleanups.dropEmpty && doc.text.isEmpty { result.droppedEmpty += 1; continue }
                result.documentsOut += 1
                result.bytesOut += doc.text.utf8.count
                if doc.record != nil && !changed && doc.repairs == 0 {
                    // Unchanged: the original record, byte for byte.
                    result.bytes.append(contentsOf: doc.record!)
                    result.bytes.append(0x0A)
                } else {
                    doc.appendJSONLine(to: &result.bytes, textPath: textPath)
                }
            }
            if let encoder {  // compress on the worker; the writer only appends frames
                result.frames = try encoder.frame(result.bytes)
            }
            return result
        }, consume: { (r: NormalizedBatch) in
            if let frames = r.frames { try out.writeFrames(frames, bytes: r.bytes.count) } else { try out.write(r.bytes) }
            docsIn += r.documentsIn; docsOut += r.documentsOut; changed += r.changed; dropped += r.droppedEmpty
            repaired += r.decoded.repairedDocuments; repairs += r.decoded.repairs
            bytesIn += r.decoded.documents.reduce(0) { $0 + $1.text.utf8.count }
            bytesOut += r.bytesOut
            for (k, v) in r.decoded.skipped { skipped[k, default: 0] += v }
            for e in r.decoded.skipErrors { printError("warning: skipped \(e)") }
            progress.update(documents: docsIn, bytes: Int64(bytesIn))
        })
    }
    var line = "normalize: \(formatCount(docsIn)) documents (\(formatBytes(Int64(bytesIn)))) in, \(formatCount(docsOut)) out (\(formatBytes(Int64(bytesOut)))); \(formatCount(changed)) changed, \(formatCount(dropped)) dropped empty, \(formatCount(repaired)) repaired (\(formatCount(repairs)) invalid UTF-8 sequences)"
    let totalSkipped = skipped.values.reduce(0, +)
    if totalSkipped > 0 {
        line += ", \(formatCount(totalSkipped)) skipped (" + skipped.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ") + ")"
    }
    line += String(format: "; %.2f s", progress.elapsed)
    return line
}
