// AdamW (decoupled weight decay, Loshchilov & Hutter) over the flat parameter allocation, global-norm
// gradient clipping, and the learning-rate schedule: linear warmup, then cosine decay to the minimum.
// Moments are two allocations of the parameter count (Float for Float models). Tensors with
// `decay == false` (norms) skip weight decay; `trainable == false` (balancing biases) are skipped.
// `lrScales` multiplies the Adam step of named tensors (the embedding's, the head's and the routers', from
// `embedding_lr_scale`, `head_lr_scale` and `router_lr_scale`); their decoupled weight decay stays lr·weight_decay.
// With `bf16Moments` (training.precision fp8, as DeepSeek-V3 keeps AdamW's moments in BF16) every moment
// is rounded to bfloat16 (nearest even) after each update, so the moments hold bfloat16 values; they stay
// in Float buffers (checkpoints keep their F32 layout, and resuming is exact since the values round-trip).
// Costs: O(P) per step, in parallel over ranges of each tensor (the Float element loop is a C kernel:
// Swift's scalar divss/sqrtss loop took 2.5% of a bench-train step).
import Foundation

public final class AdamW<S: TrainingScalar> {
    public let count: Int
    public let m: UnsafeMutablePointer<S>
    public let v: UnsafeMutablePointer<S>
    /// Steps taken (bias correction uses it).
    public var step = 0
    public var beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
    /// Learning-rate multipliers by tensor name (1 for tensors not named).
    public var lrScales: [String: Double] = [:]
    /// Round the moments to bfloat16 after every update (see the header).
    public var bf16Moments = false

    public init(count: Int, beta1: Double = 0.9, beta2: Double = 0.95, epsilon: Double = 1e-8, weightDecay: Double = 0.1) {
        self.count = count
        m = .allocate(capacity: count); m.initialize(repeating: 0, count: count)
        v = .allocate(capacity: count); v.initialize(repeating: 0, count: count)
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    deinit { m.deallocate(); v.deallocate() }

    /// One update of every trainable tensor with learning rate `lr`, gradients multiplied by `gradScale`
    /// (the clipping factor).
    /// - Complexity: O(P).
    public func update(params: UnsafeMutablePointer<S>, grads: UnsafePointer<S>, specs: [ParameterSpec], lr: Double,
                       gradScale: Double) {
        step += 1
        let b1 = S(beta1), b2 = S(beta2), eps = S(epsilon), scale = S(gradScale)
        let c1 = S(1 - pow(beta1, Double(step))), c2 = S(1 - pow(beta2, Double(step)))
        let pp = SendablePointer(params), gp = SendablePointer(UnsafeMutablePointer(mutating: grads))
        let mp = SendablePointer(m), vp = SendablePointer(v), bf16 = bf16Moments
        for s in specs where s.trainable {
            let decay = s.decay ? S(lr * weightDecay) : 0, rate = S(lr * (lrScales[s.name] ?? 1))
            let base = s.offset
            parallelFor(s.count, work: 4) { r in
                let i = base + r.lowerBound
                S.adamwRange(pp.p + i, grad: gp.p + i, m: mp.p + i, v: vp.p + i, count: r.count, scale: scale, beta1: b1,
                             beta2: b2, correction1: c1, correction2: c2, epsilon: eps, rate: rate, decay: decay)
                if bf16 { roundToBFloat16(mp.p + i, count: r.count); roundToBFloat16(vp.p + i, count: r.count) }
            }
        }
    }
}

/// x[i] = bfloat16(x[i]) (round to nearest even), for Float; Double values are left as they are.
@inline(__always)
func roundToBFloat16<S: TrainingScalar>(_ x: UnsafeMutablePointer<S>, count: Int) {
    guard S.self == Float.self else { return }
    let f = UnsafeMutableRawPointer(x).assumingMemoryBound(to: Float.self)
    for i in 0..<count { f[i] = BFloat16.decode(BFloat16.encode(f[i])) }
}

/// The L2 norm of the trainable gradients (summed in Double, in a fixed order).
/// - Complexity: O(P).
public func gradientNorm<S: TrainingScalar>(_ grads: UnsafePointer<S>, specs: [ParameterSpec]) -> Double {
    var total = 0.0
    for s in specs where s.trainable {
        var acc = 0.0
        for i in s.offset..<(s.offset + s.count) { let g = Double(grads[i]); acc += g * g }
        total += acc
    }
    return total.squareRoot()
}

/// Linear warmup from 0 to `peak` over `warmup` steps, then cosine to `minimum` at `total` steps, then flat.
public func learningRate(step: Int, warmup: Int, total: Int, peak: Double, minimum: Double) -> Double {
    if step < warmup { return peak * Double(step + 1) / Double(warmup) }
    if step >= total { return minimum }
    let progress = Double(step - warmup) / Double(max(1, total - warmup))
    return minimum + 0.5 * (peak - minimum) * (1 + cos(Double.pi * progress))
}
