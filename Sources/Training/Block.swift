// One decoder layer: pre-norm Multi-head Latent Attention and a dense SwiGLU FFN or DeepSeekMoE.
//   x2 = x + o_proj(MLA(input_layernorm(x)))
//   y  = x2 + FFN(post_attention_layernorm(x2))
// MLA (DeepSeek-V3 §2.1.1, transformers' DeepseekV3Attention):
//   q   = q_proj(h)  or  q_b_proj(q_a_layernorm(q_a_proj(h)))      (N, H, Dn+Dr); RoPE on the Dr part
//   kva = kv_a_proj_with_mqa(h)                                     (N, R+Dr)
//   kv  = kv_b_proj(kv_a_layernorm(kva[:, :R]))                     (N, H, Dn+Dv)
//   kr  = RoPE(kva[:, R:])                                          (N, Dr), shared by all heads
// Forward and backward are flat call lists; backward runs them in reverse, accumulating into the
// layer's gradient scratch (shared by all layers, zeroed before each layer's backward).

/// Per position (N) of the micro-batch: the first row position its attention may see, its RoPE position,
/// and 1 when its input is real (0 in a packed row's padding). Filled by the model before each forward.
struct RowLayout<S: TrainingScalar> {
    var start, position: UnsafeMutablePointer<Int32>
    var real: UnsafeMutablePointer<S>
}

/// Sizes of one layer.
struct BlockShape {
    var B, T, C, H, Dn, Dr, Dv, R, Rq, I: Int
    var eps: Double
    var moe: MoEShape?
    var N: Int { B * T }
    var Dqk: Int { Dn + Dr }
    var attention: AttentionShape { AttentionShape(B: B, T: T, H: H, Dn: Dn, Dr: Dr, Dv: Dv) }
}

/// A layer's weights, or its gradients (same layout). Query compression pointers are nil without it.
struct BlockWeights<S: TrainingScalar> {
    var ln1, q, kva, kvNorm, kvb, o, ln2: UnsafeMutablePointer<S>
    var qa, qaNorm: UnsafeMutablePointer<S>?
    var dense: FFNWeights<S>?
    var moe: MoEWeights<S>?
}

/// A layer's cached activations. `x` is the input (owned by the caller), `out` the output.
struct BlockActivations<S: TrainingScalar> {
    var x, out: UnsafeMutablePointer<S>
    var ln1, rstd1, q, kva, kvRstd, kvc, kv, kr, probs, att, x2, ln2, rstd2: UnsafeMutablePointer<S>
    /// The attention core's scratch, shared by all layers.
    var attentionWork: AttentionWorkspace<S>
    var qa, qaRstd, qan: UnsafeMutablePointer<S>?
    var dense: FFNBuffers<S>?
    var moe: MoEBuffers<S>?
    /// fp8: the kept linear inputs (ln1, kvc, att, ln2, qan are then buffers shared by all layers).
    var fp8: BlockFP8Caches<S>? = nil
}

/// A layer's linear inputs kept for backward in fp8 mode, and the shared buffer the router's FP32
/// input is recomputed into (MoE layers).
struct BlockFP8Caches<S: TrainingScalar> {
    var ln1, kvc, att, ln2: FP8Cache<S>
    var qan: FP8Cache<S>?
    var routerInput: UnsafeMutablePointer<S>
}

/// Gradient scratch for one layer at a time.
struct BlockGradients<S: TrainingScalar> {
    var dln1, dq, dkva, dkvc, dkv, dkr, datt, dx2, dln2: UnsafeMutablePointer<S>
    var dqa, dqan: UnsafeMutablePointer<S>?
    var dense: FFNBuffers<S>
    var moe: MoEGradBuffers<S>?
}

struct Block<S: TrainingScalar> {
    var shape: BlockShape
    var w, dw: BlockWeights<S>
    var a: BlockActivations<S>
    /// Tokens routed to each expert since the last bias update (E), for MoE layers.
    var load: UnsafeMutablePointer<Int>?
    /// fp8 mode (with `a.fp8`), else nil.
    var fp8: FP8Linear<S>? = nil

    /// Runs the layer on `a.x` into `a.out`; returns the balance loss (0 for dense layers).
    func forward(cos: UnsafePointer<S>, sin: UnsafePointer<S>, rows: RowLayout<S>, countLoad: Bool,
                 scratchLoad: UnsafeMutablePointer<Int>) -> Double {
        let s = shape, N = s.N, C = s.C, H = s.H
        let eps = S(s.eps)
        // 1. attention
        let f = fp8, k = a.fp8
        rmsnormForward(a.ln1, a.rstd1, a.x, inStride: C, w.ln1, N: N, C: C, eps: eps)
        f?.keep(a.ln1, rows: N, cols: C, cache: k!.ln1)
        if let qa = a.qa, let wqa = w.qa {
            linearForward(f, qa, a.ln1, wqa, N: N, IC: C, OC: s.Rq)
            rmsnormForward(a.qan!, a.qaRstd!, qa, inStride: s.Rq, w.qaNorm!, N: N, C: s.Rq, eps: eps)
            f?.keep(a.qan!, rows: N, cols: s.Rq, cache: k!.qan!)
            linearForward(f, a.q, a.qan!, w.q, N: N, IC: s.Rq, OC: H * s.Dqk)
        } else {
            linearForward(f, a.q, a.ln1, w.q, N: N, IC: C, OC: H * s.Dqk)
        }
        ropeForward(a.q + s.Dn, outStride: H * s.Dqk, a.q + s.Dn, inStride: H * s.Dqk, heads: H, headStride: s.Dqk,
                    cos, sin, N: N, T: s.T, D: s.Dr, positions: rows.position)
        linearForward(f, a.kva, a.ln1, w.kva, N: N, IC: C, OC: s.R + s.Dr)
        rmsnormForward(a.kvc, a.kvRstd, a.kva, inStride: s.R + s.Dr, w.kvNorm, N: N, C: s.R, eps: eps)
        f?.keep(a.kvc, rows: N, cols: s.R, cache: k!.kvc)
        linearForward(f, a.kv, a.kvc, w.kvb, N: N, IC: s.R, OC: H * (s.Dn + s.Dv))
        ropeForward(a.kr, outStride: s.Dr, a.kva + s.R, inStride: s.R + s.Dr, heads: 1, headStride: s.Dr,
                    cos, sin, N: N, T: s.T, D: s.Dr, positions: rows.position)
        attentionForward(a.att, a.probs, a.q, a.kv, a.kr, s.attention, scale: 1 / S(Double(s.Dqk).squareRoot()),
                         work: a.attentionWork, segmentStart: rows.start)
        f?.keep(a.att, rows: N, cols: H * s.Dv, cache: k!.att)
        a.x2.update(from: a.x, count: N * C)
        linearForward(f, a.x2, a.att, w.o, N: N, IC: H * s.Dv, OC: C, accumulate: true)
        // 2. FFN or MoE
        rmsnormForward(a.ln2, a.rstd2, a.x2, inStride: C, w.ln2, N: N, C: C, eps: eps)
        if f != nil && s.moe != nil { k!.routerInput.update(from: a.ln2, count: N * C) }
        f?.keep(a.ln2, rows: N, cols: C, cache: k!.ln2)
        a.out.update(from: a.x2, count: N * C)
        if let moe = s.moe {
            let sink = countLoad ? load! : scratchLoad
            return moeForward(a.out, a.ln2, w.moe!, a.moe!, moe, load: sink, real: rows.real, fp8: f,
                              routerInput: f == nil ? nil : k!.routerInput)
        }
        ffnForward(a.out, a.ln2, w.dense!, a.dense!, rows: N, C: C, I: s.I, accumulate: true, fp8: f)
        return 0
    }

    /// dx += ∂(layer)/∂x · dOut, weight gradients +=. `g` must be zeroed by the caller.
    func backward(dx: UnsafeMutablePointer<S>, dOut: UnsafePointer<S>, g: BlockGradients<S>,
                  cos: UnsafePointer<S>, sin: UnsafePointer<S>, rows: RowLayout<S>) {
        let s = shape, N = s.N, C = s.C, H = s.H
        // 2'. FFN (y = x2 + ffn: both get dOut)
        let f = fp8, k = a.fp8
        g.dx2.update(from: dOut, count: N * C)
        f?.restore(a.ln2, rows: N, cols: C, cache: k!.ln2)
        if let moe = s.moe {
            if f != nil {
                // The router's FP32 input, recomputed from the residual stream (same values as forward).
                rmsnormForward(k!.routerInput, a.rstd2, a.x2, inStride: C, w.ln2, N: N, C: C, eps: S(s.eps))
            }
            moeBackward(g.dln2, dw.moe!, dOut, a.ln2, w.moe!, a.moe!, g.moe!, moe, real: rows.real, fp8: f,
                        routerInput: f == nil ? nil : k!.routerInput)
        } else {
            ffnBackward(g.dln2, dw.dense!, dOut, a.ln2, w.dense!, a.dense!, g.dense, rows: N, C: C, I: s.I, fp8: f)
        }
        rmsnormBackward(g.dx2, dInStride: C, dw.ln2, g.dln2, a.x2, inStride: C, w.ln2, a.rstd2, N: N, C: C)
        // 1'. attention (x2 = x + o_proj(att): both get dx2)
        f?.restore(a.att, rows: N, cols: H * s.Dv, cache: k!.att)
        linearBackward(f, g.datt, dw.o, g.dx2, a.att, w.o, N: N, IC: H * s.Dv, OC: C)
        attentionBackward(g.dq, g.dkv, g.dkr, g.datt, a.probs, a.q, a.kv, a.kr, s.attention,
                          scale: 1 / S(Double(s.Dqk).squareRoot()), work: a.attentionWork, segmentStart: rows.start)
        ropeBackward(g.dkva + s.R, dInStride: s.R + s.Dr, g.dkr, dOutStride: s.Dr, heads: 1, headStride: s.Dr,
                     cos, sin, N: N, T: s.T, D: s.Dr, positions: rows.position)
        f?.restore(a.kvc, rows: N, cols: s.R, cache: k!.kvc)
        linearBackward(f, g.dkvc, dw.kvb, g.dkv, a.kvc, w.kvb, N: N, IC: s.R, OC: H * (s.Dn + s.Dv))
        rmsnormBackward(g.dkva, dInStride: s.R + s.Dr, dw.kvNorm, g.dkvc, a.kva, inStride: s.R + s.Dr, w.kvNorm,
                        a.kvRstd, N: N, C: s.R)
        f?.restore(a.ln1, rows: N, cols: C, cache: k!.ln1)
        linearBackward(f, g.dln1, dw.kva, g.dkva, a.ln1, w.kva, N: N, IC: C, OC: s.R + s.Dr)
        // subtle: q was rotated in place, so its gradient is un-rotated in place.
        ropeBackward(g.dq + s.Dn, dInStride: H * s.Dqk, g.dq + s.Dn, dOutStride: H * s.Dqk, heads: H,
                     headStride: s.Dqk, cos, sin, N: N, T: s.T, D: s.Dr, positions: rows.position)
        if let qa = a.qa {
            f?.restore(a.qan!, rows: N, cols: s.Rq, cache: k!.qan!)
            linearBackward(f, g.dqan!, dw.q, g.dq, a.qan!, w.q, N: N, IC: s.Rq, OC: H * s.Dqk)
            rmsnormBackward(g.dqa!, dInStride: s.Rq, dw.qaNorm!, g.dqan!, qa, inStride: s.Rq, w.qaNorm!,
                            a.qaRstd!, N: N, C: s.Rq)
            linearBackward(f, g.dln1, dw.qa!, g.dqa!, a.ln1, w.qa!, N: N, IC: C, OC: s.Rq)
        } else {
            linearBackward(f, g.dln1, dw.q, g.dq, a.ln1, w.q, N: N, IC: C, OC: H * s.Dqk)
        }
        for i in 0..<N * C { dx[i] += g.dx2[i] }
        rmsnormBackward(dx, dInStride: C, dw.ln1, g.dln1, a.x, inStride: C, w.ln1, a.rstd1, N: N, C: C)
    }
}
