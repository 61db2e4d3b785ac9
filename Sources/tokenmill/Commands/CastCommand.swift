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

    enum Format: String, ExpressibleByArgument, CaseIterable { case e4m3, e5m2, bf16 }

    @Option(help: "The narrow format: \(Format.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: Format

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
            var out = [UInt8]()
            switch (format, decode) {
            case (.bf16, false):
                guard bytes.count % 4 == 0 else { throw RuntimeFailure(description: "\(input): \(bytes.count) bytes is not a whole number of float32 values") }
                out.reserveCapacity(bytes.count / 2)
                for i in stride(from: 0, to: bytes.count, by: 4) {
                    let code = BFloat16.encode(Float(bitPattern: UInt32(littleEndianBytes: bytes[i ..< i + 4])))
                    out += [UInt8(code & 0xFF), UInt8(code >> 8)]
                }
            case (.bf16, true):
                guard bytes.count % 2 == 0 else { throw RuntimeFailure(description: "\(input): \(bytes.count) bytes is not a whole number of bf16 codes") }
                for i in stride(from: 0, to: bytes.count, by: 2) {
                    out += littleEndian(BFloat16.decode(UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8).bitPattern)
                }
            case (.e4m3, false), (.e5m2, false):
                guard bytes.count % 4 == 0 else { throw RuntimeFailure(description: "\(input): \(bytes.count) bytes is not a whole number of float32 values") }
                let f = FP8Format(rawValue: format.rawValue)!
                out.reserveCapacity(bytes.count / 4)
                for i in stride(from: 0, to: bytes.count, by: 4) {
                    out.append(f.encode(Float(bitPattern: UInt32(littleEndianBytes: bytes[i ..< i + 4])), saturate: saturate))
                }
            case (.e4m3, true), (.e5m2, true):
                let f = FP8Format(rawValue: format.rawValue)!
                for code in bytes { out += littleEndian(f.decode(code).bitPattern) }
            }
            try Data(out).write(to: URL(fileURLWithPath: output), options: .atomic)
        }
    }

    private func littleEndian(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
}

private extension UInt32 {
    init(littleEndianBytes b: ArraySlice<UInt8>) {
        let s = b.startIndex
        self = UInt32(b[s]) | UInt32(b[s + 1]) << 8 | UInt32(b[s + 2]) << 16 | UInt32(b[s + 3]) << 24
    }
}
