// safetensors, written and read (format in REFERENCE.md §6):
//   bytes 0..<8    u64 LE N, the header length
//   bytes 8..<8+N  UTF-8 JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [b, e]}},
//                  right-padded with spaces so N is a multiple of 8
//   then the data buffer, tensors back to back (row-major, little-endian), offsets relative to its start.
// The writer orders tensors by name (all ours share one dtype) and streams each tensor's bytes from
// its slice of the flat allocation; the reader memory-maps and checks that entries tile the buffer and
// that each entry's byte span fits its dtype and shape. Reading converts F32, BF16 and F16 to Float
// exactly (`copyFloat32`).
import CorpusIO
import Foundation
import Synchronization

/// One tensor to write: its bytes are read from `pointer` (count elements of `elementSize` bytes).
public struct SafetensorsEntry {
    public var name: String
    public var dtype: String
    public var shape: [Int]
    public var pointer: UnsafeRawPointer
    public var byteCount: Int
    public init(name: String, dtype: String, shape: [Int], pointer: UnsafeRawPointer, byteCount: Int) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.pointer = pointer; self.byteCount = byteCount
    }
}

/// A failure reading or writing a safetensors file, with the path.
public struct SafetensorsError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Fault injection for tests, passed to the writers that take one (`writeSafetensors`, `Trainer`'s
/// checkpoints): files written under `directory` share `bytes` of pretend free space and fail with
/// ENOSPC past it, as on a full disk. One instance is one disk: its room shrinks as files are written.
public final class SimulatedDisk: Sendable {
    public let directory: String
    private let room: Mutex<Int>
    public init(directory: String, bytes: Int) { self.directory = directory; room = Mutex(bytes) }

    /// Takes up to `count` bytes of the room left for a write to `path`; nil when `path` is elsewhere.
    func take(_ count: Int, path: String) -> Int? {
        guard path.hasPrefix(directory) else { return nil }
        return room.withLock { bytes in
            let n = min(bytes, count)
            bytes -= n
            return n
        }
    }
}

/// fwrite that honours `disk` (a test's `SimulatedDisk`): writes what fits, then fails with ENOSPC.
func checkedWrite(_ p: UnsafeRawPointer, _ count: Int, _ f: UnsafeMutablePointer<FILE>, path: String, disk: SimulatedDisk?) -> Bool {
    let allowed = disk?.take(count, path: path)
    if let allowed, allowed < count {
        if allowed > 0 { _ = fwrite(p, 1, allowed, f) }
        errno = ENOSPC
        return false
    }
    return fwrite(p, 1, count, f) == count
}

/// Writes `entries` to `path` (not atomically; `Checkpoint` writes into a temporary directory) and
/// fsyncs it. Throws on any short write (e.g. a full disk; `disk` simulates one in tests).
/// - Complexity: O(total bytes).
public func writeSafetensors(_ path: String, entries: [SafetensorsEntry], metadata: [String: String], disk: SimulatedDisk? = nil) throws {
    let sorted = entries.sorted { $0.name < $1.name }
    var header = "{"
    var parts: [String] = []
    if !metadata.isEmpty {
        let m = metadata.keys.sorted().map { "\(encodeJSONString($0)):\(encodeJSONString(metadata[$0]!))" }.joined(separator: ",")
        parts.append("\"__metadata__\":{\(m)}")
    }
    var offset = 0
    for e in sorted {
        let shape = e.shape.map(String.init).joined(separator: ",")
        parts.append("\(encodeJSONString(e.name)):{\"dtype\":\"\(e.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + e.byteCount)]}")
        offset += e.byteCount
    }
    header += parts.joined(separator: ",") + "}"
    var headerBytes = Array(header.utf8)
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    guard let f = fopen(path, "wb") else {
        throw SafetensorsError(path: path, message: "cannot create: \(String(cString: strerror(errno)))")
    }
    var ok = true
    var n = UInt64(headerBytes.count).littleEndian
    ok = ok && checkedWrite(&n, 8, f, path: path, disk: disk)
    ok = ok && headerBytes.withUnsafeBytes { checkedWrite($0.baseAddress!, headerBytes.count, f, path: path, disk: disk) }
    for e in sorted where ok && e.byteCount > 0 { ok = checkedWrite(e.pointer, e.byteCount, f, path: path, disk: disk) }
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0
    let err = errno
    ok = (fclose(f) == 0) && ok
    if !ok { unlink(path) }
    if !ok { throw SafetensorsError(path: path, message: "write failed: \(String(cString: strerror(err)))") }
}

/// A memory-mapped safetensors file.
public struct SafetensorsFile {
    public struct Tensor { public var dtype: String; public var shape: [Int]; public var range: Range<Int> }
    public let path: String
    public let data: Data
    public let tensors: [String: Tensor]
    public let metadata: [String: String]
    public let bufferStart: Int

    /// Opens and validates `path` (header size, JSON, offsets tiling the buffer, file size).
    public init(path: String) throws {
        self.path = path
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw SafetensorsError(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        guard data.count >= 8 else { throw SafetensorsError(path: path, message: "shorter than its 8-byte header length") }
        let n = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard n <= 100_000_000, 8 + n <= data.count else { throw SafetensorsError(path: path, message: "bad header length \(n)") }
        guard let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any] else {
            throw SafetensorsError(path: path, message: "header is not a JSON object")
        }
        bufferStart = 8 + n
        var tensors: [String: Tensor] = [:], meta: [String: String] = [:]
        for (name, value) in json {
            if name == "__metadata__" { meta = value as? [String: String] ?? [:]; continue }
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String, let shape = d["shape"] as? [Int],
                  let offs = d["data_offsets"] as? [Int], offs.count == 2, offs[0] >= 0, offs[0] <= offs[1],
                  shape.allSatisfy({ $0 >= 0 }) else {
                throw SafetensorsError(path: path, message: "bad entry for tensor \(name)")
            }
            if let size = safetensorsElementSize[dtype] {
                let (count, overflow) = shape.reduce((1, false)) { a, n in
                    let m = a.0.multipliedReportingOverflow(by: n)
                    return (m.partialValue, a.1 || m.overflow)
                }
                let bytes = count.multipliedReportingOverflow(by: size)
                guard !overflow, !bytes.overflow, bytes.partialValue == offs[1] - offs[0] else {
                    throw SafetensorsError(path: path, message: "tensor \(name): data_offsets \(offs) span \(offs[1] - offs[0]) bytes but \(dtype)\(shape) needs \(overflow || bytes.overflow ? "more" : String(bytes.partialValue))")
                }
            }
            tensors[name] = Tensor(dtype: dtype, shape: shape, range: offs[0]..<offs[1])
        }
        var end = 0
        for t in tensors.values.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            guard t.range.lowerBound == end else { throw SafetensorsError(path: path, message: "tensor data has holes or overlaps") }
            end = t.range.upperBound
        }
        guard bufferStart + end == data.count else {
            throw SafetensorsError(path: path, message: "file size \(data.count) does not match the header (\(bufferStart + end))")
        }
        self.tensors = tensors
        metadata = meta
    }

    /// Copies tensor `name`, stored as F32, BF16 or F16, into `destination` as Float (exact: every
    /// bfloat16 and float16 value, subnormals included, is a float32 value). Checked: the shape, the
    /// dtype, and that every value is finite.
    public func copyFloat32(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        guard let t = tensors[name] else { throw SafetensorsError(path: path, message: "missing tensor \(name)") }
        guard t.shape == shape else {
            throw SafetensorsError(path: path, message: "tensor \(name) has shape \(t.shape), expected \(shape)")
        }
        let n = shape.reduce(1, *)
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + bufferStart + t.range.lowerBound
            switch t.dtype {
            case "F32":
                UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: n * 4)
            case "BF16":
                for i in 0..<n {
                    let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    destination[i] = BFloat16.decode(bits)
                }
            case "F16":
                for i in 0..<n {
                    let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    destination[i] = float32(half: bits)
                }
            default: break
            }
        }
        guard ["F32", "BF16", "F16"].contains(t.dtype) else {
            throw SafetensorsError(path: path, message: "tensor \(name) is \(t.dtype); only F32, BF16 and F16 weights are read")
        }
        if let bad = (0..<n).first(where: { !destination[$0].isFinite }) {
            throw SafetensorsError(path: path, message: "tensor \(name) holds \(destination[bad]) at element \(bad)")
        }
    }

    /// Copies tensor `name` into `destination` (checked: dtype, shape).
    public func copy(_ name: String, dtype: String, shape: [Int], into destination: UnsafeMutableRawPointer) throws {
        guard let t = tensors[name] else { throw SafetensorsError(path: path, message: "missing tensor \(name)") }
        guard t.dtype == dtype, t.shape == shape else {
            throw SafetensorsError(path: path, message: "tensor \(name) is \(t.dtype)\(t.shape), expected \(dtype)\(shape) (a checkpoint from another config?)")
        }
        data.withUnsafeBytes { raw in
            destination.copyMemory(from: raw.baseAddress! + bufferStart + t.range.lowerBound, byteCount: t.range.count)
        }
    }
}

/// Bytes per element of the safetensors dtypes (the reader checks each entry's span against its shape).
let safetensorsElementSize: [String: Int] = [
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8,
]

/// The float32 value of IEEE binary16 `h` (exact; NaNs stay NaNs).
func float32(half h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31, exponent = Int(h >> 10) & 0x1F, mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:   // zero or subnormal: mantissa · 2^-24
        return Float(bitPattern: sign) + (sign != 0 ? -1 : 1) * Float(mantissa) * 0x1p-24
    case 31:  // infinity or NaN
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}
