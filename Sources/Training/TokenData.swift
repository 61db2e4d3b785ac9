// Training data: a flat stream of token ids, memory-mapped. Accepted inputs:
//   - a Megatron indexed dataset (`prefix`, `prefix.bin` or `prefix.idx`): the .idx header gives the
//     dtype (REFERENCE.md §1: magic "MMIDIDX\0\0", u64 version 1, u8 dtype code); the .bin is read as
//     one stream (document boundaries are only the EOD ids already in it);
//   - a raw token file named *.u16 / *.uint16 (uint16 LE) or *.i32 / *.int32 (int32 LE).
// The last `validationFraction` of the stream is held out. Training rows are windows of `rowLength`
// tokens starting at multiples of T, visited in a seeded random order per epoch; the position (epoch,
// index) is saved in checkpoints so a resumed run reads exactly the same rows.
// Costs: one pass over the ids at open (checking them against the vocabulary); O(windows) for each
// epoch's permutation; reading a row copies rowLength ids.
import Foundation

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
        let prefix = path.hasSuffix(".bin") || path.hasSuffix(".idx") ? String(path.dropLast(4)) : path
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

/// Rows of `rowLength` tokens from the training part, windows starting at multiples of `stride`,
/// shuffled per epoch with a generator seeded by (seed, epoch).
public final class RowSampler {
    let stream: TokenStream
    let rowLength: Int, stride: Int, seed: UInt64
    public private(set) var position = DataPosition()
    private var order: [Int32] = []
    private var orderEpoch = -1
    public let windows: Int

    public init(stream: TokenStream, rowLength: Int, stride: Int, seed: UInt64) throws {
        self.stream = stream; self.rowLength = rowLength; self.stride = stride; self.seed = seed
        guard stream.trainCount >= rowLength else {
            throw DataError(path: stream.path, message: "only \(stream.trainCount) training tokens; a row needs \(rowLength)")
        }
        windows = (stream.trainCount - rowLength) / stride + 1
    }

    public func seek(_ p: DataPosition) { position = p }

    /// Fills B rows (row-major, rowLength each) and advances.
    public func next(rows B: Int, into out: UnsafeMutablePointer<Int32>) {
        for b in 0..<B {
            if position.index >= windows { position.epoch += 1; position.index = 0 }
            if orderEpoch != position.epoch { shuffle(position.epoch) }
            stream.read(Int(order[position.index]) * stride, rowLength, into: out + b * rowLength)
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
