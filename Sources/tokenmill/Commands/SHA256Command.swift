// `tokenmill sha256`: the SHA-256 of files, in `sha256sum`'s format, as the manifests record them.
import ArgumentParser
import CorpusIO
import Foundation

struct SHA256Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sha256",
        abstract: "Print the SHA-256 of files as sha256sum does (the hash TokenMill's manifests record).",
        discussion: """
        Example: tokenmill sha256 out/demo/tokenizer.json | sha256sum -c

        Prints "HASH  PATH" per file on stdout and a one-line summary with the rate on stderr. The same \
        code hashes every tokenizer, input and output the manifests and the demo's stage cache name \
        (libcrypto's SHA-256, which uses the CPU's SHA extensions where it has them). Memory: a 1 MiB \
        read buffer.
        """
    )

    @Argument(help: "The files to hash.")
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("Give at least one file.") }
    }

    func run() throws {
        try reportingErrors {
            let clock = ContinuousClock(), start = clock.now
            var bytes: Int64 = 0
            for file in files {
                print("\(try sha256(ofFile: file))  \(file)")
                bytes += (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int64) ?? 0
            }
            let seconds = (clock.now - start) / .seconds(1)
            printError("sha256: \(formatCount(files.count)) files, \(formatBytes(bytes)) in "
                       + String(format: "%.2f s (%.0f MB/s)", seconds, Double(bytes) / 1e6 / max(seconds, 1e-9)))
        }
    }
}
