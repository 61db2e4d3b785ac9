// Inference for evaluation: the main model's forward only (embedding → layers → final norm → lm_head),
// without the multi-token-prediction modules, the losses or any gradient work, and the head evaluated
// only at the positions the caller scores. Used by the Evaluation target (bits per byte).
// Policy: the caller fills the first T ids of every row of `tokens` (row stride `rowLength`; the ids past
// T are not read) and names the scored positions and their target ids; the rows' segments are whatever
// `segmentStart` holds (one segment per row after `resetSegments`, which is what a rolling window needs).
// Costs: the trunk's forward as in training (causal attention in row blocks), then 2·C·V flops per scored
// position for the head, in chunks of at most `headChunk` rows through the existing (chunk, V) scratch.
// Nothing is allocated.
// Performance notes: the head is the largest GEMM at vocab 16384 (2·C·V = 8.4 MFLOP per position for
// `small`, about as much as the whole trunk), so positions that are not scored (the overlapping
// context of a stride < T, padding of short windows) skip it. e^(z − max) is summed in Double so that
// −log p has Float's accuracy in z, not a rounding error growing with V.
import Foundation

extension Model where S == Float {
    /// −ln p(target) of the main head at `count` positions (see `computeTargetNLL`).
    /// subtle: this Float entry point exists so that the generic body is specialized inside this module;
    /// called generically from another module, every kernel ran unspecialized, about 3× slower.
    public func targetNLL(positions: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count: Int,
                          into nll: UnsafeMutablePointer<Double>) {
        computeTargetNLL(positions: positions, targets: targets, count: count, into: nll)
    }
}

extension Model {
    /// −ln p(target) of the main head at `count` positions, after a forward of the trunk on `tokens`.
    /// - Parameters:
    ///   - positions: flat indices b·T + t into the B·T grid, strictly ascending.
    ///   - targets: the id whose probability is read at each position.
    ///   - nll: receives `count` negative log-likelihoods in nats.
    /// - Complexity: the trunk's forward over B·T positions, plus O(count·C·V) for the head.
    func computeTargetNLL(positions: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count: Int,
                          into nll: UnsafeMutablePointer<Double>) {
        let c = config, N = B * T, C = c.hiddenSize, V = c.vocabSize, L = c.numHiddenLayers
        precondition(count >= 0 && count <= N)
        // 1. trunk, as in `forward` (the router's picks go to the scratch counter, not `expertLoad`)
        embeddingForward(xs[0], tokens, rowStride: rowLength, parameter("model.embed_tokens.weight"), B: B, T: T, C: C)
        prepareRows()
        for l in 0..<L { _ = blocks[l].forward(cos: cosT, sin: sinT, rows: rows, countLoad: false, scratchLoad: scratchLoad) }
        // 2. final norm of the scored rows only, packed to the front of `hf` (ascending, so a row never
        //    overwrites one still to be read)
        let norm = parameter("model.norm.weight"), eps = S(c.rmsNormEps)
        for i in 0..<count {
            let p = Int(positions[i])
            precondition(p >= 0 && p < N && (i == 0 || p > Int(positions[i - 1])), "positions must ascend inside B·T")
            rmsnormForward(hf + i * C, rstdF + i, xs[L] + p * C, inStride: C, norm, N: 1, C: C, eps: eps)
        }
        // 3. the head, chunk by chunk: logits, then log-sum-exp minus the target's logit
        let head = parameter("lm_head.weight")
        let sp = SendablePointer(headScratch), np = SendablePointer(nll)
        let tp = SendablePointer(UnsafeMutablePointer(mutating: targets))
        var lo = 0
        while lo < count {
            let rows = min(headChunk, count - lo)
            matmulForward(headScratch, hf + lo * C, head, N: rows, IC: C, OC: V)
            parallelFor(rows, work: V) { r in
                for i in r {
                    let row = sp.p + i * V
                    let target = Int(tp.p[lo + i])
                    precondition(target >= 0 && target < V, "target id outside the vocabulary")
                    let targetLogit = row[target]
                    // The row is scratch: e^(z − max) overwrites it (vectorized for Float).
                    let (mx, sum) = S.expShiftedInPlace(row, count: V)
                    np.p[lo + i] = Double(mx) + Foundation.log(Double(sum)) - Double(targetLogit)
                }
            }
            lo += rows
        }
    }
}
