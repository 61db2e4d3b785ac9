// OpenBLAS's kernel, settled by the program before a command that multiplies matrices runs (train, bpb,
// demo). OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_THREAD_TIMEOUT when it loads, before `main`, so
// a change takes a restart; the Training library decides what to set (`blasKernelStep`, with the
// measured notes) and this file, the only one that touches the process, acts on it at the top of `main`:
//   1. a preferred kernel is checked in a child process (this executable with TOKENMILL_BLAS_CHECK=1 and
//      OPENBLAS_CORETYPE set, which runs `blasMatchesReference` and exits 0 or 1); SIGILL or a wrong
//      product there means OpenBLAS's own choice instead. No signal handler is involved.
//   2. the process restarts once (execv of /proc/self/exe, same arguments) with the variables set; the
//      restarted process finds them and goes on. If the restart fails, the command runs as it is.
// Cost: one short child and one exec, about 0.1 s, only when OPENBLAS_CORETYPE or the timeout is unset.
import Foundation
import Training

/// A command that multiplies matrices: `main` settles OpenBLAS's kernel before running it, when
/// `needsOpenBLAS` says it will.
protocol UsesOpenBLAS {
    func needsOpenBLAS() -> Bool
}

extension UsesOpenBLAS {
    func needsOpenBLAS() -> Bool { true }
}

extension TrainCommand: UsesOpenBLAS {}
extension BPBCommand: UsesOpenBLAS {}

extension DemoCommand: UsesOpenBLAS {
    /// The demo runs train and bpb in its own process, but a demo whose every stage is reused multiplies
    /// no matrix: it skips the check and the restart (the reuse check stays well under a second).
    func needsOpenBLAS() -> Bool {
        guard let corpusDir = try? locateCorpus(corpus) else { return true }
        return !DemoRunner(checking: out, corpus: corpusDir).reusesAll(plan(corpus: corpusDir))
    }
}

enum OpenBLASSetup {
    /// Set in the check child's environment (step 1).
    static let checkVariable = "TOKENMILL_BLAS_CHECK"

    /// In the check child: runs the check and exits (0: the kernel's sgemm matches the naive matmul).
    static func runCheckIfAsked() {
        guard ProcessInfo.processInfo.environment[checkVariable] == "1" else { return }
        exit(blasMatchesReference() ? 0 : 1)
    }

    /// Steps 1-2 above; returns when the loaded OpenBLAS is settled (or cannot be changed).
    static func settle() {
        let environment = ProcessInfo.processInfo.environment
        switch blasKernelStep(environment: environment, cpuinfo: try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) {
        case .ready:
            return
        case .restart(let variables):
            restart(with: variables)
        case .check(let kernel):
            restart(with: blasKernelRestart(environment: environment, kernel: kernel, passed: check(kernel, environment: environment)))
        }
    }

    /// The line `train` prints about the kernel in use.
    static func description() -> String {
        blasKernelDescription(environment: ProcessInfo.processInfo.environment, coreName: blasCoreName())
    }

    /// Runs the check child for `kernel`: true when it exits 0 (false on exit 1, SIGILL or a failed spawn).
    private static func check(_ kernel: String, environment: [String: String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath())
        process.arguments = []
        process.environment = environment.merging([BLASVariable.coreType: kernel, checkVariable: "1"]) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }

    /// execv of this executable with the same arguments and `variables` added to the environment;
    /// returns only if the exec fails.
    private static func restart(with variables: [String: String]) {
        for (name, value) in variables { setenv(name, value, 1) }
        var arguments = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv(executablePath(), arguments)
        for p in arguments { free(p) }
    }

    private static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
    }
}
