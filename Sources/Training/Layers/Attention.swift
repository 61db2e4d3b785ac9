// Attention core of Multi-head Latent Attention: causal softmax(q·k/√Dqk)·v per (sequence, head), where
// k of head h is [k_nope_h ; k_rope] with one RoPE key shared by all heads (the decoupled key). Scores
// are two GEMMs (nope part + shared rope part), so the shared key is never copied per head.
// Shapes: q (N, H, Dn+Dr) per head [nope | rope]; kv (N, H, Dn+Dv) per head [k_nope | v] (transformers'
// kv_b_proj layout); kr (N, Dr); out (N, H, Dv); probs (B, H, T, T), cached for backward; N = B·T.
// Segments: with `segmentStart` (N), position t of row b attends to positions segmentStart[b·T+t]...t
// only (packed rows hold several documents); without it, to 0...t.
// Costs: about 2·B·H·T²·(Dn+Dr+Dv) flops forward (the masked half is computed and discarded: one GEMM
// is faster than T small ones here), twice that backward; probs take B·H·T² scalars.
//
// Performance notes: full T×T GEMMs per head beat per-row dot products by ~10× at T=512 on OpenBLAS;
// the upper triangle is wasted work, which a blocked causal kernel could save later.

/// The dimensions of the attention core.
struct AttentionShape {
    var B, T, H, Dn, Dr, Dv: Int
    var Dqk: Int { Dn + Dr }
    var kvWidth: Int { Dn + Dv }
}

/// out = causal softmax(scale·(qₙ·kₙ + q_r·k_r))·v for every (b, h); probs cached.
/// - Complexity: O(B·H·T²·(Dqk+Dv)).
func attentionForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ probs: UnsafeMutablePointer<S>,
                                         _ q: UnsafePointer<S>, _ kv: UnsafePointer<S>, _ kr: UnsafePointer<S>,
                                         _ s: AttentionShape, scale: S, segmentStart: UnsafePointer<Int32>? = nil) {
    let (T, H, Dn, Dr, Dv, Dqk, W) = (s.T, s.H, s.Dn, s.Dr, s.Dv, s.Dqk, s.kvWidth)
    for b in 0..<s.B {
        let starts = segmentStart.map { $0 + b * T }
        for h in 0..<H {
            let P = probs + (b * H + h) * T * T
            let qh = q + b * T * H * Dqk + h * Dqk, kh = kv + b * T * H * W + h * W
            S.gemm(transA: false, transB: true, M: T, N: T, K: Dn, alpha: scale, A: qh, lda: H * Dqk,
                   B: kh, ldb: H * W, beta: 0, C: P, ldc: T)
            S.gemm(transA: false, transB: true, M: T, N: T, K: Dr, alpha: scale, A: qh + Dn, lda: H * Dqk,
                   B: kr + b * T * Dr, ldb: Dr, beta: Dn == 0 ? 0 : 1, C: P, ldc: T)
            causalSoftmax(P, T: T, starts: starts)
            S.gemm(transA: false, transB: false, M: T, N: Dv, K: T, alpha: 1, A: P, lda: T, B: kh + Dn, ldb: H * W,
                   beta: 0, C: out + b * T * H * Dv + h * Dv, ldc: H * Dv)
        }
    }
}

/// Row t of the (T, T) scores becomes softmax over columns lo...t (lo = starts[t], or 0); the rest 0.
private func causalSoftmax<S: TrainingScalar>(_ P: UnsafeMutablePointer<S>, T: Int, starts: UnsafePointer<Int32>?) {
    let pp = SendablePointer(P), st = starts.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    parallelFor(T, work: T) { rows in
        for t in rows {
            let row = pp.p + t * T
            let lo = st.map { Int($0.p[t]) } ?? 0
            var mx = row[lo]
            for j in lo...t where row[j] > mx { mx = row[j] }
            var sum: S = 0
            for j in lo...t { let e = S.exp(row[j] - mx); row[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0..<lo { row[j] = 0 }
            for j in lo...t { row[j] *= inv }
            for j in (t + 1)..<T { row[j] = 0 }
        }
    }
}

/// dq, dkv, dkr += gradients of `attentionForward`. `scratch` holds T·T scalars.
/// dP = dO·vᵀ; dV = Pᵀ·dO; dS = P ⊙ (dP − Σ_j dP⊙P)·scale; dq = dS·k; dk = dSᵀ·q.
/// - Complexity: O(B·H·T²·(Dqk+Dv)).
func attentionBackward<S: TrainingScalar>(_ dq: UnsafeMutablePointer<S>, _ dkv: UnsafeMutablePointer<S>,
                                          _ dkr: UnsafeMutablePointer<S>, _ dOut: UnsafePointer<S>,
                                          _ probs: UnsafePointer<S>, _ q: UnsafePointer<S>, _ kv: UnsafePointer<S>,
                                          _ kr: UnsafePointer<S>, _ scratch: UnsafeMutablePointer<S>,
                                          _ s: AttentionShape, scale: S, segmentStart: UnsafePointer<Int32>? = nil) {
    let (T, H, Dn, Dr, Dv, Dqk, W) = (s.T, s.H, s.Dn, s.Dr, s.Dv, s.Dqk, s.kvWidth)
    for b in 0..<s.B {
        let st = segmentStart.map { SendablePointer(UnsafeMutablePointer(mutating: $0 + b * T)) }
        for h in 0..<H {
            let P = probs + (b * H + h) * T * T
            let qh = q + b * T * H * Dqk + h * Dqk, kh = kv + b * T * H * W + h * W
            let dqh = dq + b * T * H * Dqk + h * Dqk, dkh = dkv + b * T * H * W + h * W
            let dOh = dOut + b * T * H * Dv + h * Dv
            // 1. dP = dO · vᵀ and dV += Pᵀ · dO
            S.gemm(transA: false, transB: true, M: T, N: T, K: Dv, alpha: 1, A: dOh, lda: H * Dv, B: kh + Dn,
                   ldb: H * W, beta: 0, C: scratch, ldc: T)
            S.gemm(transA: true, transB: false, M: T, N: Dv, K: T, alpha: 1, A: P, lda: T, B: dOh, ldb: H * Dv,
                   beta: 1, C: dkh + Dn, ldc: H * W)
            // 2. softmax backward in place: dS
            let sp = SendablePointer(scratch), pp = SendablePointer(UnsafeMutablePointer(mutating: P))
            parallelFor(T, work: T) { rows in
                for t in rows {
                    let d = sp.p + t * T, p = pp.p + t * T
                    let lo = st.map { Int($0.p[t]) } ?? 0
                    var dot: S = 0
                    for j in lo...t { dot += d[j] * p[j] }
                    for j in 0..<lo { d[j] = 0 }
                    for j in lo...t { d[j] = p[j] * (d[j] - dot) * scale }
                    for j in (t + 1)..<T { d[j] = 0 }
                }
            }
            // 3. dq += dS · k (nope part, then the shared rope key), dk += dSᵀ · q
            S.gemm(transA: false, transB: false, M: T, N: Dn, K: T, alpha: 1, A: scratch, lda: T, B: kh, ldb: H * W,
                   beta: 1, C: dqh, ldc: H * Dqk)
            S.gemm(transA: false, transB: false, M: T, N: Dr, K: T, alpha: 1, A: scratch, lda: T, B: kr + b * T * Dr,
                   ldb: Dr, beta: 1, C: dqh + Dn, ldc: H * Dqk)
            S.gemm(transA: true, transB: false, M: T, N: Dn, K: T, alpha: 1, A: scratch, lda: T, B: qh, ldb: H * Dqk,
                   beta: 1, C: dkh, ldc: H * W)
            S.gemm(transA: true, transB: false, M: T, N: Dr, K: T, alpha: 1, A: scratch, lda: T, B: qh + Dn,
                   ldb: H * Dqk, beta: 1, C: dkr + b * T * Dr, ldc: Dr)
        }
    }
}
