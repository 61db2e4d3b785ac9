// The narrow floating-point formats of DeepSeek-V3's mixed-precision training (§3.3 of the report):
// FP8 E4M3 (the `fn` variant: no infinities, one NaN code per sign, max 448), FP8 E5M2 (IEEE-like:
// infinities, max 57344) and bfloat16, converted from and to Float.
//
// Policy: conversion from Float rounds to nearest, ties to even, in every range (normal and subnormal).
// Out of range: E4M3 saturates to ±448 (infinities too), as PyTorch 2.13's `x.to(torch.float8_e4m3fn)`
// does on CPU (E4M3fn has no infinity; the format's NaN code is kept for NaN inputs, with their sign).
// E5M2 with `saturate: false` overflows to ±infinity as `x.to(torch.float8_e5m2)` does, and with
// `saturate: true` gives ±57344 as `x.clamp(-57344, 57344).to(…)` does (DeepSeek-V3 scales tiles so the
// max-abs maps to the format's max, so saturation only catches rounding). bfloat16 has Float's range;
// every NaN becomes 0xFFFF, the bits PyTorch 2.13's CPU tensor cast gives (its scalar c10 code gives
// 0x7FC0). `tools/check-float-formats` compares every code and millions of Float inputs (halfway cases,
// subnormals, ±0, ±inf, NaN, values past the range) with PyTorch bit for bit.
// Cost: a few integer operations per element. The trainer does not convert through these: its tiles go
// through the C kernel `tm_e4m3_quantize` (FP8Linear.swift's `fp8Quantize`), which FP8TrainingTests
// checks code for code against `encode`, and its dequantization reads a table `decode` fills.

/// One of the 8-bit float formats: `exponentBits` + `mantissaBits` = 7, plus a sign bit.
public enum FP8Format: String, Sendable, CaseIterable {
    case e4m3 = "e4m3"   // torch.float8_e4m3fn
    case e5m2 = "e5m2"   // torch.float8_e5m2

    public var exponentBits: UInt32 { self == .e4m3 ? 4 : 5 }
    public var mantissaBits: UInt32 { self == .e4m3 ? 3 : 2 }
    public var bias: Int { self == .e4m3 ? 7 : 15 }
    /// The largest finite magnitude: 448 (E4M3) or 57344 (E5M2).
    public var maxFinite: Float { self == .e4m3 ? 448 : 57_344 }
    /// The code (sign bit clear) of the largest finite value: 0x7E or 0x7B.
    public var maxFiniteCode: UInt8 { self == .e4m3 ? 0x7E : 0x7B }
    /// The code an overflow gives without saturation: E4M3 always saturates; E5M2 gives infinity (0x7C).
    var overflowCode: UInt8 { self == .e4m3 ? 0x7E : 0x7C }
    /// The NaN code (sign bit clear); the sign bit of a NaN input is kept, as PyTorch does.
    var nanCode: UInt8 { 0x7F }

    /// The code of `x`, rounded to nearest even; past the range E4M3 gives ±448 and E5M2 ±infinity, or
    /// ±57344 with `saturate`.
    /// - Complexity: O(1).
    @inline(__always)
    public func encode(_ x: Float, saturate: Bool) -> UInt8 {
        let bits = x.bitPattern
        let sign = UInt8(truncatingIfNeeded: bits >> 24) & 0x80
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude > 0x7F80_0000 { return sign | nanCode }
        if magnitude == 0x7F80_0000 { return sign | (saturate ? maxFiniteCode : overflowCode) }
        let m = mantissaBits
        // Below the smallest normal 2^(1-bias): count in units of the smallest subnormal 2^(1-bias-m).
        // Scaling by a power of two is exact, so Float's own rounding gives ties-to-even; a result of
        // 2^m is the smallest normal's code, as the encoding runs on.
        let minNormalExponent = UInt32(127 + 1 - bias)   // Float's biased exponent of 2^(1-bias)
        var code: UInt32
        if magnitude < minNormalExponent << 23 {
            let units = Float(bitPattern: magnitude) * Float(sign: .plus, exponent: bias - 1 + Int(m), significand: 1)
            code = UInt32(units.rounded(.toNearestOrEven))
        } else {
            // Round the 23-bit mantissa to m bits: add half an ulp minus one, plus the kept bit's parity.
            let shift = 23 - m
            let rounded = magnitude + (1 << (shift - 1)) - 1 + ((magnitude >> shift) & 1)
            code = (rounded >> shift) - (UInt32(127 - bias) << m)
        }
        if code > UInt32(maxFiniteCode) { return sign | (saturate ? maxFiniteCode : overflowCode) }
        return sign | UInt8(code)
    }

    /// The value of `code` (NaN codes give a NaN, E5M2's 0x7C/0xFC give ±infinity).
    /// - Complexity: O(1).
    @inline(__always)
    public func decode(_ code: UInt8) -> Float {
        let negative = code & 0x80 != 0
        let magnitude = UInt32(code & 0x7F)
        let m = mantissaBits
        let exponent = magnitude >> m, mantissa = magnitude & ((1 << m) - 1)
        let top = (UInt32(1) << exponentBits) - 1
        var value: Float
        switch self {
        case .e4m3 where magnitude == 0x7F: value = .nan
        case .e5m2 where exponent == top: value = mantissa == 0 ? .infinity : .nan
        default:
            if exponent == 0 {
                value = Float(mantissa) * Float(sign: .plus, exponent: 1 - bias - Int(m), significand: 1)
            } else {
                value = Float(bitPattern: (exponent + UInt32(127 - bias)) << 23 | mantissa << (23 - m))
            }
        }
        return negative ? -value : value
    }

    /// Encodes `count` floats, each divided by `scale` first (DeepSeek-V3's tile scaling: scale = amax / max).
    public func encode(_ x: UnsafePointer<Float>, count: Int, scale: Float, saturate: Bool, into codes: UnsafeMutablePointer<UInt8>) {
        let inverse = 1 / scale
        for i in 0 ..< count { codes[i] = encode(x[i] * inverse, saturate: saturate) }
    }

    /// Decodes `count` codes, each multiplied by `scale`.
    public func decode(_ codes: UnsafePointer<UInt8>, count: Int, scale: Float, into x: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { x[i] = decode(codes[i]) * scale }
    }
}

/// bfloat16: Float's sign and exponent with 7 mantissa bits.
public enum BFloat16 {
    /// The bits of `x` rounded to nearest even; every NaN becomes 0xFFFF (as PyTorch 2.13's CPU cast).
    @inline(__always)
    public static func encode(_ x: Float) -> UInt16 {
        if x.isNaN { return 0xFFFF }
        let bits = x.bitPattern
        return UInt16(truncatingIfNeeded: (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16)
    }

    /// The Float with these bits (exact).
    @inline(__always)
    public static func decode(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
