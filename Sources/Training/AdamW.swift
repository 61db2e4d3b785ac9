// AdamW (decoupled weight decay, Loshchilov & Hutter) over the flat parameter allocation, global-norm
// gradient clipping, and the learning-rate schedule: linear warmup, then cosine decay to the minimum.
// Moments are two allocations of the parameter count (Float for Float models, or bfloat16: below). Tensors with
// `decay == false` (norms) skip weight decay; `trainable == false` (balancing biases) are skipped.
// `lrScales` multiplies the Adam step of named tensors (the embedding's, the head's and the routers', from
// `embedding_lr_scale`, `head_lr_scale` and `router_lr_scale`); their decoupled weight decay stays lr·weight_decay.
// With `bf16Moments` (training.precision fp8, as DeepSeek-V3 keeps AdamW's moments in BF16) the moments
// are stored as bfloat16 (2 bytes each, half of Float's): each update decodes a chunk of them to Float,
// runs the same kernel, and rounds the results back to nearest even; checkpoints write them as BF16
// tensors, and resuming is exact. Only Float models take bfloat16 moments.
// Costs: O(P) per step, in parallel over ranges of each tensor (the Float element loop is a C kernel:
// Swift's scalar divss/sqrtss loop took 2.5% of a bench-train step). Memory: 2 × P × (4 or 2) bytes.
import Foundation

public final class AdamW<S: TrainingScalar> {
    public let count: Int
    /// The moments when stored in S (nil with bfloat16 moments).
    public let m: UnsafeMutablePointer<S>?
    public let v: UnsafeMutablePointer<S>?
    /// The moments' bfloat16 bits when stored in bfloat16 (nil otherwise).
    public let m16: UnsafeMutablePointer<UInt16>?
    public let v16: UnsafeMutablePointer<UInt16>?
    /// Steps taken (bias correction uses it).
    public var step = 0
    public var beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
    /// Learning-rate multipliers by tensor name (1 for tensors not named).
    public var lrScales: [String: Double] = [:]
    /// Whether the moments are stored in bfloat16 (see the header).
    public var bf16Moments: Bool { m16 != nil }

    public init(count: Int, beta1: Double = 0.9, beta2: Double = 0.95, epsilon: Double = 1e-8, weightDecay: Double = 0.1,
                bf16Moments: Bool = false) {
        precondition(!bf16Moments || S.self == Float.self, "bfloat16 moments need a Float model")
        self.count = count
        if bf16Moments {
            m = nil; v = nil
            m16 = .allocate(capacity: count); m16!.initialize(repeating: 0, count: count)
            v16 = .allocate(capacity: count); v16!.initialize(repeating: 0, count: count)
        } else {
            m16 = nil; v16 = nil
            m = .allocate(capacity: count); m!.initialize(repeating: 0, count: count)
            v = .allocate(capacity: count); v!.initialize(repeating: 0, count: count)
        }
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    deinit { m?.deallocate(); v?.deallocate(); m16?.deallocate(); v16?.deallocate() }

    /// Bytes the two moments take.
    public var momentBytes: Int { 2 * count * (bf16Moments ? 2 : MemoryLayout<S>.stride) }

    /// The first and second moment of parameter `i`.
    public func moments(at i: Int) -> (m: Double, v: Double) {
        if let m16, let v16 { return (Double(BFloat16.decode(m16[i])), Double(BFloat16.decode(v16[i]))) }
        return (Double(m![i]), Double(v![i]))
    }

    /// One update of every trainable tensor with learning rate `lr`, gradients multiplied by `gradScale`
    /// (the clipping factor).
    /// - Complexity: O(P).
    public func update(params: UnsafeMutablePointer<S>, grads: UnsafePointer<S>, specs: [ParameterSpec], lr: Double,
                       gradScale: Double) {
        step += 1
        let b1 = S(beta1), b2 = S(beta2), eps = S(epsilon), scale = S(gradScale)
        let c1 = S(1 - pow(beta1, Double(step))), c2 = S(1 - pow(beta2, Double(step)))
        let pp = SendablePointer(params), gp = SendablePointer(UnsafeMutablePointer(mutating: grads))
        let mp = m.map(SendablePointer.init), vp = v.map(SendablePointer.init)
        let m16p = m16.map(SendablePointer.init), v16p = v16.map(SendablePointer.init)
        for s in specs where s.trainable {
            let decay = s.decay ? S(lr * weightDecay) : 0, rate = S(lr * (lrScales[s.name] ?? 1))
            let base = s.offset
            parallelFor(s.count, work: 4) { r in
                func adam(_ mq: UnsafeMutablePointer<S>, _ vq: UnsafeMutablePointer<S>, _ at: Int, _ n: Int) {
                    S.adamwRange(pp.p + at, grad: gp.p + at, m: mq, v: vq, count: n, scale: scale, beta1: b1,
                                 beta2: b2, correction1: c1, correction2: c2, epsilon: eps, rate: rate, decay: decay)
                }
                let start = base + r.lowerBound, end = base + r.upperBound
                if let mp, let vp { adam(mp.p + start, vp.p + start, start, r.count); return }
                // bfloat16 moments (S is Float): decode a chunk, update it in Float, round back to nearest even.
                let chunk = 2048, ms = m16p!.p, vs = v16p!.p
                withUnsafeTemporaryAllocation(of: S.self, capacity: 2 * chunk) { buffer in
                    let mq = buffer.baseAddress!, vq = mq + chunk
                    let mf = UnsafeMutableRawPointer(mq).assumingMemoryBound(to: Float.self)
                    let vf = UnsafeMutableRawPointer(vq).assumingMemoryBound(to: Float.self)
                    for at in stride(from: start, to: end, by: chunk) {
                        let n = min(chunk, end - at)
                        for k in 0..<n { mf[k] = BFloat16.decode(ms[at + k]); vf[k] = BFloat16.decode(vs[at + k]) }
                        adam(mq, vq, at, n)
                        for k in 0..<n { ms[at + k] = BFloat16.encode(mf[k]); vs[at + k] = BFloat16.encode(vf[k]) }
                    }
                }
            }
        }
    }
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
