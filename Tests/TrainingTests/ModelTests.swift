// The whole model: its gradient against finite differences (Double, tiny preset, a sample of every
// tensor), cblas against the naive matmul, and the loss falling on a repetitive token stream.
import CorpusIO
import Testing
@testable import Training

@Suite struct ModelTests {
    static func tinyConfig(qLora: Int, mtp: Int) -> ModelConfig {
        var c = ModelConfig.tiny
        c.vocabSize = 11; c.hiddenSize = 8; c.intermediateSize = 12; c.moeIntermediateSize = 6
        c.nRoutedExperts = 4; c.numExpertsPerTok = 2; c.numAttentionHeads = 2
        c.kvLoraRank = 6; c.qkNopeHeadDim = 4; c.qkRopeHeadDim = 4; c.vHeadDim = 3; c.qLoraRank = qLora
        c.numNextnPredictLayers = mtp; c.auxLossAlpha = 0.05; c.mtpLossWeight = 0.5; c.initializerRange = 0.3
        return c
    }

    @Test(arguments: [(0, 1, false), (5, 2, false), (0, 1, true), (5, 2, true)])
    func modelGradient(qLora: Int, mtp: Int, segmented: Bool) {
        let model = Model<Double>(config: Self.tinyConfig(qLora: qLora, mtp: mtp), B: 2, T: segmented ? 7 : 3)
        model.initialize(seed: 7)
        var rng = SplitMix64(seed: 3)
        for s in model.specs {
            let p = model.params + s.offset
            if s.shape.count == 1 { for i in 0..<s.count { p[i] = 1 + 0.3 * (Double(rng.next() % 1000) / 1000 - 0.5) } }
            if s.name.hasSuffix("bias") { for i in 0..<s.count { p[i] = Double(rng.next() % 1000) / 5000 } }
        }
        for i in 0..<(model.B * model.rowLength) { model.tokens[i] = Int32(1 + rng.next() % 10) }
        if segmented {
            // Row 0: EODs (id 0) at 2 and 5 and a truncated piece starting at 4; row 1: a truncated piece at
            // 3 and padding from 6. Attention, RoPE, the masked losses and the MoE padding all take part.
            let R = model.rowLength
            model.tokens[2] = 0; model.tokens[5] = 0
            model.tokens[R + 1] = 0
            model.describeRow(0, eod: 0, realLength: R, pieceStarts: [4])
            model.describeRow(1, eod: 0, realLength: 6, pieceStarts: [3])
            #expect(Array(UnsafeBufferPointer(start: model.segmentStart, count: 14)) == [0, 0, 2, 2, 4, 5, 5, 0, 1, 1, 3, 3, 3, 6])
        }
        model.forward(computeGradients: true)
        model.backward()
        for s in model.specs where !s.trainable {
            #expect((0..<s.count).allSatisfy { model.grads[s.offset + $0] == 0 })
        }
        let (worst, worstName) = finiteDifferenceWorst(model)
        print("model gradient check (q_lora_rank \(qLora), MTP depth \(mtp), segments \(segmented)): worst relative error \(worst) at \(worstName)")
        #expect(worst < 1e-5, "worst \(worst) at \(worstName)")
    }

    @Test func packedRowConvention() {
        // Packed row (EOD 0): doc A = [5 6 0] complete, piece B = [7 8 9] a chunk without EOD, piece C =
        // [4 3 0] after it, then padding [0 0 0]. T = 10, MTP depth 1 (rows of 12).
        var c = Self.tinyConfig(qLora: 0, mtp: 1)
        c.maxPositionEmbeddings = 16
        let model = Model<Double>(config: c, B: 1, T: 10)
        let row: [Int32] = [5, 6, 0, 7, 8, 9, 4, 3, 0, 0, 0, 0]
        model.tokens.update(from: row, count: 12)
        model.describeRow(0, eod: 0, realLength: 9, pieceStarts: [3, 6])
        // Segments: the row start, the EOD at 2 (whose target, 7, starts B), C after the truncated B at 6,
        // the EOD at 8, the padding at 9.
        #expect(Array(UnsafeBufferPointer(start: model.segmentStart, count: 10)) == [0, 0, 2, 2, 2, 2, 6, 6, 8, 9])
        #expect(Array(UnsafeBufferPointer(start: model.targetLimit, count: 10)) == [2, 2, 5, 5, 5, 5, 8, 8, 8, -1])
        model.initialize(seed: 1)
        model.forward(computeGradients: false)
        // Main targets: all but those of 5 (B's end → C), 8 (the EOD before padding) and 9 (padding): 7 counted.
        // MTP targets two ahead, counted from positions 0, 2, 3 and 6 only.
        #expect(model.targetCounts == [7, 4])
        // Without EOD knowledge only the pieces and the padding split the row.
        model.describeRow(0, eod: nil, realLength: 9, pieceStarts: [3, 6])
        #expect(Array(UnsafeBufferPointer(start: model.segmentStart, count: 10)) == [0, 0, 0, 3, 3, 3, 6, 6, 6, 9])
        model.resetSegments()
        model.forward(computeGradients: false)
        #expect(model.targetCounts == [10, 10])
    }

    @Test func segmentsAreIndependent() {
        // The logits of a segment inside a row equal those of the same tokens at the start of a row.
        let c = Self.tinyConfig(qLora: 5, mtp: 1)
        let model = Model<Double>(config: c, B: 1, T: 8)
        model.initialize(seed: 4)
        let V = c.vocabSize
        let packed: [Int32] = [3, 5, 0, 7, 2, 9, 4, 1, 6, 8]
        let alone: [Int32] = [0, 7, 2, 9, 4, 1, 6, 8, 3, 3]
        var a = [Double](repeating: 0, count: 8 * V), b = a
        model.tokens.update(from: packed, count: 10)
        model.describeRow(0, eod: 0, realLength: 10)
        model.logits(into: &a)
        model.tokens.update(from: alone, count: 10)
        model.describeRow(0, eod: 0, realLength: 10)
        model.logits(into: &b)
        var worst = 0.0
        for t in 0..<6 { for v in 0..<V { worst = max(worst, abs(a[(t + 2) * V + v] - b[t * V + v])) } }
        #expect(worst < 1e-12, "segment logits differ by \(worst)")
        // and differ when the EOD is not known (the first segment is then visible).
        model.tokens.update(from: packed, count: 10)
        model.describeRow(0, eod: nil, realLength: 10)
        model.logits(into: &a)
        #expect(abs(a[3 * V] - b[V]) > 1e-9)
    }

    @Test func cblasMatchesNaive() {
        for (tA, tB) in [(false, false), (true, false), (false, true), (true, true)] {
            let (M, N, K) = (7, 5, 9)
            let a = randomArray(M * K, seed: 1).map(Float.init), b = randomArray(K * N, seed: 2).map(Float.init)
            var c1 = randomArray(M * N, seed: 3).map(Float.init), c2 = c1
            let lda = tA ? M : K, ldb = tB ? K : N
            Float.gemm(transA: tA, transB: tB, M: M, N: N, K: K, alpha: 0.5, A: a, lda: lda, B: b, ldb: ldb, beta: 2, C: &c1, ldc: N)
            naiveGemm(transA: tA, transB: tB, M: M, N: N, K: K, alpha: 0.5, A: a, lda: lda, B: b, ldb: ldb, beta: 2, C: &c2, ldc: N)
            #expect(zip(c1, c2).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    @Test func parameterNamesFollowTransformers() {
        let specs = parameterSizes(.small)
        let names = Set(specs.map(\.name))
        #expect(names.contains("model.layers.0.mlp.gate_proj.weight"))
        #expect(names.contains("model.layers.1.mlp.experts.15.down_proj.weight"))
        #expect(names.contains("model.layers.1.mlp.gate.e_score_correction_bias"))
        #expect(names.contains("model.layers.3.self_attn.kv_a_proj_with_mqa.weight"))
        #expect(names.contains("model.layers.4.eh_proj.weight"))
        #expect(specs.first { $0.name == "model.layers.2.self_attn.kv_b_proj.weight" }?.shape == [4 * 128, 128])
    }

    /// `lrScales` multiplies the named tensor's Adam step and nothing else: its weight decay and the
    /// other tensors' updates are those of the unscaled optimizer.
    @Test func adamWScalesTheNamedTensorsStep() {
        let specs: [ParameterSpec] = {
            var a = ParameterSpec(name: "model.embed_tokens.weight", shape: [2, 3], decay: true, trainable: true)
            var b = ParameterSpec(name: "lm_head.weight", shape: [2, 3], decay: true, trainable: true)
            a.offset = 0; b.offset = 6
            return [a, b]
        }()
        let grads: [Double] = [0.3, -0.2, 0.1, 0.5, -0.4, 0.05, 0.3, -0.2, 0.1, 0.5, -0.4, 0.05]
        func run(_ scales: [String: Double]) -> [Double] {
            let p = UnsafeMutablePointer<Double>.allocate(capacity: 12)
            defer { p.deallocate() }
            for i in 0..<12 { p[i] = 0.5 }
            let opt = AdamW<Double>(count: 12, weightDecay: 0.1)
            opt.lrScales = scales
            grads.withUnsafeBufferPointer { g in
                for _ in 0..<3 { opt.update(params: p, grads: g.baseAddress!, specs: specs, lr: 1e-2, gradScale: 1) }
            }
            return Array(UnsafeBufferPointer(start: p, count: 12))
        }
        let plain = run([:]), scaled = run(["model.embed_tokens.weight": 50])
        #expect(Array(scaled[6...]) == Array(plain[6...]))
        // Decay alone (lr·wd per step) over three steps, then the Adam part is 50 times the plain one's.
        var decayOnly = 0.5
        for _ in 0..<3 { decayOnly -= 1e-2 * 0.1 * decayOnly }
        for i in 0..<6 {
            let plainStep = plain[i] - decayOnly, scaledStep = scaled[i] - decayOnly
            #expect(abs(plainStep) > 1e-3)
            // Not exactly 50×: decay acts on the moved parameter, a second-order difference.
            #expect(abs(scaledStep / plainStep - 50) < 0.1, "tensor 0 element \(i): \(scaledStep) vs \(plainStep)")
        }
    }

    @Test func lossFallsOnRepetitiveStream() {
        var config = ModelConfig.tiny
        config.vocabSize = 16
        let model = Model<Float>(config: config, B: 4, T: 16)
        model.initialize(seed: 1)
        let opt = AdamW<Float>(count: model.parameterCount)
        var first = 0.0, last = 0.0
        for step in 0..<60 {
            for b in 0..<model.B {
                for t in 0..<model.rowLength { model.tokens[b * model.rowLength + t] = Int32((b * 3 + t + step) % 8) }
            }
            let loss = model.forward(computeGradients: true, countLoad: true)
            model.backward()
            let norm = gradientNorm(model.grads, specs: model.specs)
            opt.update(params: model.params, grads: model.grads, specs: model.specs, lr: 1e-2, gradScale: norm > 1 ? 1 / norm : 1)
            model.updateBias()
            if step == 0 { first = model.losses.main }
            last = model.losses.main
            _ = loss
        }
        #expect(first > 2.5)
        #expect(last < 0.5, "loss went from \(first) to \(last)")
    }
}
