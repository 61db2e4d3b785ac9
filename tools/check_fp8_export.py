"""The PyTorch side of tools/check-fp8-export: `export-hf --fp8` against DeepSeek-V3's FP8 layout.

Usage: check_fp8_export.py FP32_DIR FP8_DIR REIMPORTED_DIR
  FP32_DIR        `export-hf` of the run (float32 weights)
  FP8_DIR         `export-hf --fp8` of the same run
  REIMPORTED_DIR  `export-hf` of `import-hf FP8_DIR` (float32 again)
Checks, with PyTorch's own float8_e4m3fn cast: every quantized weight's codes equal
(w / s).to(float8_e4m3fn) with s = max|block| / 448 per 128x128 block, and weight_scale_inv equals s;
the dequantization DeepSeek-V3's inference code does (fp8_cast_bf16.py: code * scale_inv per block) is
within E4M3's rounding of the float32 weight; the imported weights equal that dequantization bit for bit;
every other tensor is unchanged; config.json carries the quantization_config.
Every check prints one line starting with "ok " or "FAIL "; the exit status is the number of failures.
"""
import json
import sys

import torch
from safetensors.torch import load_file

failures = 0


def report(ok, name, detail):
    global failures
    failures += 0 if ok else 1
    print(f"{'ok' if ok else 'FAIL'} {name}: {detail}", flush=True)


def blocks(t, rows, cols):
    # (R, C) per-block values to the full (rows, cols) shape.
    return t.repeat_interleave(128, 0).repeat_interleave(128, 1)[:rows, :cols]


def main():
    fp32_dir, fp8_dir, back_dir = sys.argv[1:4]
    full, q, back = load_file(fp32_dir + "/model.safetensors"), load_file(fp8_dir + "/model.safetensors"), load_file(back_dir + "/model.safetensors")
    config = json.load(open(fp8_dir + "/config.json"))
    want = {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128], "activation_scheme": "dynamic"}
    report(config.get("quantization_config") == want, "quantization_config", json.dumps(config.get("quantization_config")))
    quantized = sorted(n for n, t in q.items() if t.dtype == torch.float8_e4m3fn)
    scales = {n for n in q if n.endswith("_scale_inv")}
    report(quantized and scales == {n + "_scale_inv" for n in quantized}, "layout",
           f"{len(quantized)} F8_E4M3 weights, each with a weight_scale_inv; {len(q) - len(quantized) - len(scales)} other tensors")
    worst_code = worst_scale = 0
    worst_err = 0.0
    exact_back = True
    for n in quantized:
        w = full[n]
        rows, cols = w.shape
        R, C = (rows + 127) // 128, (cols + 127) // 128
        s = q[n + "_scale_inv"]
        # PyTorch's quantization of the float32 weight, block by block.
        amax = torch.zeros(R, C)
        for i in range(R):
            for j in range(C):
                amax[i, j] = w[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128].abs().max()
        ref_scale = torch.where(amax > 0, amax / 448, torch.ones_like(amax))
        ref_codes = (w / blocks(ref_scale, rows, cols)).to(torch.float8_e4m3fn)
        worst_code += int((ref_codes.view(torch.uint8) != q[n].view(torch.uint8)).sum())
        worst_scale += int((ref_scale != s).sum())
        deq = q[n].float() * blocks(s, rows, cols)
        bound = w.abs() * 2 ** -4 + blocks(s, rows, cols) * 2 ** -9
        worst_err = max(worst_err, float(((deq - w).abs() / bound).max()))
        exact_back = exact_back and torch.equal(back[n], deq)
    report(worst_code == 0 and worst_scale == 0, "codes and scales",
           f"{worst_code} codes and {worst_scale} scale_inv values differ from PyTorch's float8_e4m3fn cast of the float32 weights "
           f"(max|block|/448 scaling) over {len(quantized)} tensors")
    report(worst_err <= 1, "dequantization", f"code * scale_inv is within E4M3 rounding of the float32 weight (worst {worst_err:.3f} of the bound)")
    report(exact_back, "import", "import-hf's float32 weights equal PyTorch's dequantization of the FP8 folder bit for bit")
    others = [n for n in full if n not in q or q[n].dtype != torch.float8_e4m3fn]
    same = all(torch.equal(full[n], q[n]) and torch.equal(full[n], back[n]) for n in others)
    report(same, "other tensors", f"{len(others)} tensors (embedding, head, router, norms, eh_proj) unchanged in float32 through export and import")
    sys.exit(failures)


if __name__ == "__main__":
    main()
