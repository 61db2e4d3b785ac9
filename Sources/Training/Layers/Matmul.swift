// Matmul: the linear layer out = inp · Wᵀ (PyTorch's nn.Linear layout, weight OC×IC, no bias), and the
// only place that calls cblas_sgemm / cblas_dgemm (through `TrainingScalar.gemm`). A naive triple loop
// is kept for the tests.
// Shapes: inp (N, IC), weight (OC, IC), out (N, OC).
// Costs: forward 2·N·IC·OC flops; backward twice that.
import CBLAS

extension Float: TrainingScalar {
    /// Wraps `cblas_sgemm` (row-major).
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float,
                            A: UnsafePointer<Float>, lda: Int, B: UnsafePointer<Float>, ldb: Int,
                            beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int) {
        if M == 0 || N == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(M), blasint(N), blasint(K), alpha, A, blasint(lda), B, blasint(ldb), beta, C, blasint(ldc))
    }
}

extension Double: TrainingScalar {
    /// Wraps `cblas_dgemm` (row-major).
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Double,
                            A: UnsafePointer<Double>, lda: Int, B: UnsafePointer<Double>, ldb: Int,
                            beta: Double, C: UnsafeMutablePointer<Double>, ldc: Int) {
        if M == 0 || N == 0 { return }
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(M), blasint(N), blasint(K), alpha, A, blasint(lda), B, blasint(ldb), beta, C, blasint(ldc))
    }
}

/// Sets OpenBLAS's thread count (`openblas_set_num_threads`); tests pin one thread.
public func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

/// Runs `body` with OpenBLAS on one thread, for GEMMs issued by several workers at once (OpenBLAS's
/// documented way to call it from a multi-threaded program), then restores the thread count.
func withSingleThreadedBLAS(_ body: () -> Void) {
    let n = openblas_get_num_threads()
    if n > 1 { openblas_set_num_threads(1) }
    body()
    if n > 1 { openblas_set_num_threads(n) }
}

/// The kernel OpenBLAS dispatched to (`openblas_get_corename`), e.g. "Haswell".
public func blasCoreName() -> String { String(cString: openblas_get_corename()) }

/// out (N, OC) = inp (N, IC) · weight (OC, IC)ᵀ; with `accumulate`, out += instead.
/// - Complexity: 2·N·IC·OC flops.
@inline(__always)
func matmulForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>,
                                      _ weight: UnsafePointer<S>, N: Int, IC: Int, OC: Int,
                                      accumulate: Bool = false) {
    S.gemm(transA: false, transB: true, M: N, N: OC, K: IC, alpha: 1, A: inp, lda: IC, B: weight, ldb: IC,
           beta: accumulate ? 1 : 0, C: out, ldc: OC)
}

/// dInp (N, IC) += dOut · weight; dWeight (OC, IC) += dOutᵀ · inp.
/// - Complexity: 4·N·IC·OC flops.
@inline(__always)
func matmulBackward<S: TrainingScalar>(_ dInp: UnsafeMutablePointer<S>?, _ dWeight: UnsafeMutablePointer<S>,
                                       _ dOut: UnsafePointer<S>, _ inp: UnsafePointer<S>,
                                       _ weight: UnsafePointer<S>, N: Int, IC: Int, OC: Int) {
    if let dInp {
        S.gemm(transA: false, transB: false, M: N, N: IC, K: OC, alpha: 1, A: dOut, lda: OC, B: weight, ldb: IC,
               beta: 1, C: dInp, ldc: IC)
    }
    S.gemm(transA: true, transB: false, M: OC, N: IC, K: N, alpha: 1, A: dOut, lda: OC, B: inp, ldb: IC,
           beta: 1, C: dWeight, ldc: IC)
}

/// The reference GEMM the tests compare cblas against: row-major C = alpha·op(A)·op(B) + beta·C.
/// - Complexity: O(M·N·K), no blocking.
public func naiveGemm<S: TrainingScalar>(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: S,
                                         A: UnsafePointer<S>, lda: Int, B: UnsafePointer<S>, ldb: Int,
                                         beta: S, C: UnsafeMutablePointer<S>, ldc: Int) {
    for i in 0..<M {
        for j in 0..<N {
            var acc: S = 0
            for k in 0..<K {
                let a = transA ? A[k * lda + i] : A[i * lda + k]
                let b = transB ? B[j * ldb + k] : B[k * ldb + j]
                acc += a * b
            }
            C[i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * C[i * ldc + j])
        }
    }
}
