// SwiGLU: h = silu(gate) ⊙ up, the nonlinearity of DeepSeek-V3's FFNs and experts
// (down(silu(gate(x)) · up(x))); the three projections are `Matmul`s.
// Shapes: gateUp (rows, 2I) with rows [gate | up]; h (rows, I).
// Performance notes: gate and up were two GEMMs; as one (2I, C) GEMM they run as one larger call. Float
// rows run through the vectorized sigmoid of `VectorMath.swift` (Double keeps libm, for the gradient checks).

@inline(__always) func sigmoid<S: TrainingScalar>(_ x: S) -> S { 1 / (1 + S.exp(-x)) }

/// h = silu(gate) · up, reading rows of [gate (I) | up (I)] from `gateUp` (rows, 2I).
/// - Complexity: O(rows·I), in parallel.
func swigluForward<S: TrainingScalar>(_ h: UnsafeMutablePointer<S>, _ gateUp: UnsafePointer<S>, rows: Int, I: Int) {
    let hp = SendablePointer(h), gu = SendablePointer(UnsafeMutablePointer(mutating: gateUp))
    parallelFor(rows, work: 8 * I) { r in
        for n in r {
            let g = gu.p + n * 2 * I, u = g + I, o = hp.p + n * I
            S.swigluForwardRow(o, gate: g, up: u, count: I)
        }
    }
}

/// dGate += dh · up · silu'(gate); dUp += dh · silu(gate); silu'(x) = σ(x)(1 + x(1 − σ(x))). Gradients go
/// to `dGateUp` (rows, 2I) in the same [gate | up] layout.
/// - Complexity: O(rows·I), in parallel.
func swigluBackward<S: TrainingScalar>(_ dGateUp: UnsafeMutablePointer<S>, _ dh: UnsafePointer<S>,
                                       _ gateUp: UnsafePointer<S>, rows: Int, I: Int) {
    let dgu = SendablePointer(dGateUp), d = SendablePointer(UnsafeMutablePointer(mutating: dh))
    let gu = SendablePointer(UnsafeMutablePointer(mutating: gateUp))
    parallelFor(rows, work: 8 * I) { r in
        for n in r {
            let g = gu.p + n * 2 * I, u = g + I, dg = dgu.p + n * 2 * I, du = dg + I, dd = d.p + n * I
            S.swigluBackwardRow(dGate: dg, dUp: du, dh: dd, gate: g, up: u, count: I)
        }
    }
}

/// The buffers of one SwiGLU FFN applied to `rows` inputs: [gate | up] pre-activations (rows, 2I) and h.
/// In fp8 mode `h` is a buffer shared by all layers and `hCache` keeps h (the down projection's input).
struct FFNBuffers<S: TrainingScalar> {
    var gateUp, h: UnsafeMutablePointer<S>
    var hCache: FP8Cache<S>? = nil
    func advanced(by rows: Int, I: Int) -> FFNBuffers {
        FFNBuffers(gateUp: gateUp + rows * 2 * I, h: h + rows * I, hCache: hCache?.advanced(rows: rows))
    }
}

/// The weights of one SwiGLU FFN: gate (I, C), up (I, C), down (C, I); and their gradients.
/// subtle: up must follow gate directly (`parameterSizes` lays them out so), making [gate; up] one
/// (2I, C) matrix: one GEMM computes both projections.
struct FFNWeights<S: TrainingScalar> {
    var gate, up, down: UnsafeMutablePointer<S>
}

/// out (rows, C) = down(silu(gate(x)) · up(x)); `accumulate` adds into out. With `fp8`, x was quantized
/// by the caller and h is quantized and kept in `a.hCache` (FP8Linear.swift).
/// - Complexity: 6·rows·C·I flops.
func ffnForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, _ w: FFNWeights<S>,
                                   _ a: FFNBuffers<S>, rows: Int, C: Int, I: Int, accumulate: Bool = false,
                                   fp8: FP8Linear<S>? = nil) {
    if rows == 0 { return }
    precondition(w.up == w.gate + I * C, "gate and up weights must be adjacent")
    linearForward(fp8, a.gateUp, x, w.gate, N: rows, IC: C, OC: 2 * I)
    swigluForward(a.h, a.gateUp, rows: rows, I: I)
    if let fp8 { fp8.keep(a.h, rows: rows, cols: I, cache: a.hCache!) }
    linearForward(fp8, out, a.h, w.down, N: rows, IC: I, OC: C, accumulate: accumulate)
}

/// Backward of `ffnForward`: dx += …, weight gradients +=. `d` holds zeroed gradient buffers.
/// - Complexity: 12·rows·C·I flops.
func ffnBackward<S: TrainingScalar>(_ dx: UnsafeMutablePointer<S>, _ dw: FFNWeights<S>, _ dOut: UnsafePointer<S>,
                                    _ x: UnsafePointer<S>, _ w: FFNWeights<S>, _ a: FFNBuffers<S>, _ d: FFNBuffers<S>,
                                    rows: Int, C: Int, I: Int, fp8: FP8Linear<S>? = nil) {
    if rows == 0 { return }
    precondition(dw.up == dw.gate + I * C, "gate and up gradients must be adjacent")
    if let fp8 { fp8.restore(a.h, rows: rows, cols: I, cache: a.hCache!) }
    linearBackward(fp8, d.h, dw.down, dOut, a.h, w.down, N: rows, IC: I, OC: C)
    swigluBackward(d.gateUp, d.h, a.gateUp, rows: rows, I: I)
    linearBackward(fp8, dx, dw.gate, d.gateUp, x, w.gate, N: rows, IC: C, OC: 2 * I)
}
