// GPT-2's bytes_to_unicode: every byte gets a printable character so that byte strings can be stored as
// JSON strings in vocab.json, merges.txt and tokenizer.json.
// Table: bytes 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF map to the same code point; the other 68 bytes, in
// ascending order (0x00–0x20, 0x7F–0xA0, 0xAD), map to U+0100 + k. So 0x20 → "Ġ" (U+0120),
// 0x0A → "Ċ" (U+010A).

/// The byte ↔ character tables of byte-level BPE.
public enum ByteLevel {
    /// byte → its character (scalar value).
    public static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var k: UInt32 = 0
        for b in 0 ..< 256 {
            if (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = 0x100 + k
                k += 1
            }
        }
        return table
    }()

    /// scalar value → byte, or -1 for characters outside the table (index up to 0x143).
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in byteToScalar.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// The 256 bytes in the order of their characters' code points (HF trainer's alphabet order).
    public static let alphabetOrder: [UInt8] = (0 ..< 256).map { UInt8($0) }.sorted { byteToScalar[Int($0)] < byteToScalar[Int($1)] }

    /// The byte-level string of `bytes`.
    public static func encode<C: Sequence>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(s)
    }

    /// The bytes of a byte-level string, or nil when a character is outside the table.
    public static func decode(_ string: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(string.unicodeScalars.count)
        for s in string.unicodeScalars {
            let v = Int(s.value)
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            out.append(UInt8(scalarToByte[v]))
        }
        return out
    }

    /// The bytes of a token string as HF's ByteLevel decoder gives them: table characters become their
    /// byte, any other character contributes its own UTF-8.
    public static func decodeLenient(_ string: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in string.unicodeScalars {
            let v = Int(s.value)
            if v < scalarToByte.count, scalarToByte[v] >= 0 { out.append(UInt8(scalarToByte[v])) }
            else { out.append(contentsOf: Array(String(s).utf8)) }
        }
        return out
    }
}
