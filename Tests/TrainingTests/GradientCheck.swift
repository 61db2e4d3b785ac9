// A finite-difference gradient checker for the layer tests: loss = Σ out·R for a fixed random R, the
// analytic gradient from the layer's backward seeded with dOut = R, the numeric one from central
// differences in Double.
import CorpusIO
@testable import Training

/// Deterministic uniform values in [-scale, scale).
func randomArray(_ n: Int, seed: UInt64, scale: Double = 1) -> [Double] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in (Double(rng.next() >> 11) / 9_007_199_254_740_992.0 * 2 - 1) * scale }
}

/// Owns copies of the input tensors, their gradients and the output, all as pointers.
final class GradCheckCase {
    let inputs: [UnsafeMutablePointer<Double>]
    let dInputs: [UnsafeMutablePointer<Double>]
    let sizes: [Int]
    let out: UnsafeMutablePointer<Double>
    let dOut: UnsafeMutablePointer<Double>
    let outCount: Int

    init(inputs arrays: [[Double]], outCount: Int, seed: UInt64 = 99) {
        sizes = arrays.map(\.count)
        inputs = arrays.map { a in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        dInputs = arrays.map { a in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, a.count))
            p.initialize(repeating: 0, count: max(1, a.count))
            return p
        }
        self.outCount = outCount
        out = .allocate(capacity: outCount)
        out.initialize(repeating: 0, count: outCount)
        dOut = .allocate(capacity: outCount)
        dOut.initialize(from: randomArray(outCount, seed: seed), count: outCount)
    }

    deinit {
        for p in inputs { p.deallocate() }
        for p in dInputs { p.deallocate() }
        out.deallocate(); dOut.deallocate()
    }

    /// Runs forward, backward, then central differences over the inputs in `check` (every element, or
    /// `stride`-spaced ones). Returns the largest |analytic − numeric| / max(|analytic|, |numeric|, 1e-3).
    /// `forward` must overwrite `out` (it may return an extra scalar loss to add).
    func maxError(check: [Int]? = nil, stride: Int = 1, eps: Double = 1e-5,
                  forward: (GradCheckCase) -> Double, backward: (GradCheckCase) -> Void) -> Double {
        func loss() -> Double {
            out.update(repeating: 0, count: outCount)
            let extra = forward(self)
            var l = extra
            for i in 0..<outCount { l += out[i] * dOut[i] }
            return l
        }
        _ = loss()
        backward(self)
        var worst = 0.0
        for t in check ?? Array(inputs.indices) {
            for j in Swift.stride(from: 0, to: sizes[t], by: stride) {
                let x = inputs[t][j]
                inputs[t][j] = x + eps
                let lp = loss()
                inputs[t][j] = x - eps
                let lm = loss()
                inputs[t][j] = x
                let numeric = (lp - lm) / (2 * eps)
                let analytic = dInputs[t][j]
                let err = abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-3)
                worst = max(worst, err)
            }
        }
        print("gradient check: max relative error \(worst)")
        return worst
    }
}

/// A workspace for the attention core at shape `s` (the caller deallocates `base`).
func attentionWorkspace<S: TrainingScalar>(_ s: AttentionShape, workers: Int = 2) -> AttentionWorkspace<S> {
    let n = AttentionWorkspace<S>.count(s, workers: workers)
    let base = UnsafeMutablePointer<S>.allocate(capacity: n)
    base.initialize(repeating: 0, count: n)
    return AttentionWorkspace(base: base, workers: workers, shape: s)
}

/// The model's gradient (`grads`, from the last forward + backward) against central differences of its
/// loss on three elements of every trainable tensor: the worst |analytic − numeric| / max(|·|, 1e-4)
/// and where it is.
func finiteDifferenceWorst(_ model: Model<Double>, eps: Double = 1e-5) -> (Double, String) {
    let analytic = Array(UnsafeBufferPointer(start: model.grads, count: model.parameterCount))
    var worst = 0.0, worstName = ""
    for s in model.specs where s.trainable {
        for j in Swift.stride(from: 0, to: s.count, by: max(1, s.count / 3)) {
            let i = s.offset + j, x = model.params[i]
            model.params[i] = x + eps
            let lp = model.forward(computeGradients: false)
            model.params[i] = x - eps
            let lm = model.forward(computeGradients: false)
            model.params[i] = x
            let numeric = (lp - lm) / (2 * eps)
            let err = abs(analytic[i] - numeric) / max(abs(analytic[i]), abs(numeric), 1e-4)
            if err > worst { worst = err; worstName = "\(s.name)[\(j)] analytic \(analytic[i]) numeric \(numeric)" }
        }
    }
    return (worst, worstName)
}
