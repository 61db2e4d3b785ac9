// DeepSeekMoE: shared experts + fine-grained routed experts (DeepSeek-V3 §2.1.2, transformers'
// DeepseekV3MoE / DeepseekV3TopkRouter with n_group = topk_group = 1).
//   s = sigmoid(x·Wᵀ)                                 affinities, (N, E)
//   chosen = top-K of s + bias                        bias only chooses (aux-loss-free balancing)
//   g = s[chosen] / Σ s[chosen] · routed_scaling      gates from the unbiased affinities
//   out += shared(x) + Σ_k g_k · expert_{chosen_k}(x)
// Tokens are gathered per expert into one contiguous block each, so every expert runs as three GEMMs
// (`ffnForward`); the dispatch (slot of every (token, k), token of every slot) is cached for backward.
// The sequence-wise balance loss α Σ_i f_i P_i (per sequence, averaged over the B sequences) is computed
// here and its gradient flows into s; f is counted from the picks and carries no gradient.
// Padding: with `real` (N, 1 or 0), positions whose input is padding still run through the layer but are
// left out of the expert load and of the balance loss (T in f and P becomes the row's real positions).
// Shapes: x (N, C); gate weight (E, C); bias (E); experts (I, C)/(I, C)/(C, I); shared width Is.
// Costs: 2·N·C·E (router) + 6·N·K·C·I (routed) + 6·N·C·Is (shared) flops forward.

/// Sizes of one MoE layer.
struct MoEShape {
    var B, T, C, E, K, I, Is: Int
    var routedScale: Double
    var balanceAlpha: Double
    var N: Int { B * T }
}

/// Pointers of one MoE layer's weights (or their gradients, same layout).
struct MoEWeights<S: TrainingScalar> {
    var gate: UnsafeMutablePointer<S>       // (E, C)
    var bias: UnsafeMutablePointer<S>       // (E), e_score_correction_bias; no gradient
    var experts: [FFNWeights<S>]            // E of them
    var shared: FFNWeights<S>
}

/// Cached forward state and scratch of one MoE layer (activations arena + index arena).
struct MoEBuffers<S: TrainingScalar> {
    var logits, scores, gates: UnsafeMutablePointer<S>   // (N, E), (N, E), (N, K)
    var xg, yg: UnsafeMutablePointer<S>                  // (N·K, C) gathered inputs / expert outputs
    var routed: FFNBuffers<S>                            // (N·K, I)
    var shared: FFNBuffers<S>                            // (N, Is)
    var balanceF: UnsafeMutablePointer<S>                // (B, E) f_i per sequence
    var picks, slotOf, tokenOf, offsets: UnsafeMutablePointer<Int32>  // (N, K), (N, K), (N·K), (E+1)
    /// fp8: keeps xg (the routed experts' input); xg is then a buffer shared by all layers.
    var xgCache: FP8Cache<S>? = nil
}

/// Gradient scratch of one MoE layer (zeroed before backward).
struct MoEGradBuffers<S: TrainingScalar> {
    var dxg, dyg: UnsafeMutablePointer<S>     // (N·K, C)
    var routed: FFNBuffers<S>                 // (N·K, I)
    var shared: FFNBuffers<S>                 // (N, Is)
    var dlogits, dgates: UnsafeMutablePointer<S>  // (N, E), (N, K)
}

/// out += MoE(x); returns the balance loss (already multiplied by α). `load` (E) += tokens per expert.
/// - Complexity: see the file header.
func moeForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, _ w: MoEWeights<S>,
                                   _ a: MoEBuffers<S>, _ s: MoEShape, load: UnsafeMutablePointer<Int>,
                                   real: UnsafePointer<S>? = nil, fp8: FP8Linear<S>? = nil,
                                   routerInput: UnsafePointer<S>? = nil) -> Double {
    let (N, C, E, K, I) = (s.N, s.C, s.E, s.K, s.I)
    // 1. Router (FP32 even in fp8 mode, on `routerInput`: x before quantization): affinities, biased
    //    top-K, normalized gates.
    matmulForward(a.logits, routerInput ?? x, w.gate, N: N, IC: C, OC: E)
    for i in 0..<N * E { a.scores[i] = sigmoid(a.logits[i]) }
    for n in 0..<N {
        let sc = a.scores + n * E
        var chosenSum: S = 0
        for k in 0..<K {
            var best = -1
            var bestValue: S = 0
            for e in 0..<E {
                var taken = false
                for j in 0..<k where a.picks[n * K + j] == Int32(e) { taken = true }
                if taken { continue }
                let v = sc[e] + w.bias[e]
                if best < 0 || v > bestValue { best = e; bestValue = v }
            }
            a.picks[n * K + k] = Int32(best)
            chosenSum += sc[best]
        }
        for k in 0..<K {
            a.gates[n * K + k] = sc[Int(a.picks[n * K + k])] / chosenSum * S(s.routedScale)
        }
    }
    // 2. Dispatch: count per expert, prefix offsets, then slots in (token, k) order.
    for e in 0...E { a.offsets[e] = 0 }
    for i in 0..<N * K { a.offsets[Int(a.picks[i]) + 1] += 1 }
    if let real {
        for i in 0..<N * K where real[i / K] != 0 { load[Int(a.picks[i])] += 1 }
    } else {
        for e in 0..<E { load[e] += Int(a.offsets[e + 1]) }
    }
    for e in 0..<E { a.offsets[e + 1] += a.offsets[e] }
    // subtle: balanceF's first row serves as the per-expert fill cursor here; step 5 overwrites it.
    for e in 0..<E { a.balanceF[e] = 0 }
    for i in 0..<N * K {
        let e = Int(a.picks[i])
        let slot = Int(a.offsets[e]) + Int(a.balanceF[e])
        a.balanceF[e] += 1
        a.slotOf[i] = Int32(slot)
        a.tokenOf[slot] = Int32(i / K)
    }
    let xs = SendablePointer(UnsafeMutablePointer(mutating: x)), xg = SendablePointer(a.xg)
    let tok = SendablePointer(a.tokenOf)
    parallelFor(N * K, work: C) { r in
        for slot in r { (xg.p + slot * C).update(from: xs.p + Int(tok.p[slot]) * C, count: C) }
    }
    // subtle: x was quantized in 1×128 tiles, so its gathered rows quantize to the same codes.
    if let fp8 { fp8.keep(a.xg, rows: N * K, cols: C, cache: a.xgCache!) }
    // 3. Experts as GEMMs on their blocks; shared experts on all tokens.
    for e in 0..<E {
        let lo = Int(a.offsets[e]), rows = Int(a.offsets[e + 1]) - lo
        ffnForward(a.yg + lo * C, a.xg + lo * C, w.experts[e], a.routed.advanced(by: lo, I: I), rows: rows, C: C, I: I, fp8: fp8)
    }
    ffnForward(out, x, w.shared, a.shared, rows: N, C: C, I: s.Is, accumulate: true, fp8: fp8)
    // 4. Combine: out[n] += Σ_k g·y[slot].
    let op = SendablePointer(out), yg = SendablePointer(a.yg), gp = SendablePointer(a.gates), so = SendablePointer(a.slotOf)
    parallelFor(N, work: K * C) { r in
        for n in r {
            let o = op.p + n * C
            for k in 0..<K {
                let g = gp.p[n * K + k], y = yg.p + Int(so.p[n * K + k]) * C
                for c in 0..<C { o[c] += g * y[c] }
            }
        }
    }
    // 5. Sequence-wise balance loss over each row's real positions (T_b of them):
    //    f_i = E/(K·T_b)·count_i, P_i = mean_t s_i/Σ_j s_j.
    var loss = 0.0
    for b in 0..<s.B {
        let f = a.balanceF + b * E
        for e in 0..<E { f[e] = 0 }
        let Tb = realCount(real, row: b, T: s.T)
        if Tb == 0 { continue }
        for t in 0..<s.T where real?[b * s.T + t] ?? 1 != 0 {
            for k in 0..<K { f[Int(a.picks[(b * s.T + t) * K + k])] += 1 }
        }
        for e in 0..<E { f[e] *= S(E) / S(K * Tb) }
        if s.balanceAlpha == 0 { continue }
        for t in 0..<s.T where real?[b * s.T + t] ?? 1 != 0 {
            let sc = a.scores + (b * s.T + t) * E
            var z: S = 0
            for e in 0..<E { z += sc[e] }
            for e in 0..<E { loss += Double(f[e] * sc[e] / z) / Double(Tb) }
        }
    }
    return loss * s.balanceAlpha / Double(s.B)
}

/// dx += gradient of `moeForward` (incl. the balance loss, seeded with dBalance = 1), weight gradients +=.
/// - Complexity: twice the forward flops.
func moeBackward<S: TrainingScalar>(_ dx: UnsafeMutablePointer<S>, _ dw: MoEWeights<S>, _ dOut: UnsafePointer<S>,
                                    _ x: UnsafePointer<S>, _ w: MoEWeights<S>, _ a: MoEBuffers<S>,
                                    _ d: MoEGradBuffers<S>, _ s: MoEShape, real: UnsafePointer<S>? = nil,
                                    fp8: FP8Linear<S>? = nil, routerInput: UnsafePointer<S>? = nil) {
    let (N, C, E, K, I) = (s.N, s.C, s.E, s.K, s.I)
    // 4'. Combine: dy[slot] = g·dOut[n]; dg = dOut[n]·y[slot].
    let dop = SendablePointer(UnsafeMutablePointer(mutating: dOut)), yg = SendablePointer(a.yg)
    let dyg = SendablePointer(d.dyg), gp = SendablePointer(a.gates), dgp = SendablePointer(d.dgates)
    let so = SendablePointer(a.slotOf)
    parallelFor(N, work: K * C) { r in
        for n in r {
            let dO = dop.p + n * C
            for k in 0..<K {
                let slot = Int(so.p[n * K + k]), y = yg.p + slot * C, dy = dyg.p + slot * C, g = gp.p[n * K + k]
                var dot: S = 0
                for c in 0..<C { dy[c] += g * dO[c]; dot += dO[c] * y[c] }
                dgp.p[n * K + k] += dot
            }
        }
    }
    // 3'. Shared and routed experts.
    ffnBackward(dx, dw.shared, dOut, x, w.shared, a.shared, d.shared, rows: N, C: C, I: s.Is, fp8: fp8)
    if let fp8 { fp8.restore(a.xg, rows: N * K, cols: C, cache: a.xgCache!) }
    for e in 0..<E {
        let lo = Int(a.offsets[e]), rows = Int(a.offsets[e + 1]) - lo
        ffnBackward(d.dxg + lo * C, dw.experts[e], d.dyg + lo * C, a.xg + lo * C, w.experts[e],
                    a.routed.advanced(by: lo, I: I), d.routed.advanced(by: lo, I: I), rows: rows, C: C, I: I, fp8: fp8)
    }
    // 2'. Scatter the gathered input gradients back to their tokens (each token owns its row).
    let dxp = SendablePointer(dx), dxg = SendablePointer(d.dxg)
    parallelFor(N, work: K * C) { r in
        for n in r {
            let o = dxp.p + n * C
            for k in 0..<K {
                let g = dxg.p + Int(so.p[n * K + k]) * C
                for c in 0..<C { o[c] += g[c] }
            }
        }
    }
    // 1'. Gates → affinities: with S = Σ_chosen s, g_k = r·s_k/S, ds_m = r/S·(dg_m − Σ_k dg_k·s_k/S).
    //     Balance loss: ds'_i = α/B·f_i/T_b, ds_j = (ds'_j − Σ_i ds'_i·s'_i)/Z with Z = Σ_i s_i (real positions).
    let rs = S(s.routedScale)
    var coef: S = 0, coefRow = -1
    for n in 0..<N {
        if n / s.T != coefRow {
            coefRow = n / s.T
            let Tb = realCount(real, row: coefRow, T: s.T)
            coef = Tb == 0 ? 0 : S(s.balanceAlpha) / S(s.B) / S(Tb)
        }
        let sc = a.scores + n * E, dl = d.dlogits + n * E
        var chosenSum: S = 0, weighted: S = 0
        for k in 0..<K { chosenSum += sc[Int(a.picks[n * K + k])] }
        for k in 0..<K { weighted += d.dgates[n * K + k] * sc[Int(a.picks[n * K + k])] / chosenSum }
        for k in 0..<K {
            let e = Int(a.picks[n * K + k])
            dl[e] += rs / chosenSum * (d.dgates[n * K + k] - weighted)
        }
        if s.balanceAlpha != 0 && real?[n] ?? 1 != 0 {
            let f = a.balanceF + (n / s.T) * E
            var z: S = 0, dotFS: S = 0
            for e in 0..<E { z += sc[e] }
            for e in 0..<E { dotFS += coef * f[e] * sc[e] / z }
            for e in 0..<E { dl[e] += (coef * f[e] - dotFS) / z }
        }
        for e in 0..<E { dl[e] *= sc[e] * (1 - sc[e]) }
    }
    matmulBackward(dx, dw.gate, d.dlogits, routerInput ?? x, w.gate, N: N, IC: C, OC: E)
}

/// The real (non-padding) positions of row `row`: T without `real`.
@inline(__always)
func realCount<S: TrainingScalar>(_ real: UnsafePointer<S>?, row: Int, T: Int) -> Int {
    guard let real else { return T }
    var n = 0
    for t in 0..<T where real[row * T + t] != 0 { n += 1 }
    return n
}

/// Aux-loss-free balancing (DeepSeek-V3 §2.1.2): after a step, bias_i += γ·sign(mean load − load_i).
/// - Complexity: O(E).
func moeUpdateBias<S: TrainingScalar>(_ bias: UnsafeMutablePointer<S>, load: UnsafePointer<Int>, E: Int, gamma: Double) {
    var total = 0
    for e in 0..<E { total += load[e] }
    let mean = Double(total) / Double(E)
    for e in 0..<E {
        let l = Double(load[e])
        if l > mean { bias[e] -= S(gamma) } else if l < mean { bias[e] += S(gamma) }
    }
}
