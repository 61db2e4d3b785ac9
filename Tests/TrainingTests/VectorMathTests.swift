// The C row kernels (both variants: baseline x86-64 and AVX2+FMA, the latter only where the CPU has it)
// against libm: exp over its whole finite range, the head's shifted-exp row (max, values, sum) against
// the Double reference on logits like a real head's, and SwiGLU's rows.
import CorpusIO
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

    @Test(arguments: variants) func adamwMatchesDoubleAndIgnoresRangeSplits(variant: Int32) {
        let n = 1003
        var rng = SplitMix64(seed: 11)
        let p0 = (0..<n).map { _ in rng.normal() }, g = (0..<n).map { _ in rng.normal() * 0.01 }
        let m0 = (0..<n).map { _ in rng.normal() * 0.001 }, v0 = (0..<n).map { _ in abs(rng.normal()) * 1e-5 }
        let args = (scale: 0.7, b1: 0.9, b2: 0.95, c1: 1 - pow(0.9, 3.0), c2: 1 - pow(0.95, 3.0), eps: 1e-8, rate: 3e-3, decay: 3e-4)
        var pd = p0, md = m0, vd = v0
        Double.adamwRange(&pd, grad: g, m: &md, v: &vd, count: n, scale: args.scale, beta1: args.b1, beta2: args.b2,
                          correction1: args.c1, correction2: args.c2, epsilon: args.eps, rate: args.rate, decay: args.decay)
        func f(_ a: [Double]) -> [Float] { a.map { Float($0) } }
        func run(splits: [Int]) -> ([Float], [Float], [Float]) {
            var p = f(p0), m = f(m0), v = f(v0)
            let gf = f(g)
            let bounds = [0] + splits + [n]
            for (lo, hi) in zip(bounds, bounds.dropFirst()) {
                p.withUnsafeMutableBufferPointer { p in m.withUnsafeMutableBufferPointer { m in v.withUnsafeMutableBufferPointer { v in
                    gf.withUnsafeBufferPointer { g in
                        tm_adamw(p.baseAddress! + lo, g.baseAddress! + lo, m.baseAddress! + lo, v.baseAddress! + lo, hi - lo,
                                 Float(args.scale), Float(args.b1), Float(args.b2), Float(args.c1), Float(args.c2),
                                 Float(args.eps), Float(args.rate), Float(args.decay), variant)
                    }
                } } }
            }
            return (p, m, v)
        }
        let whole = run(splits: []), split = run(splits: [3, 501, 998])
        #expect(whole.0 == split.0 && whole.1 == split.1 && whole.2 == split.2)
        // Adam's step is ~rate per element: compare the change of p to the Double one.
        var worst = 0.0
        for j in 0..<n { worst = max(worst, abs((Double(whole.0[j]) - Double(Float(p0[j]))) - (pd[j] - p0[j])) / args.rate) }
        #expect(worst < 1e-3, "worst step error \(worst) of lr")
        #expect(zip(whole.1, md).allSatisfy { abs(Double($0) - $1) <= 1e-6 * max(1e-3, abs($1)) })
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
