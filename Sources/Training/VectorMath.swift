// The Float row kernels for the hot loops that BLAS does not cover: the output head's softmax (one exp
// per logit of a (4096, 32768) block twice a step), the attention rows' softmax, SwiGLU's sigmoid and
// the AdamW update.
// They call the C target `CKernels`, which holds each kernel for baseline x86-64 and for AVX2+FMA and
// picks by the CPU (see its kernels.c for the exp's range and accuracy: within 2 ulp of expf on
// [−87.3, 88.7], 0 below, +inf above). Double keeps plain scalar libm code, so the Float64 gradient
// checks stay exact.
// Policy: results depend only on the row (lanes are summed in a fixed order), never on the thread count;
// they do depend on the CPU's variant (FMA rounds once), like OpenBLAS's kernels.
// Performance notes (small at vocab 32768, tools/bench-train): the scalar max / expf / scale loops of the
// head were 17% of a step; sixteen Swift SIMD lanes (which Swift compiles to baseline SSE) cut that to
// 6.3% of a profile's samples with the attention's rows and SwiGLU; the AVX2+FMA C kernels 3.5%.
import CKernels
import Foundation

/// Which variant of the C kernels the trainer runs: -1 picks by the CPU (the tests call the C functions
/// with 0 and 1 directly).
let kernelVariant: Int32 = -1

extension Float {
    /// row[j] = e^(row[j] − max) in place; returns the max and the sum.
    /// - Complexity: O(n).
    public static func expShiftedInPlace(_ row: UnsafeMutablePointer<Float>, count n: Int) -> (max: Float, sum: Float) {
        var mx: Float = 0, sum: Float = 0
        tm_exp_shifted(row, n, &mx, &sum, kernelVariant)
        return (mx, sum)
    }

    /// row[j] *= s.
    /// - Complexity: O(n).
    public static func scaleInPlace(_ row: UnsafeMutablePointer<Float>, count n: Int, by s: Float) {
        tm_scale(row, n, s, kernelVariant)
    }

    /// o = silu(g)·u.
    /// - Complexity: O(n).
    public static func swigluForwardRow(_ o: UnsafeMutablePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>,
                                        count n: Int) {
        tm_swiglu_forward(o, g, u, n, kernelVariant)
    }

    /// dg += dh·u·σ(1 + g(1 − σ)), du += dh·g·σ.
    /// - Complexity: O(n).
    public static func swigluBackwardRow(dGate dg: UnsafeMutablePointer<Float>, dUp du: UnsafeMutablePointer<Float>,
                                         dh: UnsafePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>, count n: Int) {
        tm_swiglu_backward(dg, du, dh, g, u, n, kernelVariant)
    }

    /// One AdamW step over n elements (see `AdamW.update`).
    /// - Complexity: O(n).
    public static func adamwRange(_ p: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                                  v: UnsafeMutablePointer<Float>, count n: Int, scale: Float, beta1: Float, beta2: Float,
                                  correction1: Float, correction2: Float, epsilon: Float, rate: Float, decay: Float) {
        tm_adamw(p, grad, m, v, n, scale, beta1, beta2, correction1, correction2, epsilon, rate, decay, kernelVariant)
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

    /// Scalar reference of `Float.swigluForwardRow` (libm exp).
    public static func swigluForwardRow(_ o: UnsafeMutablePointer<Double>, gate g: UnsafePointer<Double>, up u: UnsafePointer<Double>,
                                        count n: Int) {
        for i in 0..<n { let x = g[i]; o[i] = x * sigmoid(x) * u[i] }
    }

    /// Scalar reference of `Float.adamwRange`.
    public static func adamwRange(_ p: UnsafeMutablePointer<Double>, grad: UnsafePointer<Double>, m: UnsafeMutablePointer<Double>,
                                  v: UnsafeMutablePointer<Double>, count n: Int, scale: Double, beta1: Double, beta2: Double,
                                  correction1: Double, correction2: Double, epsilon: Double, rate: Double, decay: Double) {
        for i in 0..<n {
            let g = grad[i] * scale
            let mi = beta1 * m[i] + (1 - beta1) * g, vi = beta2 * v[i] + (1 - beta2) * g * g
            m[i] = mi; v[i] = vi
            p[i] -= rate * ((mi / correction1) / ((vi / correction2).squareRoot() + epsilon)) + decay * p[i]
        }
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
