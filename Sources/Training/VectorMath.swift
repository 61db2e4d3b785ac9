// Vectorized row kernels for the Float hot loops that BLAS does not cover: the output head's softmax
// (one exp per logit of a (4096, 32768) block twice a step) and SwiGLU's sigmoid. Double keeps plain
// scalar libm code, so the Float64 gradient checks stay exact.
// Policy: results depend only on the row (lanes are summed in a fixed order), never on the thread count.
// Accuracy: `expVector` is a degree-6 polynomial on [−ln2/2, ln2/2] after n·ln2 range reduction, within
// 2 ulp of expf for x in [−87, 88] (the test sweeps that range); below −87 it returns 0, above 88 +inf.
// Performance notes (small at vocab 32768, tools/bench-train): the scalar max / expf / scale loops of the
// head were 17% of a step (13.5% in the loop bodies, 4.2% in expf); sixteen lanes at a time cut that to
// a few percent.
import Foundation

typealias Lanes = SIMD16<Float>

/// e^x lane by lane (see the file header for range and accuracy).
/// - Complexity: O(1), about 20 vector operations.
@inline(__always)
func expVector(_ x: Lanes) -> Lanes {
    let log2e: Float = 1.442_695_04, ln2Hi: Float = 0.693_359_375, ln2Lo: Float = -2.121_944_4e-4
    let magic: Float = 12_582_912   // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
    // subtle: `clamped` and `pointwiseMin/Max` compile to calls per vector here; comparisons with
    // `replace(with:where:)` compile to a few SSE instructions (in a micro-benchmark: 5 → 1.5 ns per element).
    let low = Lanes(repeating: -87.3), high = Lanes(repeating: 88.7)
    var clamped = x
    clamped.replace(with: low, where: x .< low)
    clamped.replace(with: high, where: x .> high)
    let shifted = clamped * log2e + magic
    let n = shifted - magic
    let r = (clamped - n * ln2Hi) - n * ln2Lo
    // e^r, |r| ≤ ln2/2: Taylor-like coefficients refined for float (Cephes expf).
    var p = Lanes(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * (r * r) + r + 1
    // 2^n from the integer in `shifted`'s low bits: exponent field n + 127.
    let bits = unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &- unsafeBitCast(Lanes(repeating: magic), to: SIMD16<UInt32>.self)
    let scale = unsafeBitCast((bits &+ 127) &<< 23, to: Lanes.self)
    var result = p * scale
    result.replace(with: 0, where: x .< low)
    result.replace(with: .infinity, where: x .> high)
    return result
}

@inline(__always) func loadLanes(_ p: UnsafePointer<Float>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
@inline(__always) func storeLanes(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self) }

extension Float {
    /// row[j] = e^(row[j] − max) in place; returns the max and the sum of the new values.
    /// - Complexity: O(n), two passes.
    public static func expShiftedInPlace(_ row: UnsafeMutablePointer<Float>, count n: Int) -> (max: Float, sum: Float) {
        let whole = n - n % Lanes.scalarCount
        var mx = -Float.infinity
        if whole > 0 {
            var m = loadLanes(row)
            var j = Lanes.scalarCount
            while j < whole { let v = loadLanes(row + j); m.replace(with: v, where: v .> m); j += Lanes.scalarCount }
            mx = m.max()
        }
        for j in whole..<n { mx = Swift.max(mx, row[j]) }
        var acc = Lanes.zero
        let shift = Lanes(repeating: mx)
        var j = 0
        while j < whole {
            let e = expVector(loadLanes(row + j) - shift)
            storeLanes(e, row + j)
            acc += e
            j += Lanes.scalarCount
        }
        var sum = acc.sum()
        for j in whole..<n { let e = Foundation.exp(row[j] - mx); row[j] = e; sum += e }
        return (mx, sum)
    }

    /// row[j] *= s.
    /// - Complexity: O(n).
    public static func scaleInPlace(_ row: UnsafeMutablePointer<Float>, count n: Int, by s: Float) {
        let whole = n - n % Lanes.scalarCount
        var j = 0
        while j < whole { storeLanes(loadLanes(row + j) * s, row + j); j += Lanes.scalarCount }
        for j in whole..<n { row[j] *= s }
    }
}

extension Double {
    /// Scalar reference of `Float.expShiftedInPlace` (libm exp, sequential sum).
    public static func expShiftedInPlace(_ row: UnsafeMutablePointer<Double>, count n: Int) -> (max: Double, sum: Double) {
        var mx = row[0]
        for j in 1..<n { mx = Swift.max(mx, row[j]) }
        var sum = 0.0
        for j in 0..<n { let e = Foundation.exp(row[j] - mx); row[j] = e; sum += e }
        return (mx, sum)
    }

    public static func scaleInPlace(_ row: UnsafeMutablePointer<Double>, count n: Int, by s: Double) {
        for j in 0..<n { row[j] *= s }
    }
}

extension Float {
    /// o = silu(g)·u, sixteen lanes at a time.
    /// - Complexity: O(n).
    public static func swigluForwardRow(_ o: UnsafeMutablePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>,
                                        count n: Int) {
        let whole = n - n % Lanes.scalarCount
        var i = 0
        while i < whole {
            let x = loadLanes(g + i)
            let sig = 1 / (1 + expVector(-x))
            storeLanes(x * sig * loadLanes(u + i), o + i)
            i += Lanes.scalarCount
        }
        for i in whole..<n { let x = g[i]; o[i] = x * sigmoid(x) * u[i] }
    }

    /// dg += dh·u·σ(1 + g(1 − σ)), du += dh·g·σ, sixteen lanes at a time.
    /// - Complexity: O(n).
    public static func swigluBackwardRow(dGate dg: UnsafeMutablePointer<Float>, dUp du: UnsafeMutablePointer<Float>,
                                         dh: UnsafePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>, count n: Int) {
        let whole = n - n % Lanes.scalarCount
        var i = 0
        while i < whole {
            let x = loadLanes(g + i), d = loadLanes(dh + i)
            let sig = 1 / (1 + expVector(-x))
            storeLanes(loadLanes(dg + i) + d * loadLanes(u + i) * sig * (1 + x * (1 - sig)), dg + i)
            storeLanes(loadLanes(du + i) + d * x * sig, du + i)
            i += Lanes.scalarCount
        }
        for i in whole..<n {
            let x = g[i], sig = sigmoid(x)
            dg[i] += dh[i] * u[i] * sig * (1 + x * (1 - sig))
            du[i] += dh[i] * x * sig
        }
    }
}

extension Double {
    /// Scalar reference of `Float.swigluForwardRow` (libm exp).
    public static func swigluForwardRow(_ o: UnsafeMutablePointer<Double>, gate g: UnsafePointer<Double>, up u: UnsafePointer<Double>,
                                        count n: Int) {
        for i in 0..<n { let x = g[i]; o[i] = x * sigmoid(x) * u[i] }
    }

    /// Scalar reference of `Float.swigluBackwardRow`.
    public static func swigluBackwardRow(dGate dg: UnsafeMutablePointer<Double>, dUp du: UnsafeMutablePointer<Double>,
                                         dh: UnsafePointer<Double>, gate g: UnsafePointer<Double>, up u: UnsafePointer<Double>, count n: Int) {
        for i in 0..<n {
            let x = g[i], s = sigmoid(x)
            dg[i] += dh[i] * u[i] * s * (1 + x * (1 - s))
            du[i] += dh[i] * x * s
        }
    }
}
