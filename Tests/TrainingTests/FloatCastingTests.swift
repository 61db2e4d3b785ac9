// Whole-array casts (`encodeFloat32Array` / `decodeFloat32Array`, what `tokenmill cast` writes) agree
// with the scalar conversions value by value, and refuse arrays of a partial value.
import Testing
import CorpusIO
import Training

@Suite struct FloatCastingTests {
    @Test(arguments: NarrowFormat.allCases)
    func arraysMatchTheScalarConversions(_ format: NarrowFormat) throws {
        let seed: UInt64 = 0x5eed_0019
        var rng = SplitMix64(seed: seed)
        let values: [Float] = (0..<2000).map { _ in Float(rng.normal()) * 300 } + [0, -0, 1e-9, 448, 500, 60_000, -1e6, .infinity]
        let bytes = values.flatMap { v -> [UInt8] in let b = v.bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)] }
        for saturate in [false, true] {
            let codes = try encodeFloat32Array(bytes, to: format, saturate: saturate)
            #expect(codes.count == values.count * format.codeSize, "seed \(seed)")
            let back = try decodeFloat32Array(codes, from: format)
            for (i, v) in values.enumerated() {
                let expected: Float
                switch format {
                case .bf16:
                    let code = BFloat16.encode(v)
                    #expect(UInt16(codes[2 * i]) | UInt16(codes[2 * i + 1]) << 8 == code, "value \(v), seed \(seed)")
                    expected = BFloat16.decode(code)
                case .e4m3, .e5m2:
                    let f = FP8Format(rawValue: format.rawValue)!
                    #expect(codes[i] == f.encode(v, saturate: saturate), "value \(v), seed \(seed)")
                    expected = f.decode(f.encode(v, saturate: saturate))
                }
                let got = Float(bitPattern: UInt32(back[4 * i]) | UInt32(back[4 * i + 1]) << 8 | UInt32(back[4 * i + 2]) << 16 | UInt32(back[4 * i + 3]) << 24)
                #expect(got.bitPattern == expected.bitPattern || (got.isNaN && expected.isNaN), "value \(v), seed \(seed)")
            }
        }
    }

    @Test func partialValuesAreRefused() {
        #expect(throws: FloatCastError(byteCount: 6, unit: "float32 values")) { try encodeFloat32Array([UInt8](repeating: 0, count: 6), to: .e4m3, saturate: false) }
        #expect(throws: FloatCastError(byteCount: 3, unit: "bf16 codes")) { try decodeFloat32Array([1, 2, 3], from: .bf16) }
        #expect("\(FloatCastError(byteCount: 6, unit: "float32 values"))" == "6 bytes is not a whole number of float32 values")
    }
}
