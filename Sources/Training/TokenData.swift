// Training data, memory-mapped. Accepted inputs:
//   - a packed dataset from `tokenmill pack` (a Megatron dataset whose `DatasetLayout` says packed: the
//     caller reads that from PREFIX.json with Pipeline's typed manifests): every Megatron document is one row of exactly L tokens whose
//     sequences are document pieces followed by one padding sequence (possibly empty). The .idx gives
//     each row's pieces; rows are split into windows of T positions (L/T of them, rounded up; T ≤ L),
//     and each window is described by the packed-data convention (`Model.describeRow`): segments start
//     at the row start, at every EOD id and at a piece that does not follow an EOD; targets in the
//     padding, or crossing into a truncated piece, are masked.
//   - any other Megatron indexed dataset (`prefix`, `prefix.bin` or `prefix.idx`) or a raw token file
//     named *.u16 / *.uint16 (uint16 LE) or *.i32 / *.int32 (int32 LE): one flat stream, rows are
//     windows of rowLength tokens starting at multiples of T. When the EOD id is known (the dataset's
//     manifest PREFIX.json from `tokenize`, or `eod`), the same EOD segmentation applies; raw files
//     without `eod` train as plain windows.
// Validation: PREFIX_valid (.bin + .idx, as `pack --valid-fraction` writes) when it exists beside the
// data, read the same way; otherwise the last `validationFraction` of the stream (or of the packed rows).
// Training windows are visited in a seeded random order per epoch; the position (epoch, index) is saved in
// checkpoints so a resumed run reads exactly the same rows.
// Costs: one pass over the ids at open (checking them against the vocabulary); the packed index keeps
// 20 bytes per sequence in memory (megatron's arrays); O(windows) for each epoch's permutation; reading a
// window copies rowLength ids.
import CorpusIO
import Foundation
import Packing

/// A problem with the data file: its path and a hint.
public struct DataError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

public final class TokenStream {
    public enum ElementType: Sendable { case uint16, int32 }
    public let path: String
    public let data: Data
    public let type: ElementType
    public let count: Int
    /// Tokens [0, trainCount) train; [trainCount, count) validate.
    public let trainCount: Int

    /// Opens `path` and checks every id is below `vocabSize`.
    public init(path: String, vocabSize: Int, validationFraction: Double) throws {
        var binPath = path
        var type: ElementType
        let fm = FileManager.default
        let prefix = datasetPrefix(path)
        if fm.fileExists(atPath: prefix + ".idx") && fm.fileExists(atPath: prefix + ".bin") {
            binPath = prefix + ".bin"
            guard let idx = FileHandle(forReadingAtPath: prefix + ".idx"), let head = try? idx.read(upToCount: 18), head.count == 18 else {
                throw DataError(path: prefix + ".idx", message: "cannot read the index header")
            }
            guard head.prefix(9) == Data("MMIDIDX".utf8 + [0, 0]) else {
                throw DataError(path: prefix + ".idx", message: "not a Megatron index (bad magic)")
            }
            switch head[17] {
            case 8: type = .uint16
            case 4: type = .int32
            default: throw DataError(path: prefix + ".idx", message: "unsupported dtype code \(head[17]) (expected 8 uint16 or 4 int32)")
            }
        } else if path.hasSuffix(".u16") || path.hasSuffix(".uint16") {
            type = .uint16
        } else if path.hasSuffix(".i32") || path.hasSuffix(".int32") {
            type = .int32
        } else {
            throw DataError(path: path, message: "unknown token file: give a Megatron prefix (with .bin and .idx) or a raw .u16/.i32 file")
        }
        do { data = try Data(contentsOf: URL(fileURLWithPath: binPath), options: .alwaysMapped) } catch {
            throw DataError(path: binPath, message: "cannot read: \(error.localizedDescription)")
        }
        self.path = binPath
        self.type = type
        let width = type == .uint16 ? 2 : 4
        guard data.count % width == 0 else { throw DataError(path: binPath, message: "size \(data.count) is not a multiple of \(width)") }
        count = data.count / width
        trainCount = count - Int(Double(count) * validationFraction)
        // Check the ids.
        let bad: (Int, Int)? = data.withUnsafeBytes { raw in
            if type == .uint16 {
                let p = raw.bindMemory(to: UInt16.self)
                for i in 0..<count where Int(UInt16(littleEndian: p[i])) >= vocabSize { return (i, Int(UInt16(littleEndian: p[i]))) }
            } else {
                let p = raw.bindMemory(to: Int32.self)
                for i in 0..<count {
                    let v = Int(Int32(littleEndian: p[i]))
                    if v < 0 || v >= vocabSize { return (i, v) }
                }
            }
            return nil
        }
        if let (i, v) = bad {
            throw DataError(path: binPath, message: "token id \(v) at position \(i) is outside the model's vocabulary (vocab_size \(vocabSize)); set model.vocab_size to at least \(v + 1)")
        }
    }

    /// Copies ids [start, start + n) into `out`.
    public func read(_ start: Int, _ n: Int, into out: UnsafeMutablePointer<Int32>) {
        data.withUnsafeBytes { raw in
            if type == .uint16 {
                let p = raw.bindMemory(to: UInt16.self)
                for i in 0..<n { out[i] = Int32(UInt16(littleEndian: p[start + i])) }
            } else {
                let p = raw.bindMemory(to: Int32.self)
                for i in 0..<n { out[i] = Int32(littleEndian: p[start + i]) }
            }
        }
    }
}

/// Where the training stream is: epoch and index into that epoch's permutation of windows.
public struct DataPosition: Codable, Equatable, Sendable {
    public var epoch = 0
    public var index = 0
    public init() {}
}

/// Numbered windows of model rows: `fill` writes window `w` into row `b` of a model's tokens and
/// describes its segments.
public protocol RowSource: AnyObject {
    var windowCount: Int { get }
    func fill<S: TrainingScalar>(_ w: Int, into model: Model<S>, row b: Int)
}

/// Windows of rowLength tokens at multiples of `stride` over tokens [start, start + count) of a stream.
public final class FlatRows: RowSource {
    let stream: TokenStream
    let start, count, stride: Int
    let eod: Int32?
    public let windowCount: Int

    init(stream: TokenStream, start: Int, count: Int, rowLength: Int, stride: Int, eod: Int32?) {
        self.stream = stream; self.start = start; self.count = count; self.stride = stride; self.eod = eod
        windowCount = count >= rowLength ? (count - rowLength) / stride + 1 : 0
    }

    public func fill<S: TrainingScalar>(_ w: Int, into model: Model<S>, row b: Int) {
        let R = model.rowLength
        stream.read(start + w * stride, R, into: model.tokens + b * R)
        model.describeRow(b, eod: eod, realLength: R)
    }
}

/// The rows of a packed dataset, each cut into windows of T positions.
public final class PackedRows: RowSource {
    let stream: TokenStream
    let lengths: [Int32], pointers: [Int64], documents: [Int64]
    let itemSize: Int
    /// Row length L, and the rows [firstRow, firstRow + rows) this source uses.
    public let L: Int
    let firstRow, rows, T: Int
    let eod: Int32?
    let filler: Int32
    public var windowsPerRow: Int { (L + T - 1) / T }
    public var windowCount: Int { rows * windowsPerRow }
    private var pieceStarts: [Int] = []

    init(stream: TokenStream, reader: IndexedDatasetReader, L: Int, firstRow: Int, rows: Int, T: Int, eod: Int32?, filler: Int32) {
        self.stream = stream
        lengths = reader.sequenceLengths; pointers = reader.sequencePointers; documents = reader.documentIndices
        itemSize = reader.dtype.itemSize
        self.L = L; self.firstRow = firstRow; self.rows = rows; self.T = T; self.eod = eod; self.filler = filler
        pieceStarts.reserveCapacity(64)
    }

    /// Checks every row holds exactly L tokens and ends with its padding sequence; returns L.
    static func rowLength(_ reader: IndexedDatasetReader, path: String) throws -> Int {
        let docs = reader.documentIndices
        guard docs.count >= 2 else { throw DataError(path: path, message: "packed dataset has no rows") }
        var L = -1
        for r in 0..<(docs.count - 1) {
            let lo = Int(docs[r]), hi = Int(docs[r + 1])
            guard hi > lo else { throw DataError(path: path, message: "packed row \(r) has no sequences (expected pieces and a padding sequence)") }
            var n = 0
            for s in lo..<hi { n += Int(reader.sequenceLengths[s]) }
            if L < 0 { L = n }
            guard n == L else { throw DataError(path: path, message: "packed row \(r) holds \(n) tokens, row 0 holds \(L); not a packed dataset") }
        }
        return L
    }

    public func fill<S: TrainingScalar>(_ w: Int, into model: Model<S>, row b: Int) {
        let R = model.rowLength, out = model.tokens + b * R
        let r = firstRow + w / windowsPerRow, offset = (w % windowsPerRow) * T
        let lo = Int(documents[r]), hi = Int(documents[r + 1])
        let rowStart = Int(pointers[lo]) / itemSize
        let n = min(R, L - offset)
        stream.read(rowStart + offset, n, into: out)
        for i in n..<R { out[i] = filler }
        // Pieces are sequences lo..<hi-1; the last sequence is the padding.
        pieceStarts.removeAll(keepingCapacity: true)
        var q = 0
        for s in lo..<(hi - 1) {
            if q > offset && q < offset + R { pieceStarts.append(q - offset) }
            q += Int(lengths[s])
        }
        model.describeRow(b, eod: eod, realLength: q - offset, pieceStarts: pieceStarts)
    }
}

/// The training and validation windows of a data path, and how they were found.
public struct TrainingData {
    public let train: RowSource
    public let valid: RowSource?
    /// Row length of a packed dataset (nil for flat data).
    public let packedLength: Int?
    public let eod: Int32?
    /// One line for the log: what was read and how.
    public let summary: String

    /// Opens `path` for windows of `T` positions (`rowLength` tokens each).
    public static func open(path: String, vocabSize: Int, T: Int, rowLength R: Int, validationFraction: Double,
                            eod explicitEOD: Int? = nil, layout: DatasetLayout) throws -> TrainingData {
        let prefix = datasetPrefix(path)
        let fm = FileManager.default
        let isMegatron = fm.fileExists(atPath: prefix + ".idx") && fm.fileExists(atPath: prefix + ".bin")
        let packed = isMegatron && layout.packed
        // The EOD id: given, else what the dataset's manifests say (`layout`).
        let eod: Int32? = explicitEOD.map { Int32($0) } ?? layout.eod
        let eodSource = explicitEOD != nil ? "--eod-id" : layout.eodSource
        if let e = eod, e < 0 || Int(e) >= vocabSize {
            throw DataError(path: eodSource, message: "EOD id \(e) is outside the model's vocabulary (vocab_size \(vocabSize))")
        }
        let validPrefix = prefix + "_valid"
        let hasValid = isMegatron && fm.fileExists(atPath: validPrefix + ".idx") && fm.fileExists(atPath: validPrefix + ".bin")
        let fraction = hasValid ? 0 : validationFraction
        func open(_ prefix: String, fraction: Double, role: String) throws -> (RowSource, RowSource?, Int?) {
            let stream = try TokenStream(path: prefix, vocabSize: vocabSize, validationFraction: 0)
            if packed {
                let reader: IndexedDatasetReader
                do { reader = try IndexedDatasetReader(prefix: prefix) } catch let e as DatasetError {
                    throw DataError(path: e.path, message: e.message)
                }
                let L = try PackedRows.rowLength(reader, path: prefix + ".idx")
                guard T <= L else {
                    throw DataError(path: prefix + ".idx", message: "packed rows hold \(L) tokens but training.sequence_length is \(T); set sequence_length ≤ \(L) or pack with --seq-len \(T)")
                }
                let total = reader.documentCount
                let held = Int(Double(total) * fraction)
                let filler = eod ?? 0
                let train = PackedRows(stream: stream, reader: reader, L: L, firstRow: 0, rows: total - held, T: T, eod: eod, filler: filler)
                let valid = held > 0 ? PackedRows(stream: stream, reader: reader, L: L, firstRow: total - held, rows: held, T: T, eod: eod, filler: filler) : nil
                if train.windowCount == 0 { throw DataError(path: prefix, message: "no \(role) rows") }
                return (train, valid, L)
            }
            let trainCount = stream.count - Int(Double(stream.count) * fraction)
            let train = FlatRows(stream: stream, start: 0, count: trainCount, rowLength: R, stride: T, eod: eod)
            let valid = FlatRows(stream: stream, start: trainCount, count: stream.count - trainCount, rowLength: R, stride: T, eod: eod)
            guard train.windowCount > 0 else {
                throw DataError(path: stream.path, message: "only \(trainCount) \(role) tokens; a row needs \(R)")
            }
            return (train, valid.windowCount > 0 ? valid : nil, nil)
        }
        let (train, heldOut, L) = try open(prefix, fraction: fraction, role: "training")
        var valid = heldOut
        if hasValid { valid = try open(validPrefix, fraction: 0, role: "validation").0 }
        var summary = packed ? "data: packed rows of \(L!) tokens, \(train.windowCount) windows of \(T)" : "data: flat token stream, \(train.windowCount) windows of \(T)"
        if let eod { summary += "; EOD id \(eod) (from \(eodSource)) starts segments" } else { summary += "; no EOD id known: no segments" }
        summary += hasValid ? "; validation: \(validPrefix)" : (valid != nil ? String(format: "; validation: the last %.1f%%", fraction * 100) : "; no validation split")
        return TrainingData(train: train, valid: valid, packedLength: L, eod: eod, summary: summary)
    }
}

/// Windows of a `RowSource`, shuffled per epoch with a generator seeded by (seed, epoch).
public final class RowSampler {
    let source: RowSource
    let seed: UInt64
    public private(set) var position = DataPosition()
    private var order: [Int32] = []
    private var orderEpoch = -1
    public var windows: Int { source.windowCount }

    public init(source: RowSource, seed: UInt64) {
        self.source = source; self.seed = seed
    }

    public func seek(_ p: DataPosition) { position = p }

    /// Fills the model's B rows (tokens and segments) and advances.
    public func next<S: TrainingScalar>(into model: Model<S>) {
        for b in 0..<model.B {
            if position.index >= windows { position.epoch += 1; position.index = 0 }
            if orderEpoch != position.epoch { shuffle(position.epoch) }
            source.fill(Int(order[position.index]), into: model, row: b)
            position.index += 1
        }
    }

    private func shuffle(_ epoch: Int) {
        var rng = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        order = (0..<Int32(windows)).map { $0 }
        if windows > 1 {
            for i in Swift.stride(from: windows - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        orderEpoch = epoch
    }
}
