// Per-document dedup signatures: what `tokenmill dedup --shard I/N` writes and the clustering step reads.
// Policy: one file per shard, written to a hidden temporary name and renamed when complete (OutputFile); a shard signs
// every document of its contiguous range of whole input files (CorpusIO's `InputShardPlan`), numbered from 0 within
// that range, so it reads nothing else; the clustering step puts the N ranges back in order and adds to each shard's
// positions the documents of the shards before it, which gives every document its position in one run.
// Cost: 8 × (3 + bands) bytes a document (136 bytes with the defaults).
//
// Format (every field a little-endian UInt64 word):
//   word 0            magic "TMDEDUP1" (the ASCII bytes in file order)
//   word 1            version = 2 (version 1, an older TokenMill's every-N-th-document shards, is refused)
//   words 2–5         ngram, bands, rows, seed (the MinHashConfig)
//   words 6–7         shard index I, shard count N
//   word 8            flags: bit 0 = numbers normalized to "0" before shingling
//   words 9–11        first input file, end input file (exclusive), input files in the whole run
//   records[R]        each 3 + bands words: position within the shard's files | (1 << 63 when it has band keys),
//                     exact[2] (the first 128 bits of SHA-256 of the NFC text, big-endian halves),
//                     bandKeys[bands] (zeros when the document has fewer words than one shingle)
//   trailer           magic "TMDEDEND", D = documents in the shard's files, R = records (R = D)
// Size check on read: 8 × (12 + R × (3 + bands) + 3) bytes.

import CorpusIO
import Foundation

/// Which part of the input a run signs (its files come from the reader: `InputShardPlan`).
public struct SignatureShard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int
    public init(index: Int, count: Int) {
        precondition(count >= 1 && index >= 0 && index < count, "shard \(index)/\(count) out of range")
        self.index = index; self.count = count
    }
    public static let whole = SignatureShard(index: 0, count: 1)
    public var description: String { "\(index)/\(count)" }
    /// The file a shard's signatures go to inside a signatures directory.
    public var fileName: String { "signatures-\(index)-of-\(count).bin" }
}

/// One document's signature.
public struct DocumentSignature: Sendable, Equatable {
    public var position: UInt64
    public var exact0: UInt64
    public var exact1: UInt64
    /// One key per band; empty when the document has fewer words than a shingle.
    public var bandKeys: [UInt64]
    public init(position: UInt64, exact0: UInt64, exact1: UInt64, bandKeys: [UInt64]) {
        self.position = position; self.exact0 = exact0; self.exact1 = exact1; self.bandKeys = bandKeys
    }
}

private func magicWord(_ s: String) -> UInt64 {
    let bytes = Array(s.utf8)
    precondition(bytes.count == 8)
    return bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
}

enum SignatureFormat {
    static let magic = magicWord("TMDEDUP1")
    static let endMagic = magicWord("TMDEDEND")
    static let version: UInt64 = 2
    static let headerWords = 12
    static let hasBandsFlag: UInt64 = 1 << 63
}

/// Writes one shard's signature file (through CorpusIO's `OutputFile`: a hidden temporary name renamed
/// into place by `commit`, removed on failure or interrupt, and one writer per path).
public final class SignatureFileWriter {
    public let path: String
    private let out: OutputFile
    private let config: MinHashConfig
    /// Little-endian words not yet handed to `out`.
    private var bytes: [UInt8] = []
    public private(set) var records = 0

    /// - Parameters:
    ///   - files: the shard's input files [first, end) of `fileCount` in the whole run.
    public init(path: String, config: MinHashConfig, shard: SignatureShard, files: Range<Int>, fileCount: Int) throws {
        self.path = path
        self.config = config
        out = try OutputFile(path: path, compress: false)
        bytes.reserveCapacity(1 << 20)
        try write([SignatureFormat.magic, SignatureFormat.version, UInt64(config.ngram), UInt64(config.bands),
                   UInt64(config.rows), config.seed, UInt64(shard.index), UInt64(shard.count),
                   config.normalizeNumbers ? 1 : 0, UInt64(files.lowerBound), UInt64(files.upperBound), UInt64(fileCount)])
    }

    private func write(_ word: UInt64) {
        withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private func write(_ words: [UInt64]) throws {
        for w in words { write(w) }
        try handOver()
    }

    /// Passes the buffered words to `out` once there is 1 MiB of them.
    private func handOver() throws {
        if bytes.count >= 1 << 20 { try out.write(bytes); bytes.removeAll(keepingCapacity: true) }
    }

    public func append(_ s: DocumentSignature) throws {
        precondition(s.bandKeys.isEmpty || s.bandKeys.count == config.bands, "band keys do not match the config")
        write(s.position | (s.bandKeys.isEmpty ? 0 : SignatureFormat.hasBandsFlag))
        write(s.exact0)
        write(s.exact1)
        if s.bandKeys.isEmpty { for _ in 0 ..< config.bands { write(0) } } else { for k in s.bandKeys { write(k) } }
        try handOver()
        records += 1
    }

    /// Writes the trailer and renames the file into place.
    public func commit(documents: Int) throws {
        try write([SignatureFormat.endMagic, UInt64(documents), UInt64(records)])
        try out.write(bytes)
        try out.commit()
    }

    /// Removes the temporary file (after a failure).
    public func abandon() { out.abandon() }
}

/// A signature file's header and trailer.
public struct SignatureFileInfo: Sendable, Equatable {
    public var config: MinHashConfig
    public var shard: SignatureShard
    /// The shard's input files [first, end) and the number of input files of the whole run.
    public var files: Range<Int>
    public var fileCount: Int
    /// Documents in the shard's files.
    public var documents: Int
    public var records: Int
    public init(config: MinHashConfig, shard: SignatureShard, files: Range<Int>, fileCount: Int, documents: Int, records: Int) {
        self.config = config; self.shard = shard; self.files = files; self.fileCount = fileCount; self.documents = documents; self.records = records
    }
}

/// Reads a signature file: checks its magic, version and size, then streams its records.
public final class SignatureFileReader {
    public let path: String
    public let info: SignatureFileInfo
    private let reader: WordReader

    public init(path: String) throws {
        self.path = path
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = (attributes?[.size] as? NSNumber)?.int64Value else {
            throw DeduplicationError(path: path, "cannot read: no such file")
        }
        guard size >= 8 * Int64(SignatureFormat.headerWords + 3) else { throw DeduplicationError(path: path, "\(size) bytes is too short for a signature file (truncated?)") }
        // The trailer first (it holds the counts the size check needs).
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(size - 24))
        let tail = try handle.read(upToCount: 24) ?? Data()
        try handle.close()
        let t = stride(from: 0, to: tail.count, by: 8).map { o in tail[o ..< o + 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }
        let reader = try WordReader(path: path)
        self.reader = reader
        let magic = try reader.require("the header"), version = try reader.require("the header")
        guard magic == SignatureFormat.magic else { throw DeduplicationError(path: path, "not a tokenmill signature file (bad magic)") }
        guard version == SignatureFormat.version else {
            throw DeduplicationError(path: path, "signature file version \(version), this tokenmill reads version 2" + (version == 1 ? " (version 1 shards took every N-th document; sign the shards again)" : ""))
        }
        let header = [magic, version] + (try (2 ..< SignatureFormat.headerWords).map { _ in try reader.require("the header") })
        guard t.count == 3, t[0] == SignatureFormat.endMagic else {
            throw DeduplicationError(path: path, "no trailer: the file is truncated or its writer did not finish")
        }
        let config = MinHashConfig(ngram: Int(header[2]), bands: Int(header[3]), rows: Int(header[4]), seed: header[5],
                                   normalizeNumbers: header[8] & 1 != 0)
        guard config.bands >= 1, config.bands <= 4096, header[7] >= 1, header[6] < header[7], header[9] <= header[10], header[10] <= header[11] else {
            throw DeduplicationError(path: path, "bad header: bands \(header[3]), shard \(header[6])/\(header[7]), files \(header[9])..<\(header[10]) of \(header[11])")
        }
        let records = Int(t[2])
        let expected = 8 * (Int64(SignatureFormat.headerWords) + Int64(records) * Int64(3 + config.bands) + 3)
        guard expected == size else {
            throw DeduplicationError(path: path, "size \(size) bytes, but \(records) records of \(config.bands) bands make \(expected) (truncated or corrupt)")
        }
        info = SignatureFileInfo(config: config, shard: SignatureShard(index: Int(header[6]), count: Int(header[7])),
                                 files: Int(header[9]) ..< Int(header[10]), fileCount: Int(header[11]), documents: Int(t[1]), records: records)
    }

    /// Every record in file order.
    public func forEach(_ body: (DocumentSignature) throws -> Void) throws {
        let bands = info.config.bands
        var keys = [UInt64](repeating: 0, count: bands)
        for _ in 0 ..< info.records {
            let head = try reader.require("a record")
            let e0 = try reader.require("a record"), e1 = try reader.require("a record")
            for b in 0 ..< bands { keys[b] = try reader.require("a record") }
            let hasBands = head & SignatureFormat.hasBandsFlag != 0
            try body(DocumentSignature(position: head & ~SignatureFormat.hasBandsFlag, exact0: e0, exact1: e1, bandKeys: hasBands ? keys : []))
        }
    }
}
