// `tokenmill fp8-gemm-error` (hidden): the accumulation experiment of DeepSeek-V3 §3.3.2 for
// tools/bench-fp8. An (M × K)·(K × N) GEMM on E4M3 operands (1×128 tiles for A, 128×128 blocks for B,
// seeded random values) is computed with both `fp8_accumulation` settings of the trainer, and compared
// with the exact sum (Double) of the same dequantized products, so only the accumulation error counts.
// Prints one JSON object: per setting the max relative error over the outputs |C − R| / |R| and the
// Frobenius relative error ‖C − R‖ / ‖R‖.
import ArgumentParser
import CorpusIO
import Foundation
import Training

struct FP8GemmErrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fp8-gemm-error",
        abstract: "Measure the relative error of FP8 GEMMs with FP32 and limited accumulation (for tools/bench-fp8).",
        shouldDisplay: false
    )

    enum Distribution: String, ExpressibleByArgument, CaseIterable { case uniform, normal }

    @Option(help: "The reduction length K.")
    var k = 4096

    @Option(help: "Rows of A (M) and columns of B (N).")
    var size = 64

    @Option(help: "Input values: uniform in [0, 1) (no output near zero) or standard normal.")
    var distribution: Distribution = .uniform

    @Option(help: "The random seed.")
    var seed: UInt64 = 1

    func validate() throws {
        if k < 1 || size < 1 { throw ValidationError("--k and --size must be positive.") }
    }

    func run() throws {
        let (M, N, K) = (size, size, k)
        var rng = SplitMix64(seed: seed)
        func value() -> Float { Float(distribution == .uniform ? rng.unit() : rng.normal()) }
        var a = (0..<(M * K)).map { _ in value() }, b = (0..<(K * N)).map { _ in value() }
        // B is stored (N, K) like a linear layer's weight; quantize both operands in place.
        fp8Quantize(a, ld: K, rows: M, cols: K, tile: .activation, out: &a, ldOut: K)
        fp8Quantize(b, ld: K, rows: N, cols: K, tile: .weight, out: &b, ldOut: K)
        var exact = [Double](repeating: 0, count: M * N)
        for i in 0..<M {
            for j in 0..<N {
                var s = 0.0
                for kk in 0..<K { s += Double(a[i * K + kk]) * Double(b[j * K + kk]) }
                exact[i * N + j] = s
            }
        }
        var result: [String: Any] = ["k": K, "m": M, "n": N, "distribution": distribution.rawValue, "seed": seed]
        for setting in FP8Accumulation.allCases {
            var c = [Float](repeating: 0, count: M * N), scratch = [Float](repeating: 0, count: 2 * M * N)
            if setting == .fp32 {
                Float.gemm(transA: false, transB: true, M: M, N: N, K: K, alpha: 1, A: a, lda: K, B: b, ldb: K, beta: 0, C: &c, ldc: N)
            } else {
                limitedAccumulationGemm(transA: false, transB: true, M: M, N: N, K: K, A: a, lda: K, B: b, ldb: K, C: &c, ldc: N,
                                        accumulate: false, scratch: &scratch)
            }
            var maxRelative = 0.0, errorSquares = 0.0, squares = 0.0
            for i in 0..<(M * N) {
                let e = Double(c[i]) - exact[i]
                if exact[i] != 0 { maxRelative = max(maxRelative, abs(e) / abs(exact[i])) }
                errorSquares += e * e; squares += exact[i] * exact[i]
            }
            result[setting.rawValue] = ["max_relative_error": maxRelative, "frobenius_relative_error": (errorSquares / max(squares, 1e-300)).squareRoot()]
        }
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
