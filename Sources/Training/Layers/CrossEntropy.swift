// Output head + cross-entropy, fused and chunked: logits = hidden · Wᵀ for `chunk` rows at a time, then
// log-softmax and the loss, and (when training) the gradient right away, since the loss is the end of
// the graph: dlogits = (softmax − onehot)·dScale, dHidden += dlogits·W, dW += dlogitsᵀ·hidden.
// Policy: the (N, V) logits never exist at once (N=4096, V=32768 would be 512 MB); a (chunk, V)
// scratch does. Backward of the model then starts from dHidden.
// Shapes: hidden (N, C) with N = B·T; W (V, C); targets read as tokens[b·rowStride + t].
// Costs: 2·N·C·V flops forward, 4·N·C·V more with gradients.

/// Sum over the N rows of −log softmax(hidden·Wᵀ)[target]; with `dHidden`, also the gradients scaled by
/// `dScale` (dHidden, dWeight accumulate).
/// - Complexity: O(N·C·V).
func headCrossEntropy<S: TrainingScalar>(_ hidden: UnsafePointer<S>, _ weight: UnsafePointer<S>,
                                         targets: UnsafePointer<Int32>, rowStride: Int, B: Int, T: Int, C: Int, V: Int,
                                         scratch: UnsafeMutablePointer<S>, chunk: Int,
                                         dHidden: UnsafeMutablePointer<S>?, dWeight: UnsafeMutablePointer<S>?,
                                         dScale: S) -> Double {
    let N = B * T
    var total = 0.0
    var lo = 0
    let losses = UnsafeMutablePointer<Double>.allocate(capacity: chunk)  // chunk doubles; tiny
    defer { losses.deallocate() }
    let lp = SendablePointer(losses), sp = SendablePointer(scratch)
    let tg = SendablePointer(UnsafeMutablePointer(mutating: targets))
    while lo < N {
        let rows = min(chunk, N - lo)
        matmulForward(scratch, hidden + lo * C, weight, N: rows, IC: C, OC: V)
        let withGrad = dHidden != nil
        parallelFor(rows, work: V) { r in
            for i in r {
                let n = lo + i
                let target = Int(tg.p[(n / T) * rowStride + n % T])
                let row = sp.p + i * V
                var mx = row[0]
                for j in 1..<V where row[j] > mx { mx = row[j] }
                var sum: S = 0
                for j in 0..<V { sum += S.exp(row[j] - mx) }
                let lse = mx + S.log(sum)
                lp.p[i] = Double(lse - row[target])
                if withGrad {
                    for j in 0..<V { row[j] = S.exp(row[j] - lse) * dScale }
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
