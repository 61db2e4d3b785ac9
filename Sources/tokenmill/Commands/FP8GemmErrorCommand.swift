// `tokenmill fp8-gemm-error` (hidden): the accumulation experiment of DeepSeek-V3 §3.3.2 for
// tools/bench-fp8. Draws the seeded operands, runs Training's `fp8AccumulationError` (an (M × K)·(K × N)
// GEMM on E4M3 operands with both `fp8_accumulation` settings against the exact sum of the same
// dequantized products) and prints one JSON object: per setting the max relative error over the
// outputs |C − R| / |R| and the Frobenius relative error ‖C − R‖ / ‖R‖.
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
        var rng = SplitMix64(seed: seed)
        func value() -> Float { Float(distribution == .uniform ? rng.unit() : rng.normal()) }
        let a = (0..<(size * k)).map { _ in value() }, b = (0..<(k * size)).map { _ in value() }
        var result: [String: Any] = ["k": k, "m": size, "n": size, "distribution": distribution.rawValue, "seed": seed]
        for (setting, error) in fp8AccumulationError(a: a, b: b, M: size, N: size, K: k) {
            result[setting.rawValue] = ["max_relative_error": error.maxRelative, "frobenius_relative_error": error.frobeniusRelative]
        }
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
