// `tokenmill cast` (hidden): converts raw little-endian float32 values to FP8 / bfloat16 codes and back
// with the trainer's conversions (Training/FloatFormats.swift), so tools/check-float-formats can compare
// them with PyTorch's casts bit for bit. Not a user-facing verb: it reads and writes raw arrays.
import ArgumentParser
import Foundation
import Training

struct CastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cast",
        abstract: "Convert raw float32 arrays to e4m3/e5m2/bf16 codes, or codes back to float32 (for the format checks).",
        shouldDisplay: false
    )

    @Option(help: "The narrow format: \(NarrowFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: NarrowFormat

    @Flag(help: "Saturate values past the format's range to its largest finite value (FP8 only).")
    var saturate = false

    @Flag(help: "Decode codes (1 byte each for FP8, 2 for bf16) to float32 instead of encoding.")
    var decode = false

    @Argument(help: "Input file (raw little-endian float32, or codes with --decode).")
    var input: String

    @Argument(help: "Output file.")
    var output: String

    func run() throws {
        try reportingErrors {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: input)))
            let out: [UInt8]
            do {
                out = decode ? try decodeFloat32Array(bytes, from: format) : try encodeFloat32Array(bytes, to: format, saturate: saturate)
            } catch {
                throw RuntimeFailure(description: "\(input): \(error)")
            }
            try Data(out).write(to: URL(fileURLWithPath: output), options: .atomic)
        }
    }
}

extension NarrowFormat: ExpressibleByArgument {}
