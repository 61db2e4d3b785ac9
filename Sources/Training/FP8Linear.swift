// FP8 fine-grained mixed precision for the trainer's linear layers (DeepSeek-V3 §3.3), simulated on CPU:
// with `training.precision: fp8` every GEMM of the attention projections, the dense FFN and the experts
// (shared and routed) runs on E4M3-quantized operands in Fprop, Dgrad and Wgrad:
//   Fprop  out  = Q₁ₓ₁₂₈(inp) · Q₁₂₈ₓ₁₂₈(W)ᵀ          K = IC
//   Dgrad  dInp += Q₁ₓ₁₂₈(dOut) · Q₁₂₈ₓ₁₂₈(W)          K = OC
//   Wgrad  dW  += Q₁₂₈ₓ₁(dOut)ᵀ · Q₁₂₈ₓ₁(inp)           K = N (tokens)
// Q_tile quantizes each tile with its own scale = current max-abs / 448 (online, no history) and gives the
// dequantized values code·scale. Activations use 1×128 tiles (per token per 128 channels), weights
// 128×128 blocks; for Wgrad the cached input is dequantized and re-quantized in 128×1 tiles (per
// channel per 128 tokens), and so is the output gradient. With `fp8_scaling: per-tensor` every tile is
// the whole tensor. Gradients are straight-through: the backward of Q is the identity, so each GEMM's
// backward is the exact derivative of the quantized forward with Q's rounding held fixed.
// Accumulation: the report's tensor cores sum 128 FP8 products (in ~14 bits), then the partial sum is
// multiplied by the two tiles' scales and added in FP32 (promotion every N_C = 128). Here the operands
// are dequantized (code·scale, so each product already carries both scales) and one sgemm sums all of K
// in FP32: per 128-element K chunk this is the same partial sum, scaled the same way, and the chunks are
// added in FP32, so the result equals the per-chunk promotion up to FP32 rounding (FP8TrainingTests compares
// it with an explicit per-chunk reference). One sgemm instead of K/128 small ones keeps the GEMM at
// OpenBLAS's speed; the cost of FP8 is the quantization passes, O(size) per operand.
// `fp8_accumulation: limited` simulates accumulation without promotion: each group of 32 products of K
// (one Hopper FP8 MMA instruction's K) is summed in FP32, then added into an accumulator that keeps
// only 14 significant bits (lower bits truncated, as the aligned adder drops them), for the whole K.
// Kept in FP32 (as the report keeps them in higher precision): the embedding, the output head, the MoE
// router, the norms, the attention core, the MTP projection; master weights and weight gradients.
// Memory: the input a linear layer caches for its backward is kept as E4M3 codes + one Float scale per
// 1×128 tile (`FP8Cache`), and its FP32 form lives in one buffer shared by all layers (restored from the
// codes in backward), so each cached input costs ~1 byte a value instead of 4. The router's input (the
// post-attention norm) is recomputed in FP32 in backward from the residual stream, as the report
// recomputes its RMSNorms. The GEMM scratch (quantized weight, gradient and re-quantized input) grows
// on first use and is reused.
import CKernels
import Foundation
import Synchronization

/// How FP8 tiles are scaled.
public enum FP8Scaling: String, Sendable, CaseIterable {
    /// 1×128 activation tiles, 128×128 weight blocks, 128×1 tiles for Wgrad (DeepSeek-V3).
    case fineGrained = "fine-grained"
    /// One scale per tensor (the usual practice the report compares against).
    case perTensor = "per-tensor"
}

/// How FP8 GEMMs accumulate.
public enum FP8Accumulation: String, Sendable, CaseIterable {
    /// FP32, with the per-tile scales applied per 128-element K chunk.
    case fp32
    /// A ~14-bit accumulator never promoted to FP32 (see the file header).
    case limited
}

/// The FP8 mode of a model.
public struct FP8Settings: Sendable, Equatable {
    public var scaling: FP8Scaling
    public var accumulation: FP8Accumulation
    /// false: every quantizer is the identity, so the fp8 code path (caches, restores, GEMM order) runs
    /// in exact arithmetic; for gradient checks in Double.
    public var quantize: Bool
    public init(scaling: FP8Scaling = .fineGrained, accumulation: FP8Accumulation = .fp32, quantize: Bool = true) {
        self.scaling = scaling; self.accumulation = accumulation; self.quantize = quantize
    }
}

/// A tile shape for quantizing a row-major matrix; 0 means the whole extent.
public struct FP8Tile: Sendable, Equatable {
    public var rows, cols: Int
    public init(rows: Int, cols: Int) { self.rows = rows; self.cols = cols }
    public static let activation = FP8Tile(rows: 1, cols: 128)
    public static let weight = FP8Tile(rows: 128, cols: 128)
    public static let wgrad = FP8Tile(rows: 128, cols: 1)
    public static let tensor = FP8Tile(rows: 0, cols: 0)
}

/// Quantization statistics of one kind of tensor.
public struct FP8TensorStats: Sendable, Equatable {
    /// Values quantized.
    public var count = 0
    /// Values whose scaled magnitude exceeded 448 (clamped to ±448).
    public var saturated = 0
    /// Non-zero values that became ±0.
    public var underflowed = 0
    public var sumSquaredError = 0.0
    public var sumSquared = 0.0
    public init() {}
    /// ‖x − Q(x)‖ / ‖x‖ over everything counted.
    public var relativeError: Double { sumSquared > 0 ? (sumSquaredError / sumSquared).squareRoot() : 0 }
    mutating func add(_ o: FP8TensorStats) {
        count += o.count; saturated += o.saturated; underflowed += o.underflowed
        sumSquaredError += o.sumSquaredError; sumSquared += o.sumSquared
    }
}

/// The operands an FP8 GEMM quantizes, for the per-kind statistics in metrics.jsonl.
public enum FP8TensorKind: Int, CaseIterable, Sendable {
    case activation, weight, outputGradient, wgradActivation, wgradOutputGradient
    public var name: String {
        switch self {
        case .activation: "activation"
        case .weight: "weight"
        case .outputGradient: "output_grad"
        case .wgradActivation: "wgrad_activation"
        case .wgradOutputGradient: "wgrad_output_grad"
        }
    }
}

/// Every E4M3 code's value (256 entries), for dequantizing by table.
nonisolated(unsafe) let e4m3Values: UnsafeMutablePointer<Float> = {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: 256)
    for c in 0..<256 { p[c] = FP8Format.e4m3.decode(UInt8(c)) }
    return p
}()

/// The number of 128-wide tiles in a row of `cols`.
@inline(__always) func fp8TilesPerRow(_ cols: Int) -> Int { (cols + 127) / 128 }

/// Quantizes `x` (rows × cols, row stride `ld`) to E4M3 in tiles of `tile` with scale = max-abs/448
/// per tile (1 for an all-zero tile), writing the dequantized values code·scale into `out` (row stride
/// `ldOut`; may be `x`), and when given the codes (rows × cols, dense) and the scales (row-major over
/// the tiles: ⌈rows/tile.rows⌉ × ⌈cols/tile.cols⌉). Returns the statistics.
/// - Complexity: O(rows·cols), in parallel over bands of tile rows.
@discardableResult
public func fp8Quantize(_ x: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int, tile: FP8Tile,
                        out: UnsafeMutablePointer<Float>, ldOut: Int, codes: UnsafeMutablePointer<UInt8>? = nil,
                        scales: UnsafeMutablePointer<Float>? = nil) -> FP8TensorStats {
    if rows == 0 || cols == 0 { return FP8TensorStats() }
    let tr = tile.rows == 0 ? rows : tile.rows, tc = tile.cols == 0 ? cols : tile.cols
    let bands = (rows + tr - 1) / tr, colTiles = (cols + tc - 1) / tc
    let total = Mutex(FP8TensorStats())
    let xp = SendablePointer(UnsafeMutablePointer(mutating: x)), op = SendablePointer(out)
    let cp = codes.map { SendablePointer($0) }, sp = scales.map { SendablePointer($0) }
    parallelFor(bands, work: tr * cols * 4) { range in
        var sums: (Double, Double, Double, Double) = (0, 0, 0, 0)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: colTiles) { amaxBuffer in
            let amax = amaxBuffer.baseAddress!
            for band in range {
                let r0 = band * tr, r1 = min(r0 + tr, rows)
                // 1. Max-abs per tile of the band.
                amax.initialize(repeating: 0, count: colTiles)
                for r in r0..<r1 {
                    let row = xp.p + r * ld
                    if tc == 1 {
                        tm_absmax_cols(amax, row, cols, -1)
                    } else {
                        for t in 0..<colTiles {
                            var m = amax[t]
                            for c in (t * tc)..<min(t * tc + tc, cols) { m = max(m, abs(row[c])) }
                            amax[t] = m
                        }
                    }
                }
                // 2. Scales, then codes and dequantized values (the C kernel, 8 lanes at a time).
                for t in 0..<colTiles {
                    let s = amax[t] > 0 ? amax[t] / 448 : 1
                    amax[t] = s
                    sp?.p[band * colTiles + t] = s
                }
                withUnsafeMutableBytes(of: &sums) { raw in
                    let stats = raw.baseAddress!.assumingMemoryBound(to: Double.self)
                    for r in r0..<r1 {
                        let row = xp.p + r * ld, o = op.p + r * ldOut, code = cp.map { $0.p + r * cols }
                        if tc == 1 {
                            tm_e4m3_quantize(row, cols, amax, 1, o, code, stats, -1)
                        } else {
                            for t in 0..<colTiles {
                                let c0 = t * tc
                                tm_e4m3_quantize(row + c0, min(tc, cols - c0), amax + t, 0, o + c0, code.map { $0 + c0 }, stats, -1)
                            }
                        }
                    }
                }
            }
        }
        var st = FP8TensorStats()
        st.count = (min(range.upperBound * tr, rows) - range.lowerBound * tr) * cols
        st.sumSquaredError = sums.0; st.sumSquared = sums.1; st.saturated = Int(sums.2); st.underflowed = Int(sums.3)
        let partial = st
        total.withLock { $0.add(partial) }
    }
    return total.withLock { $0 }
}

/// The values of codes written by `fp8Quantize` (same tile and scale layout) into `out` (row stride `ldOut`).
/// - Complexity: O(rows·cols), in parallel.
public func fp8Dequantize(_ codes: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, rows: Int, cols: Int, tile: FP8Tile,
                          out: UnsafeMutablePointer<Float>, ldOut: Int) {
    if rows == 0 || cols == 0 { return }
    let tr = tile.rows == 0 ? rows : tile.rows, tc = tile.cols == 0 ? cols : tile.cols
    let colTiles = (cols + tc - 1) / tc
    let cp = SendablePointer(UnsafeMutablePointer(mutating: codes)), sp = SendablePointer(UnsafeMutablePointer(mutating: scales))
    let op = SendablePointer(out)
    parallelFor(rows, work: cols) { range in
        for r in range {
            let scaleRow = sp.p + (r / tr) * colTiles, q = cp.p + r * cols, o = op.p + r * ldOut
            for c in 0..<cols { o[c] = e4m3Values[Int(q[c])] * scaleRow[tc == 1 ? c : c / tc] }
        }
    }
}

/// The K of one tensor-core FP8 MMA step, summed exactly before it reaches the limited accumulator.
public let fp8MMAWidth = 32
/// Significant bits the limited accumulator keeps (1 implicit + 13 stored).
public let limitedAccumulatorBits = 14

/// `x` with all but its `limitedAccumulatorBits` leading significant bits cleared (toward zero).
@inline(__always) func truncateToAccumulator(_ x: Float) -> Float {
    Float(bitPattern: x.bitPattern & ~((UInt32(1) << UInt32(24 - limitedAccumulatorBits)) - 1))
}

/// Row-major C (M×N) = op(A)·op(B) (+ C with `accumulate`) with the limited accumulation of the header:
/// K in groups of `fp8MMAWidth` (sgemm each), every group's sum added into a 14-bit accumulator.
/// `scratch` holds 2·M·N floats.
/// - Complexity: 2·M·N·K flops in ⌈K/32⌉ sgemm calls, plus O(M·N·K/32) for the accumulator.
public func limitedAccumulationGemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, A: UnsafePointer<Float>, lda: Int,
                                    B: UnsafePointer<Float>, ldb: Int, C: UnsafeMutablePointer<Float>, ldc: Int,
                                    accumulate: Bool, scratch: UnsafeMutablePointer<Float>) {
    if M == 0 || N == 0 { return }
    let acc = scratch, part = scratch + M * N
    acc.initialize(repeating: 0, count: M * N)
    for k0 in stride(from: 0, to: K, by: fp8MMAWidth) {
        let kk = min(fp8MMAWidth, K - k0)
        Float.gemm(transA: transA, transB: transB, M: M, N: N, K: kk, alpha: 1, A: transA ? A + k0 * lda : A + k0, lda: lda,
                   B: transB ? B + k0 : B + k0 * ldb, ldb: ldb, beta: 0, C: part, ldc: N)
        let ap = SendablePointer(acc), pp = SendablePointer(part)
        parallelFor(M * N) { r in
            for i in r { ap.p[i] = truncateToAccumulator(ap.p[i] + pp.p[i]) }
        }
    }
    for i in 0..<M {
        let c = C + i * ldc, a = acc + i * N
        if accumulate { for j in 0..<N { c[j] += a[j] } } else { c.update(from: a, count: N) }
    }
}

/// The error of one accumulation setting in `fp8AccumulationError`.
public struct FP8AccumulationError: Sendable, Equatable {
    /// max over the outputs of |C − R| / |R| (outputs with R = 0 left out).
    public var maxRelative: Double
    /// ‖C − R‖ / ‖R‖ (Frobenius).
    public var frobeniusRelative: Double
}

/// The accumulation experiment of DeepSeek-V3 §3.3.2 (`tokenmill fp8-gemm-error`, tools/bench-fp8):
/// C = Q₁ₓ₁₂₈(a)·Q₁₂₈ₓ₁₂₈(b)ᵀ (a: M×K, b: N×K like a linear layer's weight, both row-major) with each
/// `FP8Accumulation` setting, against R, the exact (Double) sum of the same dequantized products, so
/// only the accumulation error counts.
/// - Complexity: O(M·N·K) in Double for R, plus the GEMMs.
public func fp8AccumulationError(a: [Float], b: [Float], M: Int, N: Int, K: Int) -> [FP8Accumulation: FP8AccumulationError] {
    precondition(a.count == M * K && b.count == N * K)
    var qa = a, qb = b
    fp8Quantize(a, ld: K, rows: M, cols: K, tile: .activation, out: &qa, ldOut: K)
    fp8Quantize(b, ld: K, rows: N, cols: K, tile: .weight, out: &qb, ldOut: K)
    var exact = [Double](repeating: 0, count: M * N)
    for i in 0..<M {
        for j in 0..<N {
            var s = 0.0
            for k in 0..<K { s += Double(qa[i * K + k]) * Double(qb[j * K + k]) }
            exact[i * N + j] = s
        }
    }
    var result: [FP8Accumulation: FP8AccumulationError] = [:]
    for setting in FP8Accumulation.allCases {
        var c = [Float](repeating: 0, count: M * N), scratch = [Float](repeating: 0, count: 2 * M * N)
        if setting == .fp32 {
            Float.gemm(transA: false, transB: true, M: M, N: N, K: K, alpha: 1, A: qa, lda: K, B: qb, ldb: K, beta: 0, C: &c, ldc: N)
        } else {
            limitedAccumulationGemm(transA: false, transB: true, M: M, N: N, K: K, A: qa, lda: K, B: qb, ldb: K, C: &c, ldc: N,
                                    accumulate: false, scratch: &scratch)
        }
        var maxRelative = 0.0, errorSquares = 0.0, squares = 0.0
        for i in 0..<(M * N) {
            let e = Double(c[i]) - exact[i]
            if exact[i] != 0 { maxRelative = max(maxRelative, abs(e) / abs(exact[i])) }
            errorSquares += e * e; squares += exact[i] * exact[i]
        }
        result[setting] = FP8AccumulationError(maxRelative: maxRelative, frobeniusRelative: (errorSquares / max(squares, 1e-300)).squareRoot())
    }
    return result
}

/// The input of a linear layer kept for its backward: E4M3 codes (rows × cols) and one Float scale per
/// 1×128 tile (⌈cols/128⌉ a row; with per-tensor scaling only the first is used), or with quantization
/// disabled the values themselves.
struct FP8Cache<S: TrainingScalar> {
    var codes: UnsafeMutablePointer<UInt8>?
    var scales: UnsafeMutablePointer<Float>?
    var raw: UnsafeMutablePointer<S>?
    var cols: Int

    /// The cache of the rows from `rows` on (a routed expert's block).
    func advanced(rows: Int) -> FP8Cache {
        FP8Cache(codes: codes.map { $0 + rows * cols }, scales: scales.map { $0 + rows * fp8TilesPerRow(cols) },
                 raw: raw.map { $0 + rows * cols }, cols: cols)
    }
}

/// A model's FP8 state: the settings, the GEMM scratch and the statistics since the last `takeStats`.
public final class FP8Linear<S: TrainingScalar> {
    public let settings: FP8Settings
    private var stats = [FP8TensorStats](repeating: FP8TensorStats(), count: FP8TensorKind.allCases.count)
    /// The GEMM scratch buffers, by use (grown on first use, then reused).
    private enum Scratch: Int, CaseIterable {
        /// Q(weight).
        case weight
        /// Q(dOut), in 1×128 tiles for Dgrad, then in 128×1 tiles for Wgrad.
        case outputGradient
        /// Q(inp) re-quantized in 128×1 tiles for Wgrad.
        case input
        /// The limited accumulator's two M×N buffers.
        case accumulator
    }
    private var scratch: [(pointer: UnsafeMutablePointer<Float>, count: Int)] = []

    public init(settings: FP8Settings) {
        precondition(!settings.quantize || S.self == Float.self, "FP8 quantization runs on Float models")
        self.settings = settings
        scratch = Scratch.allCases.map { _ in (UnsafeMutablePointer<Float>.allocate(capacity: 1), 1) }
    }

    deinit { for s in scratch { s.pointer.deallocate() } }

    var activationTile: FP8Tile { settings.scaling == .fineGrained ? .activation : .tensor }
    var weightTile: FP8Tile { settings.scaling == .fineGrained ? .weight : .tensor }
    var wgradTile: FP8Tile { settings.scaling == .fineGrained ? .wgrad : .tensor }

    /// Bytes of the GEMM scratch allocated so far.
    public var scratchBytes: Int { scratch.reduce(0) { $0 + $1.count * 4 } }

    /// The statistics per kind since the last call, then cleared.
    public func takeStats() -> [FP8TensorKind: FP8TensorStats] {
        defer { for i in stats.indices { stats[i] = FP8TensorStats() } }
        return Dictionary(uniqueKeysWithValues: FP8TensorKind.allCases.map { ($0, stats[$0.rawValue]) })
    }

    private func buffer(_ use: Scratch, _ count: Int) -> UnsafeMutablePointer<Float> {
        let i = use.rawValue
        if scratch[i].count < count {
            scratch[i].pointer.deallocate()
            scratch[i] = (.allocate(capacity: count), count)
        }
        return scratch[i].pointer
    }

    @inline(__always) private func float(_ p: UnsafePointer<S>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }
    @inline(__always) private func mutableFloat(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    private func quantize(_ x: UnsafePointer<Float>, rows: Int, cols: Int, tile: FP8Tile, out: UnsafeMutablePointer<Float>,
                          kind: FP8TensorKind?, codes: UnsafeMutablePointer<UInt8>? = nil, scales: UnsafeMutablePointer<Float>? = nil) {
        let st = fp8Quantize(x, ld: cols, rows: rows, cols: cols, tile: tile, out: out, ldOut: cols, codes: codes, scales: scales)
        if let kind { stats[kind.rawValue].add(st) }
    }

    /// Quantizes a linear layer's input `x` (rows × cols) in place (it becomes Q₁ₓ₁₂₈(x)) and keeps it in `cache`.
    func keep(_ x: UnsafeMutablePointer<S>, rows: Int, cols: Int, cache: FP8Cache<S>) {
        guard settings.quantize else { cache.raw!.update(from: x, count: rows * cols); return }
        quantize(mutableFloat(x), rows: rows, cols: cols, tile: activationTile, out: mutableFloat(x), kind: .activation,
                 codes: cache.codes, scales: cache.scales)
    }

    /// Writes the values `keep` kept into `x`.
    func restore(_ x: UnsafeMutablePointer<S>, rows: Int, cols: Int, cache: FP8Cache<S>) {
        guard settings.quantize else { x.update(from: cache.raw!, count: rows * cols); return }
        fp8Dequantize(cache.codes!, scales: cache.scales!, rows: rows, cols: cols, tile: activationTile, out: mutableFloat(x), ldOut: cols)
    }

    private func gemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, A: UnsafePointer<Float>, lda: Int,
                      B: UnsafePointer<Float>, ldb: Int, C: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        if settings.accumulation == .fp32 {
            Float.gemm(transA: transA, transB: transB, M: M, N: N, K: K, alpha: 1, A: A, lda: lda, B: B, ldb: ldb,
                       beta: accumulate ? 1 : 0, C: C, ldc: ldc)
        } else {
            limitedAccumulationGemm(transA: transA, transB: transB, M: M, N: N, K: K, A: A, lda: lda, B: B, ldb: ldb, C: C,
                                    ldc: ldc, accumulate: accumulate, scratch: buffer(.accumulator, 2 * M * N))
        }
    }

    /// Fprop: out (N, OC) (+)= inp · Q(weight)ᵀ; `inp` was quantized by `keep`.
    /// - Complexity: 2·N·IC·OC flops plus O(OC·IC) quantization.
    func forward(_ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, N: Int, IC: Int, OC: Int,
                 accumulate: Bool) {
        guard settings.quantize else {
            matmulForward(out, inp, weight, N: N, IC: IC, OC: OC, accumulate: accumulate)
            return
        }
        if N == 0 { return }
        let wq = buffer(.weight, OC * IC)
        quantize(float(weight), rows: OC, cols: IC, tile: weightTile, out: wq, kind: .weight)
        gemm(transA: false, transB: true, M: N, N: OC, K: IC, A: float(inp), lda: IC, B: wq, ldb: IC, C: mutableFloat(out), ldc: OC,
             accumulate: accumulate)
    }

    /// Dgrad: dInp += Q₁ₓ₁₂₈(dOut) · Q(weight); Wgrad: dWeight += Q₁₂₈ₓ₁(dOut)ᵀ · Q₁₂₈ₓ₁(inp).
    /// - Complexity: 4·N·IC·OC flops plus O(N·(IC + OC) + OC·IC) quantization.
    func backward(_ dInp: UnsafeMutablePointer<S>?, _ dWeight: UnsafeMutablePointer<S>, _ dOut: UnsafePointer<S>,
                  _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, N: Int, IC: Int, OC: Int) {
        guard settings.quantize else {
            matmulBackward(dInp, dWeight, dOut, inp, weight, N: N, IC: IC, OC: OC)
            return
        }
        if N == 0 { return }
        let g = buffer(.outputGradient, N * OC)
        if let dInp {
            let wq = buffer(.weight, OC * IC)
            quantize(float(weight), rows: OC, cols: IC, tile: weightTile, out: wq, kind: nil)   // as in forward
            quantize(float(dOut), rows: N, cols: OC, tile: activationTile, out: g, kind: .outputGradient)
            gemm(transA: false, transB: false, M: N, N: IC, K: OC, A: g, lda: OC, B: wq, ldb: IC, C: mutableFloat(dInp), ldc: IC,
                 accumulate: true)
        }
        let x = buffer(.input, N * IC)
        quantize(float(dOut), rows: N, cols: OC, tile: wgradTile, out: g, kind: .wgradOutputGradient)
        quantize(float(inp), rows: N, cols: IC, tile: wgradTile, out: x, kind: .wgradActivation)
        gemm(transA: true, transB: false, M: OC, N: IC, K: N, A: g, lda: OC, B: x, ldb: IC, C: mutableFloat(dWeight), ldc: IC,
             accumulate: true)
    }
}

/// A linear layer's forward: FP8 when `fp8` is given, else `matmulForward`.
@inline(__always)
func linearForward<S: TrainingScalar>(_ fp8: FP8Linear<S>?, _ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>,
                                      _ weight: UnsafePointer<S>, N: Int, IC: Int, OC: Int, accumulate: Bool = false) {
    if let fp8 { fp8.forward(out, inp, weight, N: N, IC: IC, OC: OC, accumulate: accumulate) }
    else { matmulForward(out, inp, weight, N: N, IC: IC, OC: OC, accumulate: accumulate) }
}

/// A linear layer's backward: FP8 when `fp8` is given, else `matmulBackward`.
@inline(__always)
func linearBackward<S: TrainingScalar>(_ fp8: FP8Linear<S>?, _ dInp: UnsafeMutablePointer<S>?, _ dWeight: UnsafeMutablePointer<S>,
                                       _ dOut: UnsafePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>,
                                       N: Int, IC: Int, OC: Int) {
    if let fp8 { fp8.backward(dInp, dWeight, dOut, inp, weight, N: N, IC: IC, OC: OC) }
    else { matmulBackward(dInp, dWeight, dOut, inp, weight, N: N, IC: IC, OC: OC) }
}
