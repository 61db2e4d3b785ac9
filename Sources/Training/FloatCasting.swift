// Whole arrays through the narrow formats of FloatFormats.swift: raw little-endian float32 bytes to
// bf16 / e4m3 / e5m2 codes and codes back to float32 bytes, as `tokenmill cast` (hidden) writes them for
// tools/check-float-formats, which compares them with PyTorch's casts bit for bit.
// Cost: one pass over the bytes; the output is allocated once.

/// A narrow format of a raw array: `bf16` (2 bytes a code) or an FP8 format (1 byte).
public enum NarrowFormat: String, Sendable, CaseIterable {
    case e4m3, e5m2, bf16

    /// Bytes per code.
    public var codeSize: Int { self == .bf16 ? 2 : 1 }
}

/// A raw array whose length is not a whole number of values.
public struct FloatCastError: Error, CustomStringConvertible, Sendable, Equatable {
    public var byteCount: Int
    /// "float32 values" or "bf16 codes".
    public var unit: String
    public init(byteCount: Int, unit: String) { self.byteCount = byteCount; self.unit = unit }
    public var description: String { "\(byteCount) bytes is not a whole number of \(unit)" }
}

/// Little-endian float32 `bytes` as `format` codes (little-endian for bf16); `saturate` clamps FP8
/// values past the format's range to its largest finite value (bf16 rounds to nearest even).
/// - Complexity: O(n).
public func encodeFloat32Array(_ bytes: [UInt8], to format: NarrowFormat, saturate: Bool) throws(FloatCastError) -> [UInt8] {
    guard bytes.count % 4 == 0 else { throw FloatCastError(byteCount: bytes.count, unit: "float32 values") }
    var out = [UInt8]()
    out.reserveCapacity(bytes.count / 4 * format.codeSize)
    for i in stride(from: 0, to: bytes.count, by: 4) {
        let x = Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        switch format {
        case .bf16:
            let code = BFloat16.encode(x)
            out += [UInt8(code & 0xFF), UInt8(code >> 8)]
        case .e4m3, .e5m2:
            out.append(FP8Format(rawValue: format.rawValue)!.encode(x, saturate: saturate))
        }
    }
    return out
}

/// `format` codes as little-endian float32 bytes.
/// - Complexity: O(n).
public func decodeFloat32Array(_ codes: [UInt8], from format: NarrowFormat) throws(FloatCastError) -> [UInt8] {
    guard codes.count % format.codeSize == 0 else { throw FloatCastError(byteCount: codes.count, unit: "bf16 codes") }
    var out = [UInt8]()
    out.reserveCapacity(codes.count / format.codeSize * 4)
    for i in stride(from: 0, to: codes.count, by: format.codeSize) {
        let x = format == .bf16 ? BFloat16.decode(UInt16(codes[i]) | UInt16(codes[i + 1]) << 8) : FP8Format(rawValue: format.rawValue)!.decode(codes[i])
        let v = x.bitPattern
        out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
    }
    return out
}
