// The C row kernels (both variants: baseline x86-64 and AVX2+FMA, the latter only where the CPU has it)
// against libm: exp over its whole finite range, the head's shifted-exp row (max, values, sum) against
// the Double reference on logits like a real head's, and SwiGLU's rows.
import CKernels
import Foundation
import Testing
@testable import Training

@Suite struct VectorMathTests {
    /// Variant 1 falls back to the baseline on a CPU without AVX2+FMA; both are checked either way.
    static let variants: [Int32] = [0, 1]

    @Test func theVariantFollowsTheCPUFlags() throws {
        // The dispatch picks AVX2+FMA exactly when the kernel reports both flags (Linux: /proc/cpuinfo).
        let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        guard let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            Issue.record("no flags line in /proc/cpuinfo"); return
        }
        let set = Set(flags.split(separator: " ").map(String.init))
        #expect(tm_kernels_avx2() == (set.contains("avx2") && set.contains("fma") ? 1 : 0))
    }

    @Test(arguments: variants) func expWithinTwoUlpOfLibm(variant: Int32) {
        var xs: [Float] = []
        var x: Float = -87
        while x < 88 { for i in 0..<16 { xs.append(x + Float(i) * 0.000_37) }; x += 0.0137 }
        xs.append(contentsOf: [1, 2, 3])   // a tail shorter than the vector width
        var ys = [Float](repeating: 0, count: xs.count)
        tm_exp(xs, &ys, xs.count, variant)
        var worst: Float = 0, worstAt: Float = 0
        for (x, y) in zip(xs, ys) {
            let want = Foundation.exp(Double(x))
            let ulps = Float(abs(Double(y) - want) / Double(Float(want).ulp))
            if ulps > worst { worst = ulps; worstAt = x }
        }
        #expect(worst <= 2, "worst error \(worst) ulp at x = \(worstAt)")
        // The clamps: far below the range is 0, far above is +inf, and exp(0) is exactly 1.
        let edges: [Float] = [-1000, -88, -87.5, 0, 88.8, 1000, .infinity, -.infinity, 1, 2]
        var e = [Float](repeating: -1, count: edges.count)
        tm_exp(edges, &e, edges.count, variant)
        #expect(e[0] == 0 && e[1] == 0 && e[2] == 0 && e[3] == 1)
        #expect(e[4] == .infinity && e[5] == .infinity && e[6] == .infinity && e[7] == 0)
    }

    @Test(arguments: [1, 15, 16, 17, 1000, 32768], variants)
    func expShiftedRowMatchesDouble(count n: Int, variant: Int32) {
        var rng = SplitMix64(seed: UInt64(n))
        var f = (0..<n).map { _ in Float(rng.normal() * 3) }
        var d = f.map(Double.init)
        var fm: Float = 0, fs: Float = 0
        tm_exp_shifted(&f, n, &fm, &fs, variant)
        let (dm, ds) = d.withUnsafeMutableBufferPointer { Double.expShiftedInPlace($0.baseAddress!, count: n) }
        #expect(Double(fm) == dm)
        #expect(abs(Double(fs) - ds) / ds < 1e-6)
        var worst = 0.0
        for j in 0..<n { worst = max(worst, abs(Double(f[j]) - d[j]) / max(d[j], 1e-30)) }
        // Float rounds z − max itself (|z − max| up to ~20 here, so up to ~1.2e-6 relative in e^(z − max)),
        // as the scalar code did; the exp adds at most 2 ulp.
        #expect(worst < 2e-6)
        tm_scale(&f, n, 0.5, variant)
        d.withUnsafeMutableBufferPointer { Double.scaleInPlace($0.baseAddress!, count: n, by: 0.5) }
        for j in 0..<n where abs(Double(f[j]) - d[j]) > 2e-6 * d[j] { Issue.record("scaled value \(j) differs"); break }
    }

    @Test(arguments: [16, 37, 256], variants)
    func swigluRowsMatchDouble(count n: Int, variant: Int32) {
        var rng = SplitMix64(seed: 7 + UInt64(n))
        let g = (0..<n).map { _ in rng.normal() * 4 }, u = (0..<n).map { _ in rng.normal() }, dh = (0..<n).map { _ in rng.normal() }
        var od = [Double](repeating: 0, count: n), dgd = [Double](repeating: 0.5, count: n), dud = [Double](repeating: -0.5, count: n)
        var of = [Float](repeating: 0, count: n), dgf = [Float](repeating: 0.5, count: n), duf = [Float](repeating: -0.5, count: n)
        let gf = g.map(Float.init), uf = u.map(Float.init), dhf = dh.map(Float.init)
        Double.swigluForwardRow(&od, gate: g, up: u, count: n)
        Double.swigluBackwardRow(dGate: &dgd, dUp: &dud, dh: dh, gate: g, up: u, count: n)
        tm_swiglu_forward(&of, gf, uf, n, variant)
        tm_swiglu_backward(&dgf, &duf, dhf, gf, uf, n, variant)
        func close(_ a: [Float], _ b: [Double]) -> Bool {
            zip(a, b).allSatisfy { abs(Double($0) - $1) <= 1e-5 * max(1, abs($1)) }
        }
        #expect(close(of, od))
        #expect(close(dgf, dgd))
        #expect(close(duf, dud))
    }

    @Test func theTrainersKernelsAreTheCPUsVariant() {
        // Float.expShiftedInPlace (what the head and attention call) gives exactly the auto-picked variant.
        var rng = SplitMix64(seed: 3)
        var a = (0..<1000).map { _ in Float(rng.normal() * 3) }
        var b = a
        let (am, asum) = a.withUnsafeMutableBufferPointer { Float.expShiftedInPlace($0.baseAddress!, count: 1000) }
        var bm: Float = 0, bs: Float = 0
        tm_exp_shifted(&b, 1000, &bm, &bs, tm_kernels_avx2())
        #expect(a == b && am == bm && asum == bs)
    }
}
