// Output head + cross-entropy, fused and chunked: logits = hidden · Wᵀ for `chunk` rows at a time, then
// log-softmax and the loss, and (when training) the gradient right away, since the loss is the end of
// the graph: dlogits = (softmax − onehot)·dScale, dHidden += dlogits·W, dW += dlogitsᵀ·hidden.
// Policy: the (N, V) logits never exist at once (N=4096, V=32768 would be 512 MB); a (chunk, V)
// scratch does. Backward of the model then starts from dHidden.
// Shapes: hidden (N, C) with N = B·T; W (V, C); targets read as tokens[b·rowStride + t].
// Masking: with `limit` (N), the target of position n (at row position t + offset) counts only when
// t + offset ≤ limit[n]; a masked position adds nothing to the loss or the gradients (its target is
// not even read).
// Costs: 2·N·C·V flops forward, 4·N·C·V more with gradients; one exp per logit.
// Performance notes: the first version took exp twice per logit (sum, then probabilities) and spent 22%
// of a `small` step here; keeping e^(z − max) in place halved that, and the vectorized row kernels of
// `VectorMath.swift` took the rest from 17% to a few percent.

/// Sum over the N rows (the unmasked ones, with `limit`) of −log softmax(hidden·Wᵀ)[target]; with
/// `dHidden`, also the gradients scaled by `dScale` (dHidden, dWeight accumulate).
/// - Complexity: O(N·C·V).
func headCrossEntropy<S: TrainingScalar>(_ hidden: UnsafePointer<S>, _ weight: UnsafePointer<S>,
                                         targets: UnsafePointer<Int32>, rowStride: Int, B: Int, T: Int, C: Int, V: Int,
                                         scratch: UnsafeMutablePointer<S>, chunk: Int,
                                         dHidden: UnsafeMutablePointer<S>?, dWeight: UnsafeMutablePointer<S>?,
                                         dScale: S, limit: UnsafePointer<Int32>? = nil, offset: Int = 1) -> Double {
    let N = B * T
    // Per-row losses live on the stack (chunk doubles), so a step allocates nothing here.
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: chunk) { buffer in
        headCrossEntropyChunks(hidden, weight, targets, rowStride, N, T, C, V, scratch, chunk, dHidden, dWeight, dScale,
                               buffer.baseAddress!, limit, offset)
    }
}

/// The positions whose target `offset` ahead is unmasked by `limit` (all N without it).
func unmaskedCount(_ limit: UnsafePointer<Int32>?, N: Int, T: Int, offset: Int) -> Int {
    guard let limit else { return N }
    var n = 0
    for i in 0..<N where i % T + offset <= Int(limit[i]) { n += 1 }
    return n
}

private func headCrossEntropyChunks<S: TrainingScalar>(_ hidden: UnsafePointer<S>, _ weight: UnsafePointer<S>,
                                                       _ targets: UnsafePointer<Int32>, _ rowStride: Int, _ N: Int, _ T: Int,
                                                       _ C: Int, _ V: Int, _ scratch: UnsafeMutablePointer<S>, _ chunk: Int,
                                                       _ dHidden: UnsafeMutablePointer<S>?, _ dWeight: UnsafeMutablePointer<S>?,
                                                       _ dScale: S, _ losses: UnsafeMutablePointer<Double>,
                                                       _ limit: UnsafePointer<Int32>?, _ offset: Int) -> Double {
    var total = 0.0
    var lo = 0
    let lp = SendablePointer(losses), sp = SendablePointer(scratch)
    let tg = SendablePointer(UnsafeMutablePointer(mutating: targets))
    let lim = limit.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    while lo < N {
        let rows = min(chunk, N - lo)
        matmulForward(scratch, hidden + lo * C, weight, N: rows, IC: C, OC: V)
        let withGrad = dHidden != nil
        parallelFor(rows, work: V) { r in
            for i in r {
                let n = lo + i
                let row = sp.p + i * V
                if let lim, n % T + offset > Int(lim.p[n]) {
                    lp.p[i] = 0
                    if withGrad { for j in 0..<V { row[j] = 0 } }
                    continue
                }
                let target = Int(tg.p[(n / T) * rowStride + n % T])
                let targetLogit = row[target]
                // One exp per logit: keep e^(z − max) in place, then scale it into the gradient.
                let (mx, sum) = S.expShiftedInPlace(row, count: V)
                lp.p[i] = Double(mx + S.log(sum) - targetLogit)
                if withGrad {
                    S.scaleInPlace(row, count: V, by: dScale / sum)
                    row[target] -= dScale
                }
            }
        }
        for i in 0..<rows { total += losses[i] }
        if let dHidden, let dWeight {
            matmulBackward(dHidden + lo * C, dWeight, scratch, hidden + lo * C, weight, N: rows, IC: C, OC: V)
        }
        lo += rows
    }
    return total
}
