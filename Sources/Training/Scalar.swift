// The numeric element of the trainer: every kernel is generic over `TrainingScalar` so the same code runs
// in Float (training) and Double (finite-difference gradient checks). Also: a tiny parallel-for over the
// machine's cores. (The seeded generator for initialization is CorpusIO's SplitMix64.)
// Policy: generic code is specialized inside this module (the Trainer and Model are instantiated here),
// so there is no dynamic dispatch in the hot loops.
import Foundation

/// Float or Double: what a layer needs beyond `BinaryFloatingPoint` (transcendentals and GEMM, the latter
/// implemented in `Matmul.swift`, the only caller of cblas).
public protocol TrainingScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    /// row[j] = e^(row[j] − max) in place; returns the max and the sum (`VectorMath.swift`).
    static func expShiftedInPlace(_ row: UnsafeMutablePointer<Self>, count n: Int) -> (max: Self, sum: Self)
    /// row[j] *= s.
    static func scaleInPlace(_ row: UnsafeMutablePointer<Self>, count n: Int, by s: Self)
    /// o = silu(g)·u over n elements (`SwiGLU.swift`, vectorized for Float in `VectorMath.swift`).
    static func swigluForwardRow(_ o: UnsafeMutablePointer<Self>, gate g: UnsafePointer<Self>, up u: UnsafePointer<Self>, count n: Int)
    /// dg += dh·u·σ(g)(1 + g(1 − σ(g))), du += dh·g·σ(g) over n elements.
    static func swigluBackwardRow(dGate dg: UnsafeMutablePointer<Self>, dUp du: UnsafeMutablePointer<Self>, dh: UnsafePointer<Self>,
                                  gate g: UnsafePointer<Self>, up u: UnsafePointer<Self>, count n: Int)
    /// One AdamW step over n elements (`AdamW.swift` has the formula; vectorized for Float in `VectorMath.swift`).
    static func adamwRange(_ p: UnsafeMutablePointer<Self>, grad: UnsafePointer<Self>, m: UnsafeMutablePointer<Self>,
                           v: UnsafeMutablePointer<Self>, count n: Int, scale: Self, beta1: Self, beta2: Self,
                           correction1: Self, correction2: Self, epsilon: Self, rate: Self, decay: Self)
    /// Row-major C = alpha·op(A)·op(B) + beta·C. See `Matmul.swift`.
    static func gemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Self,
                     A: UnsafePointer<Self>, lda: Int, B: UnsafePointer<Self>, ldb: Int,
                     beta: Self, C: UnsafeMutablePointer<Self>, ldc: Int)
    /// Bytes per element and safetensors dtype name.
    static var safetensorsDType: String { get }
}

extension Float {
    public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    public static func log(_ x: Float) -> Float { Foundation.log(x) }
    public static var safetensorsDType: String { "F32" }
}

extension Double {
    public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    public static func log(_ x: Double) -> Double { Foundation.log(x) }
    public static var safetensorsDType: String { "F64" }
}

/// A pointer that may cross into `concurrentPerform` workers; each worker writes disjoint ranges.
struct SendablePointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

/// The worker count of the element-wise loops (OpenBLAS has its own threads for GEMMs): a value bound
/// for the extent of a call, not a global setting, so two runs in one process may use different counts.
/// Default: the machine's active cores.
///
///     try TrainingThreads.$count.withValue(2) { try trainer.train(until: stop) }
///
/// subtle: the value is read on the calling thread (a task-local, which `concurrentPerform`'s workers do
/// not inherit); `parallelFor` reads it before it fans out, and `Model` once at allocation (the attention
/// workspace is sized by it), so a model must be built inside the same binding it runs in.
public enum TrainingThreads {
    @TaskLocal public static var count = max(1, ProcessInfo.processInfo.activeProcessorCount)
}

/// `TrainingThreads.count` as bound for the current call.
var trainingThreads: Int { TrainingThreads.count }

/// Runs `body` over `0..<n` split into at most `trainingThreads` contiguous chunks. Each chunk must write
/// only its own rows, so results do not depend on the thread count. Small `n·work` runs inline.
/// - Complexity: O(n) calls of the body's per-row work, spread over the cores.
@inline(__always)
func parallelFor(_ n: Int, work: Int = 1, _ body: (Range<Int>) -> Void) {
    let workers = min(trainingThreads, n)
    if workers <= 1 || n * work < 32_768 {
        body(0..<n)
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UnsafeBody(body: body)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = n * w / workers, hi = n * (w + 1) / workers
            box.body(lo..<hi)
        }
    }
}

private struct UnsafeBody: @unchecked Sendable {
    let body: (Range<Int>) -> Void
}

