// Choosing OpenBLAS's kernel. Debian's OpenBLAS (DYNAMIC_ARCH) reads OPENBLAS_CORETYPE once, when the
// library loads, and on some CPUs falls back to a slow generic kernel. `selectBLASKernel` therefore
// runs before anything else in `tokenmill train`: when the variable is unset it picks the best kernel
// the CPU's flags (/proc/cpuinfo) allow, sets it and re-executes the process (/proc/self/exe, same
// arguments). The new process checks that kernel's sgemm against the naive matmul once; if it differs,
// or dies of SIGILL, it re-executes again with the variable set to the empty string (OpenBLAS's own
// choice). `TOKENMILL_BLAS_SELECTED` marks a re-executed process so this happens at most twice.
// OPENBLAS_THREAD_TIMEOUT, when unset, is set to 4 on the same re-execution (alone if the kernel was
// given): OpenBLAS's idle threads otherwise spin in sched_yield for 2^28 cycles after every call,
// taking a core from the trainer's own parallel loops between GEMMs (12.6% of a profile's samples in
// sched_yield); with 4 they sleep at once. bench-train's model, 7 alternated pairs of runs on the same
// (noisy, shared) machine: 845 tokens/s on average at the default, 915 at 4, 4 faster in 6 pairs of 7.
// Measured on this machine (AMD EPYC, AVX2, 2 cores, 1024² sgemm): Zen 53, Haswell 45, Prescott 8
// GFLOP/s; SkylakeX dies with SIGILL (no AVX-512).
import CorpusIO
import Foundation

/// The kernel name OPENBLAS_CORETYPE should name for this CPU, from its flags; nil when unknown.
public func preferredBLASKernel(cpuinfo: String) -> String? {
    guard let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    let amd = cpuinfo.contains("AuthenticAMD")
    if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) {
        return flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
    }
    if flags.isSuperset(of: ["avx2", "fma"]) { return amd ? "Zen" : "Haswell" }
    if flags.contains("avx") { return "SandyBridge" }
    return nil
}

/// Runs at the start of `tokenmill train`: may re-execute the process (never returns then). Returns a
/// line describing the kernel in use.
public func selectBLASKernel() -> String {
    let env = ProcessInfo.processInfo.environment
    var again = false
    if env["OPENBLAS_CORETYPE"] == nil, env["TOKENMILL_BLAS_SELECTED"] == nil,
       let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8), let kernel = preferredBLASKernel(cpuinfo: info) {
        setenv("OPENBLAS_CORETYPE", kernel, 1)
        setenv("TOKENMILL_BLAS_SELECTED", "1", 1)
        again = true
    }
    if env["OPENBLAS_THREAD_TIMEOUT"] == nil {
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
        again = true
    }
    if again { reexec() }
    let idle = "; OPENBLAS_THREAD_TIMEOUT=\(env["OPENBLAS_THREAD_TIMEOUT"] ?? "")"
    if env["TOKENMILL_BLAS_SELECTED"] == "1" {
        // Verify the kernel we chose; SIGILL or a wrong result falls back to OpenBLAS's own choice.
        signal(SIGILL) { _ in fallBack() }
        if !blasMatchesReference() { fallBack() }
        signal(SIGILL, SIG_DFL)
        return "blas: OpenBLAS kernel \(blasCoreName()) (chosen for this CPU and checked; set OPENBLAS_CORETYPE to override)" + idle
    }
    if env["TOKENMILL_BLAS_SELECTED"] == "fallback" {
        return "blas: OpenBLAS kernel \(blasCoreName()) (the preferred kernel failed its check; OpenBLAS's own choice)" + idle
    }
    return "blas: OpenBLAS kernel \(blasCoreName()) (from OPENBLAS_CORETYPE)" + idle
}

private func fallBack() {
    setenv("OPENBLAS_CORETYPE", "", 1)
    setenv("TOKENMILL_BLAS_SELECTED", "fallback", 1)
    reexec()
}

/// execv(/proc/self/exe, argv); returns only if exec fails.
private func reexec() {
    let args = CommandLine.arguments
    var cargs = args.map { strdup($0) }
    cargs.append(nil)
    execv("/proc/self/exe", cargs)
}

/// sgemm on a 67×45×53 problem (all transposes) against `naiveGemm`, relative error < 1e-4.
public func blasMatchesReference() -> Bool {
    var rng = SplitMix64(seed: 42)
    let (M, N, K) = (67, 45, 53)
    let a = (0..<(M * K)).map { _ in Float(rng.normal()) }, b = (0..<(K * N)).map { _ in Float(rng.normal()) }
    for (tA, tB) in [(false, false), (false, true), (true, false), (true, true)] {
        var c1 = [Float](repeating: 0, count: M * N), c2 = c1
        let lda = tA ? M : K, ldb = tB ? K : N
        Float.gemm(transA: tA, transB: tB, M: M, N: N, K: K, alpha: 1, A: a, lda: lda, B: b, ldb: ldb, beta: 0, C: &c1, ldc: N)
        naiveGemm(transA: tA, transB: tB, M: M, N: N, K: K, alpha: 1, A: a, lda: lda, B: b, ldb: ldb, beta: 0, C: &c2, ldc: N)
        for i in 0..<(M * N) where abs(c1[i] - c2[i]) > 1e-4 * max(1, abs(c2[i])) { return false }
    }
    return true
}

/// sgemm GFLOP/s on n×n×n (best of the runs made in `seconds`, at least `repeats`), the peak the trainer
/// reports its share of.
/// subtle: on this shared 2-core machine the reading moves with the neighbours' load: best of 4 read 82-139
/// GFLOP/s over 10 runs, best of 12 (about 0.2 s) 117-156 over 12 and once 81, so the share-of-peak
/// moved with it. The peak is a maximum, so more tries over a longer time come closer to it.
public func measureSgemmGFLOPS(n: Int = 1024, repeats: Int = 12, seconds: Double = 1) -> Double {
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    Float.gemm(transA: false, transB: false, M: n, N: n, K: n, alpha: 1, A: a, lda: n, B: b, ldb: n, beta: 0, C: &c, ldc: n)
    var best = 0.0, runs = 0
    let start = DispatchTime.now().uptimeNanoseconds
    while runs < repeats || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds {
        let t0 = DispatchTime.now().uptimeNanoseconds
        Float.gemm(transA: false, transB: false, M: n, N: n, K: n, alpha: 1, A: a, lda: n, B: b, ldb: n, beta: 0, C: &c, ldc: n)
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        best = max(best, 2 * Double(n) * Double(n) * Double(n) / s / 1e9)
        runs += 1
    }
    return best
}
