// RoPE on interleaved pairs, as DeepSeek-V3's inference code and transformers' `rope_interleave=True`:
// the pair (x[2i], x[2i+1]) at position t turns by angle t·θ_i, θ_i = base^(−2i/D).
// subtle: transformers de-interleaves while rotating (its output puts pair i at i and i+D/2). q and k
// get the same permutation, so attention scores, and everything after them, are identical to ours.
// Shapes: rows (N = B·T, position t = positions[n], or n mod T without `positions`), `heads` vectors of
// D per row at `headStride`, the table (T, D/2) of cos and of sin. Packed rows restart positions at 0
// at every segment start.
import Foundation

/// Fills cos/sin tables (T, D/2) for positions 0..<T.
func ropeTables<S: TrainingScalar>(_ cosT: UnsafeMutablePointer<S>, _ sinT: UnsafeMutablePointer<S>,
                                   T: Int, D: Int, base: Double) {
    for t in 0..<T {
        for i in 0..<D / 2 {
            let theta = Double(t) * pow(base, -Double(2 * i) / Double(D))
            cosT[t * D / 2 + i] = S(cos(theta))
            sinT[t * D / 2 + i] = S(sin(theta))
        }
    }
}

/// out = rotate(inp); in place when out == inp.
/// - Complexity: O(N·heads·D), rows in parallel.
func ropeForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, outStride: Int,
                                    _ inp: UnsafePointer<S>, inStride: Int, heads: Int, headStride: Int,
                                    _ cosT: UnsafePointer<S>, _ sinT: UnsafePointer<S>, N: Int, T: Int, D: Int,
                                    positions: UnsafePointer<Int32>? = nil) {
    rope(out, outStride, inp, inStride, heads, headStride, cosT, sinT, N, T, D, positions, sign: 1)
}

/// dInp = rotate⁻¹(dOut) (assignment, not accumulation; in place when dInp == dOut).
/// - Complexity: O(N·heads·D).
func ropeBackward<S: TrainingScalar>(_ dInp: UnsafeMutablePointer<S>, dInStride: Int,
                                     _ dOut: UnsafePointer<S>, dOutStride: Int, heads: Int, headStride: Int,
                                     _ cosT: UnsafePointer<S>, _ sinT: UnsafePointer<S>, N: Int, T: Int, D: Int,
                                     positions: UnsafePointer<Int32>? = nil) {
    rope(dInp, dInStride, dOut, dOutStride, heads, headStride, cosT, sinT, N, T, D, positions, sign: -1)
}

@inline(__always)
private func rope<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ outStride: Int,
                                     _ inp: UnsafePointer<S>, _ inStride: Int, _ heads: Int, _ headStride: Int,
                                     _ cosT: UnsafePointer<S>, _ sinT: UnsafePointer<S>, _ N: Int, _ T: Int, _ D: Int,
                                     _ positions: UnsafePointer<Int32>?, sign: S) {
    let o = SendablePointer(out), i = SendablePointer(UnsafeMutablePointer(mutating: inp))
    let pos = positions.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    let c = SendablePointer(UnsafeMutablePointer(mutating: cosT)), s = SendablePointer(UnsafeMutablePointer(mutating: sinT))
    parallelFor(N, work: heads * D) { rows in
        for n in rows {
            let t = pos.map { Int($0.p[n]) } ?? n % T
            for h in 0..<heads {
                let x = i.p + n * inStride + h * headStride, y = o.p + n * outStride + h * headStride
                for k in 0..<D / 2 {
                    let cs = c.p[t * D / 2 + k], sn = sign * s.p[t * D / 2 + k]
                    let a = x[2 * k], b = x[2 * k + 1]
                    y[2 * k] = a * cs - b * sn
                    y[2 * k + 1] = a * sn + b * cs
                }
            }
        }
    }
}
