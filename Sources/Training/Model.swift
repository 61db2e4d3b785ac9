// The whole model: embedding → layers → final norm → lm_head, plus D multi-token-prediction modules
// (DeepSeek-V3 §2.2). Module k (1-based) sees h^{k−1} (h⁰ = the final-norm output) and the embedding of
// the token k ahead: h' = eh_proj([enorm(Emb(t_{i+k})); hnorm(h^{k−1}_i)]) (embedding first, as the
// released weights), h^k = layer(h'), and predicts t_{i+k+1} with lm_head(shared_head.norm(h^k)).
// A batch row therefore holds T + D + 1 tokens, so every module predicts T positions.
// Loss = CE_main + (λ/D)·Σ_k CE_k + Σ_layers balance loss; each CE is a mean over the unmasked positions.
// Segments (packed rows): `segmentStart` and `targetLimit` describe each row — attention of position t
// sees row positions segmentStart[t]...t, RoPE positions restart at 0 there, and the target t+k+1 of head
// k (0 = main) counts only when t+k+1 ≤ targetLimit[t] (limit < t marks a padding input, left out of the
// expert load and balance loss). `resetSegments` (the state after init) makes every row one segment with
// every target counted; `describeRow` applies the packed-data convention (see there).
// Memory: parameters, gradients, activations (all layers), the layer-gradient scratch (one layer) and the
// dispatch indices are five allocations made in `init`; forward/backward allocate nothing.
// Policy: the head's gradient is computed during forward (`headCrossEntropy`), so `backward` starts
// from the gradient of the normed hidden states.
import CorpusIO
import Foundation

/// One allocation handed out in slices; a measuring pass (over a 1-element dummy) only counts.
struct Arena<T> {
    private let base: UnsafeMutablePointer<T>
    private let measuring: Bool
    private(set) var used = 0

    init(measuringWith dummy: UnsafeMutablePointer<T>) { base = dummy; measuring = true }
    init(base: UnsafeMutablePointer<T>) { self.base = base; measuring = false }

    mutating func take(_ n: Int) -> UnsafeMutablePointer<T> {
        defer { used += n }
        return measuring ? base : base + used
    }
}

/// Losses of the last forward pass (means over the B·T positions).
public struct LossParts: Sendable {
    public var main = 0.0
    public var mtp: [Double] = []
    public var balance = 0.0
    public var total = 0.0
}

public final class Model<S: TrainingScalar> {
    public let config: ModelConfig
    /// Rows per micro-batch and tokens per row.
    public let B: Int, T: Int
    public let specs: [ParameterSpec]
    public let parameterCount: Int
    public let params: UnsafeMutablePointer<S>
    public let grads: UnsafeMutablePointer<S>
    /// The input: B rows of T + D + 1 token ids.
    public let tokens: UnsafeMutablePointer<Int32>
    public var rowLength: Int { T + config.numNextnPredictLayers + 1 }
    /// Per position (B·T): the row position where its attention segment starts.
    public let segmentStart: UnsafeMutablePointer<Int32>
    /// Per position (B·T): the last row position a target of it may be taken from (see the header).
    public let targetLimit: UnsafeMutablePointer<Int32>
    /// Counted targets of the last forward: main head, then each MTP module.
    public private(set) var targetCounts: [Int] = []
    let rows: RowLayout<S>
    public private(set) var losses = LossParts()
    /// Per MoE layer (in layer order, MTP layers last), tokens routed to each expert since `updateBias`.
    public let expertLoad: UnsafeMutablePointer<Int>
    public var moeLayerCount: Int { blocks.filter { $0.shape.moe != nil }.count }

    let index: [String: Int]
    var blocks: [Block<S>] = []
    private var blockGrads: BlockGradients<S>!
    /// The activations, gradient and index allocations, and in fp8 mode the kept inputs' codes and
    /// scales (set once in `init`).
    private var storage: (acts: UnsafeMutablePointer<S>, grads: UnsafeMutablePointer<S>, ints: UnsafeMutablePointer<Int32>,
                          codes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>)?
    private var gradScratchStart = 0, gradScratchCount = 0
    /// Scalars in the activation arenas (activations + gradients), for memory reports.
    public private(set) var activationCount = 0
    /// Bytes of the activation arenas (activations + gradients, and fp8 codes and scales).
    public private(set) var activationBytes = 0
    /// Bytes of what forward keeps for backward: the activation arena less its scratch (the head's
    /// logits chunk, the attention workspace, RoPE tables, fp8's shared FP32 inputs), plus fp8 codes and scales.
    public private(set) var keptActivationBytes = 0
    private var scratchScalars = 0
    /// The FP8 state in fp8 mode (`training.precision: fp8`), else nil.
    public let fp8: FP8Linear<S>?
    let scratchLoad: UnsafeMutablePointer<Int>
    let headChunk: Int

    // Model-level activations and their gradients.
    var cosT, sinT, hf, rstdF, headScratch: UnsafeMutablePointer<S>!
    var xs: [UnsafeMutablePointer<S>] = []   // L+1 residual streams
    private struct MTPBuffers {
        var emb, en, rstdE, hn, rstdH, cat, hp, hk, hkn, rstdK: UnsafeMutablePointer<S>
    }
    private var mtp: [MTPBuffers] = []
    private var dhf, dres0, dres1, dcat, dhp, dek: UnsafeMutablePointer<S>!
    private var dhk: [UnsafeMutablePointer<S>] = []   // gradient of h^k (k = 1...D)
    private var dhkn: [UnsafeMutablePointer<S>] = []  // gradient of shared_head.norm(h^k), from the head

    /// Allocates everything for micro-batches of B rows of T positions; with `fp8`, the linear layers run
    /// in FP8 (FP8Linear.swift).
    public init(config: ModelConfig, B: Int, T: Int, fp8: FP8Settings? = nil) {
        precondition(T <= config.maxPositionEmbeddings && B >= 1 && T >= 1)
        self.config = config
        self.fp8 = fp8.map { FP8Linear<S>(settings: $0) }
        self.B = B
        self.T = T
        specs = parameterSizes(config)
        parameterCount = specs.totalCount
        var idx: [String: Int] = [:]
        for (i, s) in specs.enumerated() { idx[s.name] = i }
        index = idx
        params = .allocate(capacity: parameterCount)
        params.initialize(repeating: 0, count: parameterCount)
        grads = .allocate(capacity: parameterCount)
        grads.initialize(repeating: 0, count: parameterCount)
        let D = config.numNextnPredictLayers
        tokens = .allocate(capacity: B * (T + D + 1))
        tokens.initialize(repeating: 0, count: B * (T + D + 1))
        segmentStart = .allocate(capacity: B * T)
        targetLimit = .allocate(capacity: B * T)
        segmentStart.initialize(repeating: 0, count: B * T)
        targetLimit.initialize(repeating: Int32(T + D), count: B * T)
        let positions = UnsafeMutablePointer<Int32>.allocate(capacity: B * T), real = UnsafeMutablePointer<S>.allocate(capacity: B * T)
        positions.initialize(repeating: 0, count: B * T); real.initialize(repeating: 1, count: B * T)
        rows = RowLayout(start: segmentStart, position: positions, real: real)
        targetCounts = Array(repeating: 0, count: D + 1)
        let moeCount = (0..<(config.numHiddenLayers + D)).filter { config.isMoE(layer: $0) }.count
        expertLoad = .allocate(capacity: max(1, moeCount * config.nRoutedExperts))
        expertLoad.initialize(repeating: 0, count: max(1, moeCount * config.nRoutedExperts))
        scratchLoad = .allocate(capacity: config.nRoutedExperts)
        scratchLoad.initialize(repeating: 0, count: config.nRoutedExperts)
        headChunk = min(B * T, 256)
        // Two passes over the same layout: count, then hand out.
        let dummyS = UnsafeMutablePointer<S>.allocate(capacity: 1), dummyI = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        let dummyQ = UnsafeMutablePointer<UInt8>.allocate(capacity: 1), dummyF = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var ma = Arena(measuringWith: dummyS), mg = Arena(measuringWith: dummyS), mi = Arena(measuringWith: dummyI)
        var mq = Arena(measuringWith: dummyQ), mf = Arena(measuringWith: dummyF)
        layout(&ma, &mg, &mi, &mq, &mf)
        let (na, ng, ni, nq, nf) = (ma.used, mg.used, mi.used, mq.used, mf.used)
        let A = UnsafeMutablePointer<S>.allocate(capacity: na), G = UnsafeMutablePointer<S>.allocate(capacity: ng)
        let I = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, ni))
        let Q = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, nq)), F = UnsafeMutablePointer<Float>.allocate(capacity: max(1, nf))
        A.initialize(repeating: 0, count: na); G.initialize(repeating: 0, count: ng); I.initialize(repeating: 0, count: max(1, ni))
        Q.initialize(repeating: 0, count: max(1, nq)); F.initialize(repeating: 0, count: max(1, nf))
        storage = (A, G, I, Q, F)
        activationCount = na + ng
        activationBytes = (na + ng) * MemoryLayout<S>.stride + nq + nf * 4
        keptActivationBytes = (na - scratchScalars) * MemoryLayout<S>.stride + nq + nf * 4
        var ra = Arena(base: A), rg = Arena(base: G), ri = Arena(base: I), rq = Arena(base: Q), rf = Arena(base: F)
        layout(&ra, &rg, &ri, &rq, &rf)
        dummyS.deallocate(); dummyI.deallocate(); dummyQ.deallocate(); dummyF.deallocate()
        ropeTables(cosT, sinT, T: T, D: config.qkRopeHeadDim, base: config.ropeTheta)
    }

    deinit {
        params.deallocate(); grads.deallocate(); tokens.deallocate(); expertLoad.deallocate(); scratchLoad.deallocate()
        segmentStart.deallocate(); targetLimit.deallocate(); rows.position.deallocate(); rows.real.deallocate()
        if let st = storage {
            st.acts.deallocate(); st.grads.deallocate(); st.ints.deallocate(); st.codes.deallocate(); st.scales.deallocate()
        }
    }

    /// The slice of `params` (or `grads`) holding tensor `name`.
    public func parameter(_ name: String, in base: UnsafeMutablePointer<S>? = nil) -> UnsafeMutablePointer<S> {
        guard let i = index[name] else { preconditionFailure("no parameter \(name)") }
        return (base ?? params) + specs[i].offset
    }

    // MARK: layout

    private func layout(_ A: inout Arena<S>, _ G: inout Arena<S>, _ I: inout Arena<Int32>, _ Q: inout Arena<UInt8>,
                        _ F: inout Arena<Float>) {
        let c = config, N = B * T, C = c.hiddenSize, H = c.numAttentionHeads, E = c.nRoutedExperts, K = c.numExpertsPerTok
        let D = c.numNextnPredictLayers, Dr = c.qkRopeHeadDim, L = c.numHiddenLayers
        let Im = c.moeIntermediateSize, Is = c.moeIntermediateSize * c.nSharedExperts
        // Scratch (not kept from forward for backward): counted in `scratchScalars` as it is taken.
        var scratch = 0
        func takeScratch(_ n: Int) -> UnsafeMutablePointer<S> { scratch += n; return A.take(n) }
        cosT = takeScratch(T * Dr / 2); sinT = takeScratch(T * Dr / 2)
        xs = (0...L).map { _ in A.take(N * C) }
        hf = A.take(N * C); rstdF = A.take(N)
        headScratch = takeScratch(headChunk * c.vocabSize)
        mtp = (0..<D).map { _ in
            MTPBuffers(emb: A.take(N * C), en: A.take(N * C), rstdE: A.take(N), hn: A.take(N * C), rstdH: A.take(N),
                       cat: A.take(N * 2 * C), hp: A.take(N * C), hk: A.take(N * C), hkn: A.take(N * C), rstdK: A.take(N))
        }
        func ffnBuffers(_ arena: inout Arena<S>, _ rows: Int, _ width: Int) -> FFNBuffers<S> {
            FFNBuffers(gateUp: arena.take(rows * 2 * width), h: arena.take(rows * width))
        }
        // fp8: a kept linear input is codes + scales per layer (values with quantization off), and its
        // FP32 form one buffer shared by all layers.
        let quantize = fp8?.settings.quantize ?? false
        func cache(_ rows: Int, _ cols: Int) -> FP8Cache<S> {
            quantize ? FP8Cache(codes: Q.take(rows * cols), scales: F.take(rows * fp8TilesPerRow(cols)), raw: nil, cols: cols)
                : FP8Cache(codes: nil, scales: nil, raw: A.take(rows * cols), cols: cols)
        }
        let shared: FP8SharedInputs<S>? = fp8 == nil ? nil : FP8SharedInputs(
            ln1: takeScratch(N * C), kvc: takeScratch(N * c.kvLoraRank), att: takeScratch(N * H * c.vHeadDim),
            ln2: takeScratch(N * C), router: takeScratch(N * C), qan: takeScratch(N * c.qLoraRank), xg: takeScratch(N * K * C),
            hDense: takeScratch(N * c.intermediateSize), hRouted: takeScratch(N * K * Im), hShared: takeScratch(N * Is))
        func ffnActivations(_ rows: Int, _ width: Int, sharedH: UnsafeMutablePointer<S>?) -> FFNBuffers<S> {
            guard let sharedH else { return ffnBuffers(&A, rows, width) }
            return FFNBuffers(gateUp: A.take(rows * 2 * width), h: sharedH, hCache: cache(rows, width))
        }
        func weights(_ base: UnsafeMutablePointer<S>, _ layer: Int, moe: Bool) -> BlockWeights<S> {
            let p = "model.layers.\(layer)."
            func t(_ n: String) -> UnsafeMutablePointer<S> { parameter(p + n, in: base) }
            func ffn(_ q: String) -> FFNWeights<S> {
                FFNWeights(gate: t(q + ".gate_proj.weight"), up: t(q + ".up_proj.weight"), down: t(q + ".down_proj.weight"))
            }
            let lora = c.qLoraRank > 0
            return BlockWeights(
                ln1: t("input_layernorm.weight"), q: t(lora ? "self_attn.q_b_proj.weight" : "self_attn.q_proj.weight"),
                kva: t("self_attn.kv_a_proj_with_mqa.weight"), kvNorm: t("self_attn.kv_a_layernorm.weight"),
                kvb: t("self_attn.kv_b_proj.weight"), o: t("self_attn.o_proj.weight"), ln2: t("post_attention_layernorm.weight"),
                qa: lora ? t("self_attn.q_a_proj.weight") : nil, qaNorm: lora ? t("self_attn.q_a_layernorm.weight") : nil,
                dense: moe ? nil : ffn("mlp"),
                moe: moe ? MoEWeights(gate: t("mlp.gate.weight"), bias: t("mlp.gate.e_score_correction_bias"),
                                      experts: (0..<E).map { ffn("mlp.experts.\($0)") }, shared: ffn("mlp.shared_experts")) : nil)
        }
        let attentionShape = AttentionShape(B: B, T: T, H: H, Dn: c.qkNopeHeadDim, Dr: Dr, Dv: c.vHeadDim)
        let attentionWorkers = max(1, trainingThreads)
        let attentionWork = AttentionWorkspace(base: takeScratch(AttentionWorkspace<S>.count(attentionShape, workers: attentionWorkers)),
                                               workers: attentionWorkers, shape: attentionShape)
        scratchScalars = scratch
        var newBlocks: [Block<S>] = []
        var moeIndex = 0
        for layer in 0..<(L + D) {
            let moe = c.isMoE(layer: layer)
            let shape = BlockShape(B: B, T: T, C: C, H: H, Dn: c.qkNopeHeadDim, Dr: Dr, Dv: c.vHeadDim, R: c.kvLoraRank,
                                   Rq: c.qLoraRank, I: c.intermediateSize, eps: c.rmsNormEps,
                                   moe: moe ? MoEShape(B: B, T: T, C: C, E: E, K: K, I: Im, Is: Is,
                                                       routedScale: c.routedScalingFactor, balanceAlpha: c.auxLossAlpha) : nil)
            let x = layer < L ? xs[layer] : mtp[layer - L].hp
            let out = layer < L ? xs[layer + 1] : mtp[layer - L].hk
            let lora = c.qLoraRank > 0
            var a = BlockActivations<S>(
                x: x, out: out, ln1: shared?.ln1 ?? A.take(N * C), rstd1: A.take(N), q: A.take(N * H * shape.Dqk),
                kva: A.take(N * (shape.R + Dr)), kvRstd: A.take(N), kvc: shared?.kvc ?? A.take(N * shape.R),
                kv: A.take(N * H * (shape.Dn + shape.Dv)), kr: A.take(N * Dr), probs: A.take(B * H * T * T),
                att: shared?.att ?? A.take(N * H * shape.Dv), x2: A.take(N * C), ln2: shared?.ln2 ?? A.take(N * C), rstd2: A.take(N),
                attentionWork: attentionWork, qa: lora ? A.take(N * shape.Rq) : nil, qaRstd: lora ? A.take(N) : nil,
                qan: lora ? shared?.qan ?? A.take(N * shape.Rq) : nil)
            if let shared {
                a.fp8 = BlockFP8Caches(ln1: cache(N, C), kvc: cache(N, shape.R), att: cache(N, H * shape.Dv), ln2: cache(N, C),
                                       qan: lora ? cache(N, shape.Rq) : nil, routerInput: shared.router)
            }
            if moe {
                a.moe = MoEBuffers(logits: A.take(N * E), scores: A.take(N * E), gates: A.take(N * K),
                                   xg: shared?.xg ?? A.take(N * K * C), yg: A.take(N * K * C),
                                   routed: ffnActivations(N * K, Im, sharedH: shared?.hRouted),
                                   shared: ffnActivations(N, Is, sharedH: shared?.hShared), balanceF: A.take(B * E),
                                   picks: I.take(N * K), slotOf: I.take(N * K), tokenOf: I.take(N * K), offsets: I.take(E + 1),
                                   xgCache: shared == nil ? nil : cache(N * K, C))
            } else {
                a.dense = ffnActivations(N, c.intermediateSize, sharedH: shared?.hDense)
            }
            let load: UnsafeMutablePointer<Int>? = moe ? expertLoad + moeIndex * E : nil
            if moe { moeIndex += 1 }
            newBlocks.append(Block(shape: shape, w: weights(params, layer, moe: moe), dw: weights(grads, layer, moe: moe),
                                   a: a, load: load, fp8: fp8))
        }
        blocks = newBlocks
        // Model-level gradients.
        dhf = G.take(N * C); dres0 = G.take(N * C); dres1 = G.take(N * C)
        dcat = G.take(N * 2 * C); dhp = G.take(N * C); dek = G.take(N * C)
        dhk = (0..<D).map { _ in G.take(N * C) }
        dhkn = (0..<D).map { _ in G.take(N * C) }
        // One layer's gradient scratch, big enough for any layer.
        let start = G.used
        let lora = c.qLoraRank > 0, Dqk = c.qkHeadDim, R = c.kvLoraRank
        let anyMoE = (0..<(L + D)).contains { c.isMoE(layer: $0) }
        blockGrads = BlockGradients(
            dln1: G.take(N * C), dq: G.take(N * H * Dqk), dkva: G.take(N * (R + Dr)), dkvc: G.take(N * R),
            dkv: G.take(N * H * (c.qkNopeHeadDim + c.vHeadDim)), dkr: G.take(N * Dr), datt: G.take(N * H * c.vHeadDim),
            dx2: G.take(N * C), dln2: G.take(N * C),
            dqa: lora ? G.take(N * c.qLoraRank) : nil, dqan: lora ? G.take(N * c.qLoraRank) : nil,
            dense: ffnBuffers(&G, N, c.intermediateSize),
            moe: anyMoE ? MoEGradBuffers(dxg: G.take(N * K * C), dyg: G.take(N * K * C), routed: ffnBuffers(&G, N * K, Im),
                                         shared: ffnBuffers(&G, N, Is), dlogits: G.take(N * E), dgates: G.take(N * K)) : nil)
        gradScratchStart = start
        gradScratchCount = G.used - start
    }

    // MARK: initialization

    /// Normal(0, initializer_range) matrices, ones for norms, zeros for the balancing biases.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let std = config.initializerRange
        for s in specs {
            let p = params + s.offset
            if s.name.hasSuffix("e_score_correction_bias") {
                for i in 0..<s.count { p[i] = 0 }
            } else if s.shape.count == 1 {
                for i in 0..<s.count { p[i] = 1 }
            } else {
                for i in 0..<s.count { p[i] = S(rng.normal() * std) }
            }
        }
    }

    // MARK: forward and backward

    /// Runs the model on `tokens`; returns the total loss. With `computeGradients`, also zeroes `grads`
    /// and fills the head's gradient (call `backward` next). With `countLoad`, router picks add to
    /// `expertLoad`.
    @discardableResult
    public func forward(computeGradients: Bool, countLoad: Bool = false) -> Double {
        let c = config, N = B * T, C = c.hiddenSize, V = c.vocabSize, D = c.numNextnPredictLayers
        let L = c.numHiddenLayers, eps = S(c.rmsNormEps), row = rowLength
        let mtpScale = D > 0 ? c.mtpLossWeight / Double(D) : 0
        if computeGradients {
            grads.update(repeating: 0, count: parameterCount)
            dhf.update(repeating: 0, count: N * C)
            for k in 0..<D { dhkn[k].update(repeating: 0, count: N * C) }
        }
        // subtle: the loss record is updated in place (keeping its array's capacity), so forward allocates nothing.
        losses.main = 0; losses.balance = 0; losses.total = 0
        losses.mtp.removeAll(keepingCapacity: true)
        let embed = parameter("model.embed_tokens.weight"), head = parameter("lm_head.weight")
        let dHead: UnsafeMutablePointer<S>? = computeGradients ? parameter("lm_head.weight", in: grads) : nil
        prepareRows()
        for k in 0...D { targetCounts[k] = unmaskedCount(targetLimit, N: N, T: T, offset: k + 1) }
        // 1. trunk
        embeddingForward(xs[0], tokens, rowStride: row, embed, B: B, T: T, C: C)
        for l in 0..<L {
            losses.balance += blocks[l].forward(cos: cosT, sin: sinT, rows: rows, countLoad: countLoad, scratchLoad: scratchLoad)
        }
        rmsnormForward(hf, rstdF, xs[L], inStride: C, parameter("model.norm.weight"), N: N, C: C, eps: eps)
        let nMain = Double(max(targetCounts[0], 1))
        losses.main = headCrossEntropy(hf, head, targets: tokens + 1, rowStride: row, B: B, T: T, C: C, V: V,
                                      scratch: headScratch, chunk: headChunk, dHidden: computeGradients ? dhf : nil,
                                      dWeight: dHead, dScale: S(1 / nMain), limit: targetLimit, offset: 1) / nMain
        // 2. multi-token prediction
        var hPrev = hf!
        for k in 0..<D {
            let m = mtp[k], p = "model.layers.\(L + k)."
            embeddingForward(m.emb, tokens + k + 1, rowStride: row, embed, B: B, T: T, C: C)
            rmsnormForward(m.en, m.rstdE, m.emb, inStride: C, parameter(p + "enorm.weight"), N: N, C: C, eps: eps)
            rmsnormForward(m.hn, m.rstdH, hPrev, inStride: C, parameter(p + "hnorm.weight"), N: N, C: C, eps: eps)
            for n in 0..<N {
                (m.cat + n * 2 * C).update(from: m.en + n * C, count: C)
                (m.cat + n * 2 * C + C).update(from: m.hn + n * C, count: C)
            }
            matmulForward(m.hp, m.cat, parameter(p + "eh_proj.weight"), N: N, IC: 2 * C, OC: C)
            losses.balance += blocks[L + k].forward(cos: cosT, sin: sinT, rows: rows, countLoad: countLoad, scratchLoad: scratchLoad)
            rmsnormForward(m.hkn, m.rstdK, m.hk, inStride: C, parameter(p + "shared_head.norm.weight"), N: N, C: C, eps: eps)
            let nk = Double(max(targetCounts[k + 1], 1))
            let lk = headCrossEntropy(m.hkn, head, targets: tokens + k + 2, rowStride: row, B: B, T: T, C: C, V: V,
                                      scratch: headScratch, chunk: headChunk, dHidden: computeGradients ? dhkn[k] : nil,
                                      dWeight: dHead, dScale: S(mtpScale / nk), limit: targetLimit, offset: k + 2) / nk
            losses.mtp.append(lk)
            hPrev = m.hk
        }
        var mtpSum = 0.0
        for l in losses.mtp { mtpSum += l }
        losses.total = losses.main + mtpScale * mtpSum + losses.balance
        return losses.total
    }

    /// Gradients of the last `forward(computeGradients: true)` into `grads`, in exact reverse order.
    public func backward() {
        let c = config, N = B * T, C = c.hiddenSize, D = c.numNextnPredictLayers, L = c.numHiddenLayers, row = rowLength
        let dEmbed = parameter("model.embed_tokens.weight", in: grads)
        for k in 0..<D { dhk[k].update(repeating: 0, count: N * C) }
        // 2'. multi-token prediction, last module first
        for k in stride(from: D - 1, through: 0, by: -1) {
            let m = mtp[k], p = "model.layers.\(L + k)."
            rmsnormBackward(dhk[k], dInStride: C, parameter(p + "shared_head.norm.weight", in: grads), dhkn[k], m.hk,
                            inStride: C, parameter(p + "shared_head.norm.weight"), m.rstdK, N: N, C: C)
            dhp.update(repeating: 0, count: N * C)
            runBlockBackward(L + k, dx: dhp, dOut: dhk[k])
            dcat.update(repeating: 0, count: N * 2 * C)
            matmulBackward(dcat, parameter(p + "eh_proj.weight", in: grads), dhp, m.cat, parameter(p + "eh_proj.weight"),
                           N: N, IC: 2 * C, OC: C)
            let dPrev = k == 0 ? dhf! : dhk[k - 1]
            let prev = k == 0 ? hf! : mtp[k - 1].hk
            // dcat rows are [d en | d hn]: norms read them with row stride 2C.
            dek.update(repeating: 0, count: N * C)
            rmsnormBackwardStrided(dek, parameter(p + "enorm.weight", in: grads), dcat, 2 * C, m.emb, parameter(p + "enorm.weight"), m.rstdE, N, C)
            rmsnormBackwardStrided(dPrev, parameter(p + "hnorm.weight", in: grads), dcat + C, 2 * C, prev, parameter(p + "hnorm.weight"), m.rstdH, N, C)
            embeddingBackward(dEmbed, dek, tokens + k + 1, rowStride: row, B: B, T: T, C: C)
        }
        // 1'. trunk
        dres0.update(repeating: 0, count: N * C)
        rmsnormBackward(dres0, dInStride: C, parameter("model.norm.weight", in: grads), dhf, xs[L], inStride: C,
                        parameter("model.norm.weight"), rstdF, N: N, C: C)
        var dy = dres0!, dx = dres1!
        for l in stride(from: L - 1, through: 0, by: -1) {
            dx.update(repeating: 0, count: N * C)
            runBlockBackward(l, dx: dx, dOut: dy)
            swap(&dx, &dy)
        }
        embeddingBackward(dEmbed, dy, tokens, rowStride: row, B: B, T: T, C: C)
    }

    private func runBlockBackward(_ l: Int, dx: UnsafeMutablePointer<S>, dOut: UnsafePointer<S>) {
        (storage!.grads + gradScratchStart).update(repeating: 0, count: gradScratchCount)
        blocks[l].backward(dx: dx, dOut: dOut, g: blockGrads, cos: cosT, sin: sinT, rows: rows)
    }

    // MARK: segments

    /// RoPE positions and the real-input flags from `segmentStart` and `targetLimit`.
    func prepareRows() {
        for n in 0..<(B * T) {
            let t = n % T
            rows.position[n] = Int32(t) - segmentStart[n]
            rows.real[n] = Int(targetLimit[n]) >= t ? 1 : 0
            precondition(segmentStart[n] >= 0 && Int(segmentStart[n]) <= t, "segmentStart[\(n)] = \(segmentStart[n]) is not in 0...\(t)")
        }
    }

    /// Every row one segment, every target counted (the state after `init`).
    public func resetSegments() {
        segmentStart.update(repeating: 0, count: B * T)
        targetLimit.update(repeating: Int32(rowLength - 1), count: B * T)
    }

    /// Describes row `b` of `tokens` by the packed-data convention (shared with the bits-per-byte
    /// evaluation): a new segment starts at the row start, at every position holding `eod`, and at every
    /// piece start (`pieceStarts`, row positions in 1..<rowLength, ascending) that does not follow `eod`;
    /// the target crossing into such a piece is masked, and so is every target at or after `realLength`
    /// (padding, or past the data). So the EOD ending document k is position 0 of the segment whose
    /// targets are document k+1's tokens. Without `eod` only piece starts and the row start split segments.
    /// - Complexity: O(rowLength + pieceStarts.count).
    public func describeRow(_ b: Int, eod: Int32?, realLength: Int, pieceStarts: [Int] = []) {
        let R = rowLength, x = tokens + b * R, real = min(max(realLength, 0), R)
        let start = segmentStart + b * T, limit = targetLimit + b * T
        func isEOD(_ p: Int) -> Bool { p < real && eod != nil && x[p] == eod! }
        // A hard start: a piece (or the padding) beginning after a token other than EOD.
        func hard(_ p: Int, isPiece: Bool) -> Bool { p >= 1 && (p == real || (isPiece && p < real && x[p - 1] != eod ?? -1)) }
        // 1. Limits, sweeping backwards: the nearest start after t bounds its targets.
        var piece = pieceStarts.count - 1
        var bound = real - 1
        for p in stride(from: R - 1, through: 0, by: -1) {
            if p < T { limit[p] = Int32(p >= real ? -1 : bound) }
            while piece >= 0 && pieceStarts[piece] > p { piece -= 1 }
            let isPiece = piece >= 0 && pieceStarts[piece] == p
            if hard(p, isPiece: isPiece) { bound = min(real - 1, p - 1) } else if isEOD(p) { bound = min(real - 1, p) }
        }
        // 2. Segment starts, sweeping forwards.
        piece = 0
        var s = 0
        for t in 0..<T {
            while piece < pieceStarts.count && pieceStarts[piece] < t { piece += 1 }
            let isPiece = piece < pieceStarts.count && pieceStarts[piece] == t
            if t == 0 || isEOD(t) || hard(t, isPiece: isPiece) { s = t }
            start[t] = Int32(s)
        }
    }

    /// Aux-loss-free balancing: moves every MoE layer's bias by ±γ from `expertLoad`, then clears it.
    public func updateBias() {
        let E = config.nRoutedExperts
        var i = 0
        for b in blocks where b.shape.moe != nil {
            moeUpdateBias(b.w.moe!.bias, load: expertLoad + i * E, E: E, gamma: config.biasUpdateSpeed)
            i += 1
        }
        clearExpertLoad()
    }

    /// Zeroes `expertLoad` without moving the biases.
    public func clearExpertLoad() { expertLoad.update(repeating: 0, count: moeLayerCount * config.nRoutedExperts) }

    /// The balancing biases' range per MoE layer (min, max).
    public func biasRanges() -> [(Double, Double)] {
        let E = config.nRoutedExperts
        return blocks.filter { $0.shape.moe != nil }.map { b in
            let p = b.w.moe!.bias
            var lo = Double(p[0]), hi = Double(p[0])
            for e in 0..<E { lo = min(lo, Double(p[e])); hi = max(hi, Double(p[e])) }
            return (lo, hi)
        }
    }

    /// Full logits (B·T, V) of the main head for the current `tokens`, for comparisons with transformers.
    public func logits(into out: UnsafeMutablePointer<S>) {
        let c = config, N = B * T, C = c.hiddenSize, L = c.numHiddenLayers
        embeddingForward(xs[0], tokens, rowStride: rowLength, parameter("model.embed_tokens.weight"), B: B, T: T, C: C)
        prepareRows()
        for l in 0..<L { _ = blocks[l].forward(cos: cosT, sin: sinT, rows: rows, countLoad: false, scratchLoad: scratchLoad) }
        rmsnormForward(hf, rstdF, xs[L], inStride: C, parameter("model.norm.weight"), N: N, C: C, eps: S(c.rmsNormEps))
        matmulForward(out, hf, parameter("lm_head.weight"), N: N, IC: C, OC: c.vocabSize)
    }

    /// Forward flops per token (2 per multiply-add of every matmul, attention at full T×T), for
    /// GFLOP/s reports; training is about 3× this. These are model flops, counted as nanoGPT's and
    /// PaLM's MFU count them (6·N + 12·L·H·Q·T per token): the attention core computes only the
    /// unmasked row blocks (62.5% of T×T at T = 512), so the machine executes fewer.
    public var forwardFlopsPerToken: Double {
        let c = config, C = Double(c.hiddenSize), H = Double(c.numAttentionHeads), V = Double(c.vocabSize)
        let Dqk = Double(c.qkHeadDim), Dv = Double(c.vHeadDim), R = Double(c.kvLoraRank), Dr = Double(c.qkRopeHeadDim)
        let Dn = Double(c.qkNopeHeadDim), T = Double(self.T), D = c.numNextnPredictLayers
        func layer(_ l: Int) -> Double {
            var f = 0.0
            if c.qLoraRank > 0 { f += C * Double(c.qLoraRank) + Double(c.qLoraRank) * H * Dqk } else { f += C * H * Dqk }
            f += C * (R + Dr) + R * H * (Dn + Dv) + H * Dv * C
            f += H * T * (Dqk + Dv)
            if c.isMoE(layer: l) {
                f += C * Double(c.nRoutedExperts)
                f += 3 * C * Double(c.moeIntermediateSize) * Double(c.numExpertsPerTok + c.nSharedExperts)
            } else {
                f += 3 * C * Double(c.intermediateSize)
            }
            return 2 * f
        }
        var total = 0.0
        for l in 0..<(c.numHiddenLayers + D) { total += layer(l) }
        total += 2 * C * V * Double(1 + D) + Double(D) * 2 * 2 * C * C
        return total
    }
}

/// fp8 mode: the FP32 buffers of the linear inputs, shared by all layers (each layer keeps its own codes).
private struct FP8SharedInputs<S: TrainingScalar> {
    var ln1, kvc, att, ln2, router, qan, xg, hDense, hRouted, hShared: UnsafeMutablePointer<S>
}

/// rmsnormBackward for a gradient with row stride `dOutStride` (the halves of the MTP concatenation).
private func rmsnormBackwardStrided<S: TrainingScalar>(_ dInp: UnsafeMutablePointer<S>, _ dWeight: UnsafeMutablePointer<S>,
                                                       _ dOut: UnsafePointer<S>, _ dOutStride: Int, _ inp: UnsafePointer<S>,
                                                       _ weight: UnsafePointer<S>, _ rstd: UnsafePointer<S>, _ N: Int, _ C: Int) {
    for n in 0..<N {
        let x = inp + n * C, d = dOut + n * dOutStride, dx = dInp + n * C, s = rstd[n]
        var dot: S = 0
        for c in 0..<C { dWeight[c] += d[c] * x[c] * s; dot += d[c] * weight[c] * x[c] * s }
        let mean = dot / S(C)
        for c in 0..<C { dx[c] += s * (d[c] * weight[c] - x[c] * s * mean) }
    }
}
