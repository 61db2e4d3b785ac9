// SwiGLU: h = silu(gate) ⊙ up, the nonlinearity of DeepSeek-V3's FFNs and experts
// (down(silu(gate(x)) · up(x))); the three projections are `Matmul`s.
// Shapes: gate, up, h all (count) = (rows, I).

@inline(__always) func sigmoid<S: TrainingScalar>(_ x: S) -> S { 1 / (1 + S.exp(-x)) }

/// h = silu(gate) · up.
/// - Complexity: O(count), in parallel.
func swigluForward<S: TrainingScalar>(_ h: UnsafeMutablePointer<S>, _ gate: UnsafePointer<S>,
                                      _ up: UnsafePointer<S>, count: Int) {
    let hp = SendablePointer(h), g = SendablePointer(UnsafeMutablePointer(mutating: gate))
    let u = SendablePointer(UnsafeMutablePointer(mutating: up))
    parallelFor(count, work: 8) { r in
        for i in r { let x = g.p[i]; hp.p[i] = x * sigmoid(x) * u.p[i] }
    }
}

/// dGate += dh · up · silu'(gate); dUp += dh · silu(gate); silu'(x) = σ(x)(1 + x(1 − σ(x))).
/// - Complexity: O(count), in parallel.
func swigluBackward<S: TrainingScalar>(_ dGate: UnsafeMutablePointer<S>, _ dUp: UnsafeMutablePointer<S>,
                                       _ dh: UnsafePointer<S>, _ gate: UnsafePointer<S>, _ up: UnsafePointer<S>,
                                       count: Int) {
    let dg = SendablePointer(dGate), du = SendablePointer(dUp), d = SendablePointer(UnsafeMutablePointer(mutating: dh))
    let g = SendablePointer(UnsafeMutablePointer(mutating: gate)), u = SendablePointer(UnsafeMutablePointer(mutating: up))
    parallelFor(count, work: 8) { r in
        for i in r {
            let x = g.p[i], s = sigmoid(x)
            dg.p[i] += d.p[i] * u.p[i] * s * (1 + x * (1 - s))
            du.p[i] += d.p[i] * x * s
        }
    }
}

/// The buffers of one SwiGLU FFN applied to `rows` inputs: gate, up (pre-activation) and h.
struct FFNBuffers<S: TrainingScalar> {
    var gate, up, h: UnsafeMutablePointer<S>
    func advanced(by rows: Int, I: Int) -> FFNBuffers {
        FFNBuffers(gate: gate + rows * I, up: up + rows * I, h: h + rows * I)
    }
}

/// The weights of one SwiGLU FFN: gate (I, C), up (I, C), down (C, I); and their gradients.
struct FFNWeights<S: TrainingScalar> {
    var gate, up, down: UnsafeMutablePointer<S>
}

/// out (rows, C) = down(silu(gate(x)) · up(x)); `accumulate` adds into out.
/// - Complexity: 6·rows·C·I flops.
func ffnForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, _ w: FFNWeights<S>,
                                   _ a: FFNBuffers<S>, rows: Int, C: Int, I: Int, accumulate: Bool = false) {
    if rows == 0 { return }
    matmulForward(a.gate, x, w.gate, N: rows, IC: C, OC: I)
    matmulForward(a.up, x, w.up, N: rows, IC: C, OC: I)
    swigluForward(a.h, a.gate, a.up, count: rows * I)
    matmulForward(out, a.h, w.down, N: rows, IC: I, OC: C, accumulate: accumulate)
}

/// Backward of `ffnForward`: dx += …, weight gradients +=. `d` holds zeroed gradient buffers for
/// gate, up and h.
/// - Complexity: 12·rows·C·I flops.
func ffnBackward<S: TrainingScalar>(_ dx: UnsafeMutablePointer<S>, _ dw: FFNWeights<S>, _ dOut: UnsafePointer<S>,
                                    _ x: UnsafePointer<S>, _ w: FFNWeights<S>, _ a: FFNBuffers<S>, _ d: FFNBuffers<S>,
                                    rows: Int, C: Int, I: Int) {
    if rows == 0 { return }
    matmulBackward(d.h, dw.down, dOut, a.h, w.down, N: rows, IC: I, OC: C)
    swigluBackward(d.gate, d.up, d.h, a.gate, a.up, count: rows * I)
    matmulBackward(dx, dw.up, d.up, x, w.up, N: rows, IC: C, OC: I)
    matmulBackward(dx, dw.gate, d.gate, x, w.gate, N: rows, IC: C, OC: I)
}
