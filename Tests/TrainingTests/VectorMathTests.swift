// The vectorized Float row kernels against libm: exp over its whole finite range, and the head's
// shifted-exp row (max, values, sum) against the Double reference on logits like a real head's.
import Foundation
import Testing
@testable import Training

@Suite struct VectorMathTests {
    @Test func expVectorWithinTwoUlpOfLibm() {
        var worst: Float = 0, worstAt: Float = 0
        var x: Float = -87
        while x < 88 {
            var lanes = Lanes.zero
            for i in 0..<Lanes.scalarCount { lanes[i] = x + Float(i) * 0.000_37 }
            let got = expVector(lanes)
            for i in 0..<Lanes.scalarCount {
                let want = Foundation.exp(Double(lanes[i]))
                let ulps = Float(abs(Double(got[i]) - want) / Double(Float(want).ulp))
                if ulps > worst { worst = ulps; worstAt = lanes[i] }
            }
            x += 0.0137
        }
        #expect(worst <= 2, "worst error \(worst) ulp at x = \(worstAt)")
        // The clamps: far below the range is 0, far above is +inf, and exp(0) is exactly 1.
        let edges = expVector(Lanes(-1000, -88, -87.5, 0, 88.8, 1000, .infinity, -.infinity, 1, 2, 3, 4, 5, 6, 7, 8))
        #expect(edges[0] == 0 && edges[1] == 0 && edges[2] == 0 && edges[3] == 1)
        #expect(edges[4] == .infinity && edges[5] == .infinity && edges[6] == .infinity && edges[7] == 0)
    }

    @Test(arguments: [1, 15, 16, 17, 1000, 32768])
    func expShiftedRowMatchesDouble(count n: Int) {
        var rng = SplitMix64(seed: UInt64(n))
        var f = (0..<n).map { _ in Float(rng.normal() * 3) }
        var d = f.map(Double.init)
        let (fm, fs) = f.withUnsafeMutableBufferPointer { Float.expShiftedInPlace($0.baseAddress!, count: n) }
        let (dm, ds) = d.withUnsafeMutableBufferPointer { Double.expShiftedInPlace($0.baseAddress!, count: n) }
        #expect(Double(fm) == dm)
        #expect(abs(Double(fs) - ds) / ds < 1e-6)
        var worst = 0.0
        for j in 0..<n { worst = max(worst, abs(Double(f[j]) - d[j]) / max(d[j], 1e-30)) }
        // Float rounds z − max itself (|z − max| up to ~20 here, so up to ~1.2e-6 relative in e^(z − max)),
        // as the scalar code did; the exp adds at most 2 ulp.
        #expect(worst < 2e-6)
        f.withUnsafeMutableBufferPointer { Float.scaleInPlace($0.baseAddress!, count: n, by: 0.5) }
        d.withUnsafeMutableBufferPointer { Double.scaleInPlace($0.baseAddress!, count: n, by: 0.5) }
        for j in 0..<n where abs(Double(f[j]) - d[j]) > 2e-6 * d[j] { Issue.record("scaled value \(j) differs"); break }
    }

    @Test(arguments: [16, 37, 256])
    func swigluRowsMatchDouble(count n: Int) {
        var rng = SplitMix64(seed: 7 + UInt64(n))
        let g = (0..<n).map { _ in rng.normal() * 4 }, u = (0..<n).map { _ in rng.normal() }, dh = (0..<n).map { _ in rng.normal() }
        var od = [Double](repeating: 0, count: n), dgd = [Double](repeating: 0.5, count: n), dud = [Double](repeating: -0.5, count: n)
        var of = [Float](repeating: 0, count: n), dgf = [Float](repeating: 0.5, count: n), duf = [Float](repeating: -0.5, count: n)
        let gf = g.map(Float.init), uf = u.map(Float.init), dhf = dh.map(Float.init)
        Double.swigluForwardRow(&od, gate: g, up: u, count: n)
        Double.swigluBackwardRow(dGate: &dgd, dUp: &dud, dh: dh, gate: g, up: u, count: n)
        Float.swigluForwardRow(&of, gate: gf, up: uf, count: n)
        Float.swigluBackwardRow(dGate: &dgf, dUp: &duf, dh: dhf, gate: gf, up: uf, count: n)
        func close(_ a: [Float], _ b: [Double]) -> Bool {
            zip(a, b).allSatisfy { abs(Double($0) - $1) <= 1e-5 * max(1, abs($1)) }
        }
        #expect(close(of, od))
        #expect(close(dgf, dgd))
        #expect(close(duf, dud))
    }
}
