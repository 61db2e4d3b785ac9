// The narrow float formats against their definitions (OCP FP8 E4M3fn/E5M2, bfloat16): every code's value
// from sign/exponent/mantissa, encode∘decode is the identity on finite codes, and rounding, ties,
// subnormals and range ends at the points the formats define. tools/check-float-formats compares the
// same conversions with PyTorch on millions of inputs.
import Testing
import Training
import CorpusIO

@Suite struct FloatFormatTests {
    /// Every code's value, computed independently from the bit fields in Double.
    @Test(arguments: FP8Format.allCases)
    func everyCodeDecodesToItsDefinition(format: FP8Format) {
        let m = Int(format.mantissaBits), e = Int(format.exponentBits)
        for code in 0 ... 255 {
            let sign = code & 0x80 != 0 ? -1.0 : 1.0
            let exponent = (code & 0x7F) >> m, mantissa = code & ((1 << m) - 1)
            let value = Float(format.decode(UInt8(code)))
            let isNaN = format == .e4m3 ? (code & 0x7F) == 0x7F : exponent == (1 << e) - 1 && mantissa != 0
            let isInf = format == .e5m2 && exponent == (1 << e) - 1 && mantissa == 0
            if isNaN { #expect(value.isNaN, "\(format) \(code)"); continue }
            if isInf { #expect(value == Float(sign) * .infinity, "\(format) \(code)"); continue }
            let expected = exponent == 0
                ? sign * Double(mantissa) * pow2(1 - format.bias - m)
                : sign * (1 + Double(mantissa) / Double(1 << m)) * pow2(exponent - format.bias)
            #expect(Double(value) == expected, "\(format) code \(code)")
            // Round trip (−0 keeps its sign).
            #expect(format.encode(value, saturate: false) == UInt8(code), "\(format) code \(code) re-encodes")
        }
        #expect(format.decode(format.maxFiniteCode) == format.maxFinite)
    }

    /// Ties go to the even code; just above a tie goes up; subnormal ties too.
    @Test func roundsToNearestEven() {
        let e4 = FP8Format.e4m3
        // Between 1 (code 0x38, mantissa 000) and 1.125 (0x39): the tie 1.0625 goes down to even 1.
        #expect(e4.encode(1.0625, saturate: false) == 0x38)
        #expect(e4.encode(Float(1.0625).nextUp, saturate: false) == 0x39)
        // Between 1.125 (odd) and 1.25 (even): the tie 1.1875 goes up.
        #expect(e4.encode(1.1875, saturate: false) == 0x3A)
        // Subnormals: units of 2^-9; 0.5 unit is a tie to 0, 1.5 units to 2, 2.5 units to 2.
        #expect(e4.encode(pow2f(-10), saturate: false) == 0x00)
        #expect(e4.encode(3 * pow2f(-10), saturate: false) == 0x02)
        #expect(e4.encode(5 * pow2f(-10), saturate: false) == 0x02)
        #expect(e4.encode(-pow2f(-9), saturate: false) == 0x81)
        // The largest subnormal rounds up into the smallest normal 2^-6 (code 0x08).
        #expect(e4.encode(7.5 * pow2f(-9), saturate: false) == 0x08)
        // Past the range: 464 is a tie between 448 (even) and 480 (not a value): 448; E4M3 saturates.
        #expect(e4.encode(464, saturate: false) == 0x7E)
        #expect(e4.encode(1e30, saturate: false) == 0x7E && e4.encode(-.infinity, saturate: false) == 0xFE)
        #expect(e4.encode(.nan, saturate: true) == 0x7F && e4.encode(-Float.nan, saturate: true) == 0xFF)
        let e5 = FP8Format.e5m2
        // 61440 is the tie between 57344 (odd mantissa 11) and 65536: up, to infinity, unless saturating.
        #expect(e5.encode(61_440, saturate: false) == 0x7C && e5.encode(61_439, saturate: false) == 0x7B)
        #expect(e5.encode(61_440, saturate: true) == 0x7B && e5.encode(-.infinity, saturate: true) == 0xFB)
        #expect(e5.encode(.infinity, saturate: false) == 0x7C)
    }

    @Test func bfloat16RoundsToNearestEven() {
        #expect(BFloat16.encode(1) == 0x3F80)
        #expect(BFloat16.encode(Float(bitPattern: 0x3F80_8000)) == 0x3F80)   // tie, even stays
        #expect(BFloat16.encode(Float(bitPattern: 0x3F81_8000)) == 0x3F82)   // tie, odd rounds up
        #expect(BFloat16.encode(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(BFloat16.encode(Float(bitPattern: 0x7F7F_FFFF)) == 0x7F80)   // the largest Float rounds to inf
        #expect(BFloat16.encode(.nan) == 0xFFFF)
        var rng = SplitMix64(seed: 7)
        for _ in 0 ..< 10_000 {  // decode∘encode is the identity on bf16 values
            let bits = UInt16.random(in: 0 ... .max, using: &rng)
            let x = BFloat16.decode(bits)
            if !x.isNaN { #expect(BFloat16.encode(x) == bits) }
        }
    }

    /// Tile scaling: codes of x/scale, decoded times scale, stay within half an ulp of the format.
    @Test func scaledTilesRoundTripWithinHalfAnUlp() {
        var rng = SplitMix64(seed: 11)
        let x = (0 ..< 128).map { _ in Float.random(in: -3 ... 3, using: &rng) }
        let amax = x.map(abs).max()!
        let scale = amax / FP8Format.e4m3.maxFinite
        var codes = [UInt8](repeating: 0, count: 128), back = [Float](repeating: 0, count: 128)
        FP8Format.e4m3.encode(x, count: 128, scale: scale, saturate: true, into: &codes)
        FP8Format.e4m3.decode(codes, count: 128, scale: scale, into: &back)
        for (a, b) in zip(x, back) {
            // Relative half-ulp of 3 mantissa bits is 2^-4 for normals; subnormals have an absolute bound.
            #expect(abs(a - b) <= max(abs(a) * 0.0625, scale * pow2f(-10)) * 1.0001, "\(a) → \(b)")
        }
        #expect(codes.contains { $0 & 0x7F == 0x7E })   // the max-abs element maps to ±448
    }
}

private func pow2(_ n: Int) -> Double { Double(sign: .plus, exponent: n, significand: 1) }
private func pow2f(_ n: Int) -> Float { Float(sign: .plus, exponent: n, significand: 1) }
