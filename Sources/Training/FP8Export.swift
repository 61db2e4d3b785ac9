// DeepSeek-V3's published FP8 checkpoint layout, for `export-hf --fp8` and `import-hf`: every weight of
// a linear layer the fp8 trainer quantizes (attention projections, dense FFN, shared and routed experts;
// not the embedding, head, router, norms or the MTP projection) is stored as E4M3 codes (safetensors
// dtype F8_E4M3, the weight's shape) beside `<name>_scale_inv` (F32, ⌈rows/128⌉ × ⌈cols/128⌉): one
// factor per 128×128 block, weight = code · scale_inv. This is what DeepSeek-V3's inference code reads
// (inference/fp8_cast_bf16.py multiplies each block by its scale_inv); config.json gains
// quantization_config {quant_method: fp8, fmt: e4m3, weight_block_size: [128, 128], activation_scheme:
// dynamic}. The blocks are quantized as in training (FP8Linear.swift: scale = max-abs / 448).
import Foundation

public enum FP8Checkpoint {
    /// config.json's quantization_config.
    public static var quantizationConfig: [String: Any] { [
        "quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128], "activation_scheme": "dynamic",
    ] }

    /// The projections the fp8 trainer runs in FP8, by the last two components of their names.
    private static let linearNames: Set<String> = [
        "q_proj", "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    ]

    /// Whether checkpoint tensor `name` is stored in FP8 by `export-hf --fp8` (a decoder layer's linear weight).
    public static func isQuantized(_ name: String) -> Bool {
        let parts = name.split(separator: ".")
        guard parts.count >= 5, parts[0] == "model", parts[1] == "layers", parts.last == "weight" else { return false }
        return linearNames.contains(String(parts[parts.count - 2])) && (parts[3] == "self_attn" || parts[3] == "mlp")
    }

    /// `…weight` → `…weight_scale_inv`.
    public static func scaleName(_ name: String) -> String { name + "_scale_inv" }

    /// The scale_inv shape of a (rows, cols) weight.
    public static func scaleShape(rows: Int, cols: Int) -> [Int] { [(rows + 127) / 128, (cols + 127) / 128] }

    /// Writes the E4M3 codes (rows·cols) and the per-block scale_inv (`scaleShape`) of a row-major
    /// (rows, cols) weight into `codes` and `scaleInv`.
    /// - Complexity: O(rows·cols).
    public static func quantize(_ weight: UnsafePointer<Float>, rows: Int, cols: Int, codes: UnsafeMutablePointer<UInt8>,
                                scaleInv: UnsafeMutablePointer<Float>) {
        let dequantized = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rows * cols))   // fp8Quantize's `out`, unused here
        defer { dequantized.deallocate() }
        fp8Quantize(weight, ld: cols, rows: rows, cols: cols, tile: .weight, out: dequantized, ldOut: cols, codes: codes, scales: scaleInv)
    }

    /// weight = code · scale_inv of its 128×128 block.
    /// - Complexity: O(rows·cols).
    public static func dequantize(codes: UnsafeRawPointer, scaleInv: UnsafeRawPointer, rows: Int, cols: Int,
                                  into weight: UnsafeMutablePointer<Float>) {
        let blocks = (cols + 127) / 128
        for r in 0..<rows {
            for c in 0..<cols {
                let s = Float(bitPattern: UInt32(littleEndian: scaleInv.loadUnaligned(fromByteOffset: 4 * ((r / 128) * blocks + c / 128), as: UInt32.self)))
                weight[r * cols + c] = e4m3Values[Int(codes.load(fromByteOffset: r * cols + c, as: UInt8.self))] * s
            }
        }
    }
}
