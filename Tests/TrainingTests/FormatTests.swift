// safetensors bytes, the BLAS kernel choice from /proc/cpuinfo flags, the learning-rate schedule.
import Foundation
import Testing
@testable import Training

@Suite struct FormatTests {
    @Test func safetensorsRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tm-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.safetensors").path
        let a: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [-1]
        try a.withUnsafeBytes { pa in
            try b.withUnsafeBytes { pb in
                try writeSafetensors(path, entries: [
                    SafetensorsEntry(name: "b.weight", dtype: "F32", shape: [2, 3], pointer: pa.baseAddress!, byteCount: 24),
                    SafetensorsEntry(name: "a", dtype: "F32", shape: [1], pointer: pb.baseAddress!, byteCount: 4),
                ], metadata: ["format": "pt"])
            }
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = bytes.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
        #expect(n % 8 == 0 && bytes.count == 8 + n + 28)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b.weight""#))
        let file = try SafetensorsFile(path: path)
        var out = [Float](repeating: 0, count: 6)
        try out.withUnsafeMutableBytes { try file.copy("b.weight", dtype: "F32", shape: [2, 3], into: $0.baseAddress!) }
        #expect(out == a)
        #expect(throws: SafetensorsError.self) {
            try out.withUnsafeMutableBytes { try file.copy("b.weight", dtype: "F32", shape: [3, 2], into: $0.baseAddress!) }
        }
    }

    @Test func kernelFromCPUFlags() {
        let epyc = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx fma avx2 bmi2\n"
        let skx = "vendor_id\t: GenuineIntel\nflags\t\t: avx avx2 fma avx512f avx512dq avx512bw avx512vl\n"
        let cpx = skx.replacingOccurrences(of: "avx512vl", with: "avx512vl avx512_bf16")
        #expect(preferredBLASKernel(cpuinfo: epyc) == "Zen")
        #expect(preferredBLASKernel(cpuinfo: epyc.replacingOccurrences(of: "AuthenticAMD", with: "GenuineIntel")) == "Haswell")
        #expect(preferredBLASKernel(cpuinfo: skx) == "SkylakeX")
        #expect(preferredBLASKernel(cpuinfo: cpx) == "Cooperlake")
        #expect(preferredBLASKernel(cpuinfo: "flags\t: sse2\n") == nil)
        #expect(blasMatchesReference())
    }

    /// The decision the CLI acts on before a command that multiplies matrices: check the CPU's kernel
    /// when the user set none, restart once with the variables, and go on once they are set.
    @Test func kernelStepsFromTheEnvironment() {
        let epyc = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx fma avx2 bmi2\n"
        #expect(blasKernelStep(environment: [:], cpuinfo: epyc) == .check(kernel: "Zen"))
        #expect(blasKernelStep(environment: ["OPENBLAS_THREAD_TIMEOUT": "9"], cpuinfo: epyc) == .check(kernel: "Zen"))
        // A user's kernel is kept; only the idle-thread timeout is added.
        #expect(blasKernelStep(environment: ["OPENBLAS_CORETYPE": "Haswell"], cpuinfo: epyc) == .restart(["OPENBLAS_THREAD_TIMEOUT": "4"]))
        #expect(blasKernelStep(environment: ["OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_THREAD_TIMEOUT": "1"], cpuinfo: epyc) == .ready)
        // An unknown CPU or unreadable cpuinfo: OpenBLAS's own choice, with the timeout.
        #expect(blasKernelStep(environment: [:], cpuinfo: "flags\t: sse2\n") == .restart(["OPENBLAS_THREAD_TIMEOUT": "4"]))
        #expect(blasKernelStep(environment: [:], cpuinfo: nil) == .restart(["OPENBLAS_THREAD_TIMEOUT": "4"]))
        // The restarted process (kernel checked or fallen back) goes on: at most one restart.
        for passed in [true, false] {
            let restart = blasKernelRestart(environment: [:], kernel: "Zen", passed: passed)
            #expect(restart == ["OPENBLAS_CORETYPE": passed ? "Zen" : "", "TOKENMILL_BLAS_SELECTED": passed ? "1" : "fallback",
                                "OPENBLAS_THREAD_TIMEOUT": "4"])
            #expect(blasKernelStep(environment: restart, cpuinfo: epyc) == .ready)
        }
        #expect(blasKernelRestart(environment: ["OPENBLAS_THREAD_TIMEOUT": "2"], kernel: "Zen", passed: true)["OPENBLAS_THREAD_TIMEOUT"] == nil)
        #expect(blasKernelDescription(environment: ["TOKENMILL_BLAS_SELECTED": "1", "OPENBLAS_THREAD_TIMEOUT": "4"], coreName: "Zen")
                == "blas: OpenBLAS kernel Zen (chosen for this CPU and checked; set OPENBLAS_CORETYPE to override); OPENBLAS_THREAD_TIMEOUT=4")
        #expect(blasKernelDescription(environment: ["TOKENMILL_BLAS_SELECTED": "fallback"], coreName: "Prescott")
                == "blas: OpenBLAS kernel Prescott (the preferred kernel failed its check; OpenBLAS's own choice); OPENBLAS_THREAD_TIMEOUT=")
        #expect(blasKernelDescription(environment: ["OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_THREAD_TIMEOUT": "4"], coreName: "Haswell")
                == "blas: OpenBLAS kernel Haswell (from OPENBLAS_CORETYPE); OPENBLAS_THREAD_TIMEOUT=4")
    }

    /// The element-wise loops' worker count is a scoped value: a binding ends with its call.
    @Test func trainingThreadsAreBoundForACall() {
        let outside = TrainingThreads.count
        #expect(outside >= 1)
        TrainingThreads.$count.withValue(3) {
            #expect(TrainingThreads.count == 3)
            TrainingThreads.$count.withValue(1) { #expect(TrainingThreads.count == 1) }
            #expect(TrainingThreads.count == 3)
        }
        #expect(TrainingThreads.count == outside)
    }

    @Test func warmupThenCosine() {
        let lr = { (s: Int) in learningRate(step: s, warmup: 10, total: 110, peak: 1, minimum: 0.1) }
        #expect(abs(lr(0) - 0.1) < 1e-12)
        #expect(abs(lr(9) - 1) < 1e-12)
        #expect(abs(lr(60) - 0.55) < 1e-12)
        #expect(abs(lr(110) - 0.1) < 1e-12 && abs(lr(500) - 0.1) < 1e-12)
    }
}
