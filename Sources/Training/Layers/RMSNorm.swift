// RMSNorm: y = x / sqrt(mean(x²) + eps) · weight, as transformers' DeepseekV3RMSNorm (statistics in the
// working precision; eps 1e-6). Forward caches the reciprocal RMS per row for backward.
// Shapes: inp (N, C) with row stride `inStride` (≥ C; lets the kv latent be normed in place of a slice),
// weight (C), out (N, C) contiguous, rstd (N).

/// out = rmsnorm(inp) · weight; rstd[n] = 1/sqrt(mean(inp[n]²) + eps).
/// - Complexity: O(N·C), rows in parallel.
func rmsnormForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ rstd: UnsafeMutablePointer<S>,
                                       _ inp: UnsafePointer<S>, inStride: Int, _ weight: UnsafePointer<S>,
                                       N: Int, C: Int, eps: S) {
    let o = SendablePointer(out), r = SendablePointer(rstd)
    let i = SendablePointer(UnsafeMutablePointer(mutating: inp)), w = SendablePointer(UnsafeMutablePointer(mutating: weight))
    parallelFor(N, work: C) { rows in
        for n in rows {
            let x = i.p + n * inStride, y = o.p + n * C
            var ss: S = 0
            for c in 0..<C { ss += x[c] * x[c] }
            let s = 1 / (ss / S(C) + eps).squareRoot()
            r.p[n] = s
            for c in 0..<C { y[c] = x[c] * s * w.p[c] }
        }
    }
}

/// dInp += d(rmsnorm)/d(inp)ᵀ · dOut; dWeight += Σ_n dOut[n] · x̂[n].
/// With x̂ = x·rstd and g = dOut·weight: dx = rstd·(g − x̂·mean(g·x̂)).
/// - Complexity: O(N·C); dInp rows in parallel, dWeight serial (fixed summation order).
func rmsnormBackward<S: TrainingScalar>(_ dInp: UnsafeMutablePointer<S>, dInStride: Int,
                                        _ dWeight: UnsafeMutablePointer<S>, _ dOut: UnsafePointer<S>,
                                        _ inp: UnsafePointer<S>, inStride: Int, _ weight: UnsafePointer<S>,
                                        _ rstd: UnsafePointer<S>, N: Int, C: Int) {
    for n in 0..<N {
        let x = inp + n * inStride, d = dOut + n * C, s = rstd[n]
        for c in 0..<C { dWeight[c] += d[c] * x[c] * s }
    }
    let di = SendablePointer(dInp), dd = SendablePointer(UnsafeMutablePointer(mutating: dOut))
    let i = SendablePointer(UnsafeMutablePointer(mutating: inp)), w = SendablePointer(UnsafeMutablePointer(mutating: weight))
    let r = SendablePointer(UnsafeMutablePointer(mutating: rstd))
    parallelFor(N, work: C) { rows in
        for n in rows {
            let x = i.p + n * inStride, d = dd.p + n * C, dx = di.p + n * dInStride, s = r.p[n]
            var dot: S = 0
            for c in 0..<C { dot += d[c] * w.p[c] * x[c] * s }
            let mean = dot / S(C)
            for c in 0..<C { dx[c] += s * (d[c] * w.p[c] - x[c] * s * mean) }
        }
    }
}
