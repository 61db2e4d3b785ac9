// Choosing OpenBLAS's kernel. Debian's OpenBLAS (DYNAMIC_ARCH) reads OPENBLAS_CORETYPE once, when the
// library loads (before `main`), and on some CPUs falls back to a slow generic kernel. The best kernel
// the CPU's flags (/proc/cpuinfo) allow is therefore chosen before the program that multiplies matrices
// starts: this file decides, from the environment and the CPU's flags alone, what should happen
// (`blasKernelStep`), and the program's entry point acts on it (the `tokenmill` CLI: it checks the
// kernel in a child process against the naive matmul, then restarts itself once with the variables
// set; a kernel that differs or dies of SIGILL is replaced by the empty string, OpenBLAS's own choice).
// A library never sets variables or restarts anything; `TOKENMILL_BLAS_SELECTED` marks a restarted
// process so this happens at most once. A user's OPENBLAS_CORETYPE is kept (some machines set it
// because old OpenBLAS builds crash there).
// OPENBLAS_THREAD_TIMEOUT, when unset, is set to 4 on the same restart (alone if the kernel was given):
// OpenBLAS's idle threads otherwise spin in sched_yield for 2^28 cycles after every call,
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

/// The environment variables OpenBLAS's kernel choice reads and writes.
public enum BLASVariable {
    public static let coreType = "OPENBLAS_CORETYPE"
    public static let threadTimeout = "OPENBLAS_THREAD_TIMEOUT"
    /// Set on the restarted process: "1" (the preferred kernel passed its check) or "fallback".
    public static let selected = "TOKENMILL_BLAS_SELECTED"
    /// The idle-thread timeout set when the user gave none (see the notes above).
    public static let defaultThreadTimeout = "4"
}

/// What a program's entry point does about OpenBLAS's kernel before it multiplies matrices.
public enum BLASKernelStep: Equatable, Sendable {
    /// The loaded OpenBLAS is as it should be: go on.
    case ready
    /// Check `kernel` (`blasMatchesReference` in a process started with OPENBLAS_CORETYPE=`kernel`), then
    /// restart with `blasKernelRestart(environment:kernel:passed:)`.
    case check(kernel: String)
    /// Restart the process with these variables set.
    case restart([String: String])
}

/// The next step for a process started with `environment` on a CPU described by `cpuinfo`
/// (/proc/cpuinfo's text; nil when unreadable). A pure function: the caller acts on it.
public func blasKernelStep(environment: [String: String], cpuinfo: String?) -> BLASKernelStep {
    if environment[BLASVariable.coreType] == nil, environment[BLASVariable.selected] == nil,
       let cpuinfo, let kernel = preferredBLASKernel(cpuinfo: cpuinfo) {
        return .check(kernel: kernel)
    }
    if environment[BLASVariable.threadTimeout] == nil {
        return .restart([BLASVariable.threadTimeout: BLASVariable.defaultThreadTimeout])
    }
    return .ready
}

/// The variables to restart with after `kernel` was checked: the kernel itself when it `passed`, else
/// the empty string (OpenBLAS's own choice); the thread timeout when `environment` has none.
public func blasKernelRestart(environment: [String: String], kernel: String, passed: Bool) -> [String: String] {
    var set = [BLASVariable.coreType: passed ? kernel : "", BLASVariable.selected: passed ? "1" : "fallback"]
    if environment[BLASVariable.threadTimeout] == nil { set[BLASVariable.threadTimeout] = BLASVariable.defaultThreadTimeout }
    return set
}

/// The line `tokenmill train` prints about the kernel in use (`coreName`: `blasCoreName()`), from the
/// environment the process runs in.
public func blasKernelDescription(environment: [String: String], coreName: String) -> String {
    let idle = "; \(BLASVariable.threadTimeout)=\(environment[BLASVariable.threadTimeout] ?? "")"
    switch environment[BLASVariable.selected] {
    case "1": return "blas: OpenBLAS kernel \(coreName) (chosen for this CPU and checked; set OPENBLAS_CORETYPE to override)" + idle
    case "fallback": return "blas: OpenBLAS kernel \(coreName) (the preferred kernel failed its check; OpenBLAS's own choice)" + idle
    default: return "blas: OpenBLAS kernel \(coreName) (from OPENBLAS_CORETYPE)" + idle
    }
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
