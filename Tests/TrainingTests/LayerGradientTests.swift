// Every layer's backward against central finite differences in Double, at tiny shapes (B=2, T=3, C=4).
import Testing
@testable import Training

@Suite struct LayerGradientTests {
    let tolerance = 1e-6

    @Test func matmul() {
        let (N, IC, OC) = (6, 4, 5)
        let c = GradCheckCase(inputs: [randomArray(N * IC, seed: 1), randomArray(OC * IC, seed: 2)], outCount: N * OC)
        let err = c.maxError(forward: { c in
            matmulForward(c.out, c.inputs[0], c.inputs[1], N: N, IC: IC, OC: OC); return 0
        }, backward: { c in
            matmulBackward(c.dInputs[0], c.dInputs[1], c.dOut, c.inputs[0], c.inputs[1], N: N, IC: IC, OC: OC)
        })
        #expect(err < tolerance, "matmul max rel error \(err)")
    }

    @Test func embedding() {
        let (B, T, C, V) = (2, 3, 4, 5)
        let tokens: [Int32] = [1, 4, 1, 0, 2, 1]
        let c = GradCheckCase(inputs: [randomArray(V * C, seed: 3)], outCount: B * T * C)
        let err = tokens.withUnsafeBufferPointer { tk in
            c.maxError(forward: { c in
                embeddingForward(c.out, tk.baseAddress!, rowStride: T, c.inputs[0], B: B, T: T, C: C); return 0
            }, backward: { c in
                embeddingBackward(c.dInputs[0], c.dOut, tk.baseAddress!, rowStride: T, B: B, T: T, C: C)
            })
        }
        #expect(err < tolerance, "embedding max rel error \(err)")
    }

    @Test(arguments: [4, 6]) func rmsnorm(inStride: Int) {
        let (N, C) = (6, 4)
        let rstd = UnsafeMutablePointer<Double>.allocate(capacity: N)
        defer { rstd.deallocate() }
        let c = GradCheckCase(inputs: [randomArray(N * inStride, seed: 4), randomArray(C, seed: 5)], outCount: N * C)
        let err = c.maxError(forward: { c in
            rmsnormForward(c.out, rstd, c.inputs[0], inStride: inStride, c.inputs[1], N: N, C: C, eps: 1e-6); return 0
        }, backward: { c in
            rmsnormBackward(c.dInputs[0], dInStride: inStride, c.dInputs[1], c.dOut, c.inputs[0], inStride: inStride,
                            c.inputs[1], rstd, N: N, C: C)
        })
        #expect(err < tolerance, "rmsnorm max rel error \(err)")
    }

    @Test func rope() {
        let (N, T, H, D, headStride) = (6, 3, 2, 4, 6)
        let cosT = UnsafeMutablePointer<Double>.allocate(capacity: T * D / 2), sinT = UnsafeMutablePointer<Double>.allocate(capacity: T * D / 2)
        defer { cosT.deallocate(); sinT.deallocate() }
        ropeTables(cosT, sinT, T: T, D: D, base: 10)
        let rowStride = H * headStride
        let c = GradCheckCase(inputs: [randomArray(N * rowStride, seed: 6)], outCount: N * rowStride)
        let err = c.maxError(forward: { c in
            ropeForward(c.out + 1, outStride: rowStride, c.inputs[0] + 1, inStride: rowStride, heads: H, headStride: headStride,
                        cosT, sinT, N: N, T: T, D: D)
            return 0
        }, backward: { c in
            let tmp = UnsafeMutablePointer<Double>.allocate(capacity: N * rowStride)
            defer { tmp.deallocate() }
            ropeBackward(tmp + 1, dInStride: rowStride, c.dOut + 1, dOutStride: rowStride, heads: H, headStride: headStride,
                         cosT, sinT, N: N, T: T, D: D)
            for n in 0..<N { for h in 0..<H { for d in 0..<D {
                let i = n * rowStride + h * headStride + 1 + d
                c.dInputs[0][i] += tmp[i]
            } } }
        })
        #expect(err < tolerance, "rope max rel error \(err)")
        // Rotation keeps the norm of each pair and position 0 is the identity.
        var x: [Double] = [1, 2, 3, 4], y = [Double](repeating: 0, count: 4)
        ropeForward(&y, outStride: 4, &x, inStride: 4, heads: 1, headStride: 4, cosT, sinT, N: 1, T: T, D: D)
        #expect(y == x)
    }

    @Test func ropeWithSegmentPositions() {
        // Positions restart at segment starts: (0, 1, 2 | 0, 1 | 0).
        let (N, T, H, D, headStride) = (6, 6, 2, 4, 4)
        let positions: [Int32] = [0, 1, 2, 0, 1, 0]
        let cosT = UnsafeMutablePointer<Double>.allocate(capacity: T * D / 2), sinT = UnsafeMutablePointer<Double>.allocate(capacity: T * D / 2)
        defer { cosT.deallocate(); sinT.deallocate() }
        ropeTables(cosT, sinT, T: T, D: D, base: 10)
        let rowStride = H * headStride
        let c = GradCheckCase(inputs: [randomArray(N * rowStride, seed: 16)], outCount: N * rowStride)
        let err = positions.withUnsafeBufferPointer { pos in
            c.maxError(forward: { c in
                ropeForward(c.out, outStride: rowStride, c.inputs[0], inStride: rowStride, heads: H, headStride: headStride,
                            cosT, sinT, N: N, T: T, D: D, positions: pos.baseAddress!)
                return 0
            }, backward: { c in
                let tmp = UnsafeMutablePointer<Double>.allocate(capacity: N * rowStride)
                defer { tmp.deallocate() }
                ropeBackward(tmp, dInStride: rowStride, c.dOut, dOutStride: rowStride, heads: H, headStride: headStride,
                             cosT, sinT, N: N, T: T, D: D, positions: pos.baseAddress!)
                for i in 0..<N * rowStride { c.dInputs[0][i] += tmp[i] }
            })
        }
        #expect(err < tolerance, "rope (segments) max rel error \(err)")
        positions.withUnsafeBufferPointer { pos in
            ropeForward(c.out, outStride: rowStride, c.inputs[0], inStride: rowStride, heads: H, headStride: headStride,
                        cosT, sinT, N: N, T: T, D: D, positions: pos.baseAddress!)
        }
        // Rows 3 and 5 are at position 0: unrotated; row 4 is rotated like row 1.
        for n in [3, 5] {
            for i in 0..<rowStride { #expect(c.out[n * rowStride + i] == c.inputs[0][n * rowStride + i]) }
        }
        let x = Array(UnsafeBufferPointer(start: c.inputs[0] + rowStride, count: rowStride))
        var y = [Double](repeating: 0, count: rowStride)
        ropeForward(&y, outStride: rowStride, x, inStride: rowStride, heads: H, headStride: headStride, cosT, sinT, N: 1, T: T, D: D,
                    positions: [Int32(1)])
        #expect(zip(y, Array(UnsafeBufferPointer(start: c.out + rowStride, count: rowStride))).allSatisfy { abs($0 - $1) < 1e-15 })
    }

    @Test func ffn() {
        let (N, C, I) = (6, 4, 5)
        let bufs = (0..<4).map { _ in UnsafeMutablePointer<Double>.allocate(capacity: 2 * N * I) }
        defer { bufs.forEach { $0.deallocate() } }
        let a = FFNBuffers(gateUp: bufs[0], h: bufs[1]), d = FFNBuffers(gateUp: bufs[2], h: bufs[3])
        // [gate; up] is one (2I, C) tensor, as in the parameter allocation.
        let c = GradCheckCase(inputs: [randomArray(N * C, seed: 7), randomArray(2 * I * C, seed: 8), randomArray(C * I, seed: 10)],
                              outCount: N * C)
        func w(_ p: [UnsafeMutablePointer<Double>]) -> FFNWeights<Double> { FFNWeights(gate: p[1], up: p[1] + I * C, down: p[2]) }
        let err = c.maxError(forward: { c in
            ffnForward(c.out, c.inputs[0], w(c.inputs), a, rows: N, C: C, I: I)
            return 0
        }, backward: { c in
            for b in bufs[2...] { b.update(repeating: 0, count: 2 * N * I) }
            ffnBackward(c.dInputs[0], w(c.dInputs), c.dOut, c.inputs[0], w(c.inputs), a, d, rows: N, C: C, I: I)
        })
        #expect(err < tolerance, "ffn max rel error \(err)")
    }

    @Test(arguments: [0, 2]) func attention(Dn: Int) {
        let s = AttentionShape(B: 2, T: 3, H: 2, Dn: Dn, Dr: 2, Dv: 3)
        let N = s.B * s.T
        let probs = UnsafeMutablePointer<Double>.allocate(capacity: s.B * s.H * s.T * s.T)
        probs.initialize(repeating: 0, count: s.B * s.H * s.T * s.T)   // as the model's buffers: columns past a block stay 0
        let work: AttentionWorkspace<Double> = attentionWorkspace(s)
        defer { probs.deallocate(); work.base.deallocate() }
        let c = GradCheckCase(inputs: [randomArray(N * s.H * s.Dqk, seed: 11), randomArray(N * s.H * s.kvWidth, seed: 12),
                                       randomArray(N * s.Dr, seed: 13)], outCount: N * s.H * s.Dv)
        let err = c.maxError(forward: { c in
            attentionForward(c.out, probs, c.inputs[0], c.inputs[1], c.inputs[2], s, scale: 0.7, work: work, blockRows: 2); return 0
        }, backward: { c in
            attentionBackward(c.dInputs[0], c.dInputs[1], c.dInputs[2], c.dOut, probs, c.inputs[0], c.inputs[1], c.inputs[2],
                              s, scale: 0.7, work: work, blockRows: 2)
        })
        #expect(err < tolerance, "attention max rel error \(err)")
    }

    @Test func attentionWithSegments() {
        // Row 0: segments [0, 1] [2, 3]; row 1: [0] [1, 2, 3] — every position sees only its own segment.
        let s = AttentionShape(B: 2, T: 4, H: 2, Dn: 2, Dr: 2, Dv: 3)
        let N = s.B * s.T
        let starts: [Int32] = [0, 0, 2, 2, 0, 1, 1, 1]
        let probs = UnsafeMutablePointer<Double>.allocate(capacity: s.B * s.H * s.T * s.T)
        probs.initialize(repeating: 0, count: s.B * s.H * s.T * s.T)   // as the model's buffers: columns past a block stay 0
        let work: AttentionWorkspace<Double> = attentionWorkspace(s)
        defer { probs.deallocate(); work.base.deallocate() }
        let c = GradCheckCase(inputs: [randomArray(N * s.H * s.Dqk, seed: 17), randomArray(N * s.H * s.kvWidth, seed: 18),
                                       randomArray(N * s.Dr, seed: 19)], outCount: N * s.H * s.Dv)
        let err = starts.withUnsafeBufferPointer { st in
            c.maxError(forward: { c in
                attentionForward(c.out, probs, c.inputs[0], c.inputs[1], c.inputs[2], s, scale: 0.7, work: work,
                                 segmentStart: st.baseAddress!, blockRows: 2)
                return 0
            }, backward: { c in
                attentionBackward(c.dInputs[0], c.dInputs[1], c.dInputs[2], c.dOut, probs, c.inputs[0], c.inputs[1], c.inputs[2],
                                  s, scale: 0.7, work: work, segmentStart: st.baseAddress!, blockRows: 2)
            })
        }
        #expect(err < tolerance, "attention (segments) max rel error \(err)")
        // No probability mass outside the segment.
        for b in 0..<s.B {
            for h in 0..<s.H {
                for t in 0..<s.T {
                    let row = probs + ((b * s.H + h) * s.T + t) * s.T
                    let lo = Int(starts[b * s.T + t])
                    var inside = 0.0
                    for j in 0..<s.T {
                        if j >= lo && j <= t { inside += row[j] } else { #expect(row[j] == 0) }
                    }
                    #expect(abs(inside - 1) < 1e-12)
                }
            }
        }
        // A segment's first position attends only to itself: its output is its own value vector.
        let out = c.out + 2 * s.H * s.Dv, v = c.inputs[1] + 2 * s.H * s.kvWidth
        for h in 0..<s.H { for d in 0..<s.Dv { #expect(abs(out[h * s.Dv + d] - v[h * s.kvWidth + s.Dn + d]) < 1e-12) } }
    }

    @Test func attentionIsCausal() {
        // Changing the last position's k and v must not change earlier outputs.
        let s = AttentionShape(B: 1, T: 3, H: 1, Dn: 2, Dr: 2, Dv: 2)
        var q = randomArray(3 * 4, seed: 1), kv = randomArray(3 * 4, seed: 2), kr = randomArray(3 * 2, seed: 3)
        var p = [Double](repeating: 0, count: 9), o1 = [Double](repeating: 0, count: 6), o2 = o1
        let work: AttentionWorkspace<Double> = attentionWorkspace(s)
        defer { work.base.deallocate() }
        attentionForward(&o1, &p, &q, &kv, &kr, s, scale: 1, work: work, blockRows: 2)
        for i in 8..<12 { kv[i] += 1 }
        kr[4] += 1
        attentionForward(&o2, &p, &q, &kv, &kr, s, scale: 1, work: work, blockRows: 2)
        #expect(Array(o1[0..<4]) == Array(o2[0..<4]))
        #expect(o1[4..<6] != o2[4..<6])
    }

    @Test func attentionScheduleDoesNotChangeResults() {
        // Float at a trainer-like size with a partial last block (T = 300, blocks of 128): the blocked causal
        // schedule agrees with one full block, and one worker gives bit-identical results to two.
        let s = AttentionShape(B: 3, T: 300, H: 2, Dn: 16, Dr: 8, Dv: 16)
        let N = s.B * s.T
        let starts: [Int32] = (0..<N).map { i in Int32(i % s.T < 170 ? 0 : 170) }   // two segments per row
        func f(_ a: [Double]) -> [Float] { a.map { Float($0) } }
        let q = f(randomArray(N * s.H * s.Dqk, seed: 21)), kv = f(randomArray(N * s.H * s.kvWidth, seed: 22))
        let kr = f(randomArray(N * s.Dr, seed: 23)), dOut = f(randomArray(N * s.H * s.Dv, seed: 24))
        func run(workers: Int, blockRows: Int) -> [[Float]] {
            let work: AttentionWorkspace<Float> = attentionWorkspace(s, workers: workers)
            defer { work.base.deallocate() }
            var probs = [Float](repeating: 0, count: s.B * s.H * s.T * s.T), out = [Float](repeating: 0, count: N * s.H * s.Dv)
            var dq = [Float](repeating: 0, count: q.count), dkv = [Float](repeating: 0, count: kv.count)
            var dkr = [Float](repeating: 0, count: kr.count)
            starts.withUnsafeBufferPointer { st in
                attentionForward(&out, &probs, q, kv, kr, s, scale: 0.25, work: work, segmentStart: st.baseAddress!,
                                 blockRows: blockRows)
                attentionBackward(&dq, &dkv, &dkr, dOut, probs, q, kv, kr, s, scale: 0.25, work: work,
                                  segmentStart: st.baseAddress!, blockRows: blockRows)
            }
            return [out, dq, dkv, dkr]
        }
        let blocked = run(workers: 2, blockRows: 128), oneWorker = run(workers: 1, blockRows: 128)
        let full = run(workers: 2, blockRows: s.T)
        #expect(blocked == oneWorker)
        for (a, b) in zip(blocked, full) {
            var worst: Float = 0
            for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(1, abs(y))) }
            #expect(worst < 1e-5, "blocked vs full: \(worst)")
            #expect(a.contains { $0 != 0 })
        }
    }

    @Test func headCrossEntropy() {
        let (B, T, C, V) = (2, 3, 4, 7)
        let targets: [Int32] = [0, 3, 6, 9, 2, 2, 5, 1]   // rows of 4, the last of each unused
        let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 4 * V)
        defer { scratch.deallocate() }
        let c = GradCheckCase(inputs: [randomArray(B * T * C, seed: 14), randomArray(V * C, seed: 15)], outCount: 1)
        c.dOut[0] = 0
        let err = targets.withUnsafeBufferPointer { tg in
            c.maxError(forward: { c in
                Training.headCrossEntropy(c.inputs[0], c.inputs[1], targets: tg.baseAddress!, rowStride: 4, B: B, T: T, C: C, V: V,
                                          scratch: scratch, chunk: 4, dHidden: nil, dWeight: nil, dScale: 1) * 0.3
            }, backward: { c in
                _ = Training.headCrossEntropy(c.inputs[0], c.inputs[1], targets: tg.baseAddress!, rowStride: 4, B: B, T: T, C: C, V: V,
                                              scratch: scratch, chunk: 4, dHidden: c.dInputs[0], dWeight: c.dInputs[1], dScale: 0.3)
            })
        }
        #expect(err < tolerance, "cross-entropy max rel error \(err)")
    }

    @Test func headCrossEntropyMasked() {
        // limit: position n's target (offset 1 ahead) counts when t + 1 ≤ limit[n]; masked targets hold
        // ids outside the vocabulary, which must not be read.
        let (B, T, C, V) = (2, 3, 4, 7)
        let targets: [Int32] = [0, 3, 99, 6, 2, 2, 99, 1]
        let limit: [Int32] = [1, 1, 3, 0, 1, 3]   // counted: row 0 t = 0, 2; row 1 t = 2
        let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 4 * V)
        defer { scratch.deallocate() }
        let c = GradCheckCase(inputs: [randomArray(B * T * C, seed: 24), randomArray(V * C, seed: 25)], outCount: 1)
        c.dOut[0] = 0
        let err = targets.withUnsafeBufferPointer { tg in
            limit.withUnsafeBufferPointer { lim in
                c.maxError(forward: { c in
                    Training.headCrossEntropy(c.inputs[0], c.inputs[1], targets: tg.baseAddress! + 1, rowStride: 4, B: B, T: T, C: C, V: V,
                                              scratch: scratch, chunk: 4, dHidden: nil, dWeight: nil, dScale: 1,
                                              limit: lim.baseAddress!, offset: 1) * 0.3
                }, backward: { c in
                    _ = Training.headCrossEntropy(c.inputs[0], c.inputs[1], targets: tg.baseAddress! + 1, rowStride: 4, B: B, T: T, C: C, V: V,
                                                  scratch: scratch, chunk: 4, dHidden: c.dInputs[0], dWeight: c.dInputs[1], dScale: 0.3,
                                                  limit: lim.baseAddress!, offset: 1)
                })
            }
        }
        #expect(err < tolerance, "masked cross-entropy max rel error \(err)")
        // Masked positions get no gradient; the count matches.
        for n in [1, 3, 4] { for k in 0..<C { #expect(c.dInputs[0][n * C + k] == 0) } }
        #expect(limit.withUnsafeBufferPointer { unmaskedCount($0.baseAddress!, N: B * T, T: T, offset: 1) } == 3)
    }

    @Test(arguments: [(0.0, false), (0.3, false), (0.3, true)]) func moe(alpha: Double, padded: Bool) {
        let s = MoEShape(B: 2, T: 3, C: 4, E: 4, K: 2, I: 3, Is: 5, routedScale: 2.5, balanceAlpha: alpha)
        let (N, C, E, K, I, Is) = (s.N, s.C, s.E, s.K, s.I, s.Is)
        var sizes = [N * C, E * C, E]
        for _ in 0..<E { sizes += [2 * I * C, C * I] }   // [gate; up], down
        sizes += [2 * Is * C, C * Is]
        let inputs = sizes.enumerated().map { randomArray($0.element, seed: 20 + UInt64($0.offset)) }
        let c = GradCheckCase(inputs: inputs, outCount: N * C)
        var storage: [UnsafeMutablePointer<Double>] = []
        func take(_ n: Int) -> UnsafeMutablePointer<Double> {
            let p = UnsafeMutablePointer<Double>.allocate(capacity: n); p.initialize(repeating: 0, count: n); storage.append(p); return p
        }
        let ints = UnsafeMutablePointer<Int32>.allocate(capacity: 3 * N * K + E + 1)
        let load = UnsafeMutablePointer<Int>.allocate(capacity: E)
        load.initialize(repeating: 0, count: E)
        defer { storage.forEach { $0.deallocate() }; ints.deallocate(); load.deallocate() }
        let a = MoEBuffers(logits: take(N * E), scores: take(N * E), gates: take(N * K), xg: take(N * K * C), yg: take(N * K * C),
                           routed: FFNBuffers(gateUp: take(2 * N * K * I), h: take(N * K * I)),
                           shared: FFNBuffers(gateUp: take(2 * N * Is), h: take(N * Is)), balanceF: take(s.B * E),
                           picks: ints, slotOf: ints + N * K, tokenOf: ints + 2 * N * K, offsets: ints + 3 * N * K)
        let gradSizes = [N * K * C, N * K * C, 2 * N * K * I, N * K * I, 2 * N * Is, N * Is, N * E, N * K]
        let g = gradSizes.map { take($0) }
        let d = MoEGradBuffers(dxg: g[0], dyg: g[1], routed: FFNBuffers(gateUp: g[2], h: g[3]),
                               shared: FFNBuffers(gateUp: g[4], h: g[5]), dlogits: g[6], dgates: g[7])
        func weights(_ p: [UnsafeMutablePointer<Double>]) -> MoEWeights<Double> {
            MoEWeights(gate: p[1], bias: p[2],
                       experts: (0..<E).map { FFNWeights(gate: p[3 + 2 * $0], up: p[3 + 2 * $0] + I * C, down: p[4 + 2 * $0]) },
                       shared: FFNWeights(gate: p[3 + 2 * E], up: p[3 + 2 * E] + Is * C, down: p[4 + 2 * E]))
        }
        // Every expert must receive tokens for the check to cover it: a bias pushing the choice around.
        let checked = Array(0..<2) + Array(3..<sizes.count)   // not the bias: it has no gradient
        // Padded: the last position of row 0 and the last two of row 1 are padding inputs.
        let realFlags: [Double] = padded ? [1, 1, 0, 1, 0, 0] : [1, 1, 1, 1, 1, 1]
        let real = UnsafeMutablePointer<Double>.allocate(capacity: N)
        real.initialize(from: realFlags, count: N)
        defer { real.deallocate() }
        let err = c.maxError(check: checked, forward: { c in
            moeForward(c.out, c.inputs[0], weights(c.inputs), a, s, load: load, real: real)
        }, backward: { c in
            for (p, n) in zip(g, gradSizes) { p.update(repeating: 0, count: n) }
            moeBackward(c.dInputs[0], weights(c.dInputs), c.dOut, c.inputs[0], weights(c.inputs), a, d, s, real: real)
        })
        #expect(err < tolerance, "MoE max rel error \(err)")
        // The load counts K picks per real position only.
        load.update(repeating: 0, count: E)
        _ = moeForward(c.out, c.inputs[0], weights(c.inputs), a, s, load: load, real: real)
        #expect((0..<E).reduce(0) { $0 + load[$1] } == K * Int(realFlags.reduce(0, +)))
        if padded {
            // The balance loss ignores padding: changing a padded position's input changes nothing else.
            let before = moeForward(c.out, c.inputs[0], weights(c.inputs), a, s, load: load, real: real)
            for k in 0..<C { c.inputs[0][5 * C + k] += 0.5 }
            let after = moeForward(c.out, c.inputs[0], weights(c.inputs), a, s, load: load, real: real)
            #expect(before == after)
        }
        // Gates: each token's gates sum to the routed scaling factor.
        for n in 0..<N {
            var sum = 0.0
            for k in 0..<K { sum += a.gates[n * K + k] }
            #expect(abs(sum - 2.5) < 1e-12)
        }
    }

    @Test func moeBiasUpdate() {
        // Mean load 5: overloaded expert 0 goes down, underloaded 1 and 3 go up, expert 2 stays.
        let E = 4
        let bias = UnsafeMutablePointer<Double>.allocate(capacity: E)
        defer { bias.deallocate() }
        bias.initialize(from: [0, 0, 0, 0], count: E)
        let load: [Int] = [10, 2, 5, 3]
        load.withUnsafeBufferPointer { moeUpdateBias(bias, load: $0.baseAddress!, E: E, gamma: 0.01) }
        #expect(Array(UnsafeBufferPointer(start: bias, count: E)) == [-0.01, 0.01, 0, 0.01])
    }
}
