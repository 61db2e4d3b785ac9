// The whole model: its gradient against finite differences (Double, tiny preset, a sample of every
// tensor), cblas against the naive matmul, and the loss falling on a repetitive token stream.
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

    @Test(arguments: [(0, 1), (5, 2)]) func modelGradient(qLora: Int, mtp: Int) {
        let model = Model<Double>(config: Self.tinyConfig(qLora: qLora, mtp: mtp), B: 2, T: 3)
        model.initialize(seed: 7)
        var rng = SplitMix64(seed: 3)
        for s in model.specs {
            let p = model.params + s.offset
            if s.shape.count == 1 { for i in 0..<s.count { p[i] = 1 + 0.3 * (Double(rng.next() % 1000) / 1000 - 0.5) } }
            if s.name.hasSuffix("bias") { for i in 0..<s.count { p[i] = Double(rng.next() % 1000) / 5000 } }
        }
        for i in 0..<(model.B * model.rowLength) { model.tokens[i] = Int32(rng.next() % 11) }
        model.forward(computeGradients: true)
        model.backward()
        let analytic = Array(UnsafeBufferPointer(start: model.grads, count: model.parameterCount))
        var worst = 0.0, worstName = ""
        let eps = 1e-5
        for s in model.specs {
            if !s.trainable {
                #expect((0..<s.count).allSatisfy { analytic[s.offset + $0] == 0 })
                continue
            }
            for j in Swift.stride(from: 0, to: s.count, by: max(1, s.count / 3)) {
                let i = s.offset + j, x = model.params[i]
                model.params[i] = x + eps
                let lp = model.forward(computeGradients: false)
                model.params[i] = x - eps
                let lm = model.forward(computeGradients: false)
                model.params[i] = x
                let numeric = (lp - lm) / (2 * eps)
                let err = abs(analytic[i] - numeric) / max(abs(analytic[i]), abs(numeric), 1e-4)
                if err > worst { worst = err; worstName = "\(s.name)[\(j)] analytic \(analytic[i]) numeric \(numeric)" }
            }
        }
        print("model gradient check (q_lora_rank \(qLora), MTP depth \(mtp)): worst relative error \(worst) at \(worstName)")
        #expect(worst < 1e-5, "worst \(worst) at \(worstName)")
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
