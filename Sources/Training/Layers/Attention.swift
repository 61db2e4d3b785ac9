// Attention core of Multi-head Latent Attention: causal softmax(q·k/√Dqk)·v per (sequence, head), where
// k of head h is [k_nope_h ; k_rope] with one RoPE key shared by all heads (the decoupled key).
// Shapes: q (N, H, Dn+Dr) per head [nope | rope]; kv (N, H, Dn+Dv) per head [k_nope | v] (transformers'
// kv_b_proj layout); kr (N, Dr); out (N, H, Dv); probs (B, H, T, T), cached for backward; N = B·T.
// Segments: with `segmentStart` (N), position t of row b attends to positions segmentStart[b·T+t]...t
// only (packed rows hold several documents); without it, to 0...t.
//
// Schedule: the B·H (sequence, head) pairs are split over the workers, each running its own GEMMs with
// OpenBLAS on one thread (the pairs are small: their GEMMs on two BLAS threads ran at 60–80 GFLOP/s in
// the trainer; a micro-benchmark of the blocked score GEMMs gave 81–86 on two BLAS threads and 95–110
// with one pair per core). Per pair, the head's key [k_nope_h | k_rope] is copied into the worker's
// (T, Dqk) buffer so scores are one GEMM with K = Dqk, and rows are taken in blocks of
// `attentionBlockRows`: block [r0, r1) multiplies only against columns 0..<r1, skipping the masked upper
// blocks (at T = 512: 62.5% of the full T×T work). Columns at or past a block's end are never written
// or read, so they keep the zeros the buffer started with. Each pair's result is computed by one thread in
// a fixed order, and the shared key's gradient is summed over heads in head order afterwards: results do
// not depend on the number of workers.
// Costs: about 2·B·H·T²·(Dn+Dr+Dv)·(5/8) flops forward at T = 512, twice that backward; probs take
// B·H·T² scalars; the workspace (`AttentionWorkspace`) W·(T² + 2·T·Dqk) + B·H·T·Dr for W workers.
//
// Performance notes (AMD EPYC, 2 cores, the bench-train model): the first version ran full T×T GEMMs
// per pair on two BLAS threads, the nope and rope parts of the scores separately (K = 64 and 32): those
// GEMMs ran at 60–80 GFLOP/s against 100–116 for the model's large ones and took ~10% of a step. This
// schedule: 960 tokens/s on average over 11 alternated pairs of 8-step runs against 903 (+6%, faster in
// 9 of 11).

/// Rows per block of the causal schedule.
let attentionBlockRows = 128

/// The dimensions of the attention core.
struct AttentionShape {
    var B, T, H, Dn, Dr, Dv: Int
    var Dqk: Int { Dn + Dr }
    var kvWidth: Int { Dn + Dv }
}

/// Scratch of the attention core, shared by all layers (one call at a time): per worker a (T, T) block
/// for the probabilities' gradient and the head's key [k_nope | k_rope] with its gradient, (T, Dqk) each;
/// then the RoPE key's gradient of every (sequence, head) pair, (B·H, T, Dr).
struct AttentionWorkspace<S: TrainingScalar> {
    let base: UnsafeMutablePointer<S>
    /// Workers the workspace has room for (calls use at most this many).
    let workers: Int
    let shape: AttentionShape

    static func count(_ s: AttentionShape, workers: Int) -> Int {
        workers * (s.T * s.T + 2 * s.T * s.Dqk) + s.B * s.H * s.T * s.Dr
    }
    private var perWorker: Int { shape.T * shape.T + 2 * shape.T * shape.Dqk }
    func scores(_ w: Int) -> UnsafeMutablePointer<S> { base + w * perWorker }
    func keys(_ w: Int) -> UnsafeMutablePointer<S> { base + w * perWorker + shape.T * shape.T }
    func dKeys(_ w: Int) -> UnsafeMutablePointer<S> { keys(w) + shape.T * shape.Dqk }
    func ropeGrad(_ pair: Int) -> UnsafeMutablePointer<S> { base + workers * perWorker + pair * shape.T * shape.Dr }
}

/// Runs `body(pair, worker)` for every (sequence, head) pair, split over the workers, with OpenBLAS on
/// one thread; a worker's pairs run in order.
private func forEachPair<S>(_ s: AttentionShape, _ work: AttentionWorkspace<S>, _ body: (Int, Int) -> Void) {
    precondition(s.B == work.shape.B && s.T == work.shape.T && s.H == work.shape.H && s.Dqk == work.shape.Dqk
                 && s.Dr == work.shape.Dr, "attention workspace made for another shape")
    let pairs = s.B * s.H
    let workers = max(1, min(trainingThreads, work.workers, pairs))
    withSingleThreadedBLAS {
        parallelFor(workers, work: s.T * s.T * s.Dqk) { ws in
            for w in ws {
                for pair in (pairs * w / workers)..<(pairs * (w + 1) / workers) { body(pair, w) }
            }
        }
    }
}

/// Copies head h's key of sequence b, [k_nope_h | k_rope], into `keys` (T, Dqk).
@inline(__always)
private func gatherKeys<S>(_ keys: UnsafeMutablePointer<S>, kh: UnsafePointer<S>, kr: UnsafePointer<S>,
                           _ s: AttentionShape) {
    let (Dn, Dr, Dqk, stride) = (s.Dn, s.Dr, s.Dqk, s.H * s.kvWidth)
    for t in 0..<s.T {
        (keys + t * Dqk).update(from: kh + t * stride, count: Dn)
        (keys + t * Dqk + Dn).update(from: kr + t * Dr, count: Dr)
    }
}

/// out = causal softmax(scale·q·k)·v for every (b, h); probs cached. `blockRows` (a parameter for the tests)
/// must be the same in forward and backward.
/// - Complexity: O(B·H·T²·(Dqk+Dv)).
func attentionForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ probs: UnsafeMutablePointer<S>,
                                         _ q: UnsafePointer<S>, _ kv: UnsafePointer<S>, _ kr: UnsafePointer<S>,
                                         _ s: AttentionShape, scale: S, work: AttentionWorkspace<S>,
                                         segmentStart: UnsafePointer<Int32>? = nil, blockRows: Int = attentionBlockRows) {
    let (T, H, Dn, Dv, Dqk, W) = (s.T, s.H, s.Dn, s.Dv, s.Dqk, s.kvWidth)
    let (op, pp) = (SendablePointer(out), SendablePointer(probs))
    let (qp, kvp, krp) = (SendablePointer(UnsafeMutablePointer(mutating: q)), SendablePointer(UnsafeMutablePointer(mutating: kv)),
                          SendablePointer(UnsafeMutablePointer(mutating: kr)))
    let st = segmentStart.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    forEachPair(s, work) { pair, w in
        let (b, h) = (pair / H, pair % H)
        let P = pp.p + pair * T * T, keys = work.keys(w)
        let qh = qp.p + b * T * H * Dqk + h * Dqk, kh = kvp.p + b * T * H * W + h * W
        let starts = st.map { $0.p + b * T }
        gatherKeys(keys, kh: kh, kr: krp.p + b * T * s.Dr, s)
        for r0 in stride(from: 0, to: T, by: blockRows) {
            let r1 = min(r0 + blockRows, T)
            S.gemm(transA: false, transB: true, M: r1 - r0, N: r1, K: Dqk, alpha: scale, A: qh + r0 * H * Dqk, lda: H * Dqk,
                   B: keys, ldb: Dqk, beta: 0, C: P + r0 * T, ldc: T)
            for t in r0..<r1 {
                let row = P + t * T
                let lo = starts.map { Int($0[t]) } ?? 0
                let sum = S.expShiftedInPlace(row + lo, count: t + 1 - lo).sum
                S.scaleInPlace(row + lo, count: t + 1 - lo, by: 1 / sum)
                for j in 0..<lo { row[j] = 0 }
                for j in (t + 1)..<r1 { row[j] = 0 }
            }
            S.gemm(transA: false, transB: false, M: r1 - r0, N: Dv, K: r1, alpha: 1, A: P + r0 * T, lda: T,
                   B: kh + Dn, ldb: H * W, beta: 0, C: op.p + (b * T + r0) * H * Dv + h * Dv, ldc: H * Dv)
        }
    }
}

/// dq, dkv, dkr += gradients of `attentionForward`.
/// dP = dO·vᵀ; dV = Pᵀ·dO; dS = P ⊙ (dP − Σ_j dP⊙P)·scale; dq = dS·k; dk = dSᵀ·q.
/// - Complexity: O(B·H·T²·(Dqk+Dv)).
func attentionBackward<S: TrainingScalar>(_ dq: UnsafeMutablePointer<S>, _ dkv: UnsafeMutablePointer<S>,
                                          _ dkr: UnsafeMutablePointer<S>, _ dOut: UnsafePointer<S>,
                                          _ probs: UnsafePointer<S>, _ q: UnsafePointer<S>, _ kv: UnsafePointer<S>,
                                          _ kr: UnsafePointer<S>, _ s: AttentionShape, scale: S,
                                          work: AttentionWorkspace<S>, segmentStart: UnsafePointer<Int32>? = nil,
                                          blockRows: Int = attentionBlockRows) {
    let (T, H, Dn, Dr, Dv, Dqk, W) = (s.T, s.H, s.Dn, s.Dr, s.Dv, s.Dqk, s.kvWidth)
    let (dqp, dkvp, dop) = (SendablePointer(dq), SendablePointer(dkv), SendablePointer(UnsafeMutablePointer(mutating: dOut)))
    let (pp, qp, kvp, krp) = (SendablePointer(UnsafeMutablePointer(mutating: probs)), SendablePointer(UnsafeMutablePointer(mutating: q)),
                              SendablePointer(UnsafeMutablePointer(mutating: kv)), SendablePointer(UnsafeMutablePointer(mutating: kr)))
    let st = segmentStart.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    forEachPair(s, work) { pair, w in
        let (b, h) = (pair / H, pair % H)
        let P = pp.p + pair * T * T, dS = work.scores(w), keys = work.keys(w), dKeys = work.dKeys(w)
        let qh = qp.p + b * T * H * Dqk + h * Dqk, kh = kvp.p + b * T * H * W + h * W
        let dqh = dqp.p + b * T * H * Dqk + h * Dqk, dkh = dkvp.p + b * T * H * W + h * W
        let dOh = dop.p + b * T * H * Dv + h * Dv
        let starts = st.map { $0.p + b * T }
        gatherKeys(keys, kh: kh, kr: krp.p + b * T * Dr, s)
        dKeys.update(repeating: 0, count: T * Dqk)
        for r0 in stride(from: 0, to: T, by: blockRows) {
            let (r1, m) = (min(r0 + blockRows, T), min(blockRows, T - r0))
            // 1. dP = dO · vᵀ (into dS's rows) and dV += Pᵀ · dO
            S.gemm(transA: false, transB: true, M: m, N: r1, K: Dv, alpha: 1, A: dOh + r0 * H * Dv, lda: H * Dv,
                   B: kh + Dn, ldb: H * W, beta: 0, C: dS + r0 * T, ldc: T)
            S.gemm(transA: true, transB: false, M: r1, N: Dv, K: m, alpha: 1, A: P + r0 * T, lda: T, B: dOh + r0 * H * Dv,
                   ldb: H * Dv, beta: 1, C: dkh + Dn, ldc: H * W)
            // 2. softmax backward in place
            for t in r0..<r1 {
                let d = dS + t * T, p = P + t * T
                let lo = starts.map { Int($0[t]) } ?? 0
                var dot: S = 0
                for j in lo...t { dot += d[j] * p[j] }
                for j in 0..<lo { d[j] = 0 }
                for j in lo...t { d[j] = p[j] * (d[j] - dot) * scale }
                for j in (t + 1)..<r1 { d[j] = 0 }
            }
            // 3. dq += dS · k and dk += dSᵀ · q, k = [k_nope | k_rope]
            S.gemm(transA: false, transB: false, M: m, N: Dqk, K: r1, alpha: 1, A: dS + r0 * T, lda: T, B: keys, ldb: Dqk,
                   beta: 1, C: dqh + r0 * H * Dqk, ldc: H * Dqk)
            S.gemm(transA: true, transB: false, M: r1, N: Dqk, K: m, alpha: 1, A: dS + r0 * T, lda: T, B: qh + r0 * H * Dqk,
                   ldb: H * Dqk, beta: 1, C: dKeys, ldc: Dqk)
        }
        // 4. scatter: k_nope's gradient to dkv, k_rope's to this pair's slot (summed over heads below)
        let rope = work.ropeGrad(pair)
        for t in 0..<T {
            let src = dKeys + t * Dqk, dst = dkh + t * H * W
            for j in 0..<Dn { dst[j] += src[j] }
            (rope + t * Dr).update(from: src + Dn, count: Dr)
        }
    }
    for b in 0..<s.B {
        let dst = dkr + b * T * Dr
        for h in 0..<H {
            let src = work.ropeGrad(b * H + h)
            for i in 0..<T * Dr { dst[i] += src[i] }
        }
    }
}
