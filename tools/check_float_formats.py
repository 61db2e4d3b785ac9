"""See tools/check-float-formats."""
import os, subprocess, sys, tempfile
import numpy as np
import torch

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.environ.get("TOKENMILL", os.path.join(root, ".build/release/tokenmill"))
small = "--small" in sys.argv[1:]
rng = np.random.default_rng(20261204)

# Inputs: for every value of the top 20 bits (sign, exponent, the 11 mantissa bits above E4M3's and E5M2's
# rounding points), the low bits 0, 1, just below / at / just above the halfway points of E4M3 (bit 19),
# E5M2 (bit 20) and bf16 (bit 15), all ones, and random low bits. --small takes every 4th top pattern.
top = np.arange(0, 1 << 20, 4 if small else 1, dtype=np.uint32) << 12
lows = [0, 1, 0x7FFF, 0x8000, 0x8001, 0x7FFFF, 0x80000, 0x80001, 0xFFFFF, 0xFFFFE]
parts = [top | np.uint32(l & 0xFFF) for l in lows if l < 0x1000]
# Halfway points above bit 12 need the top bits' low part: build them on the full 32-bit pattern.
hi = np.arange(0, 1 << 12, dtype=np.uint32) << 20
for l in [0x7FFFF, 0x80000, 0x80001, 0xFFFFF, 0x3FFFF, 0x40000, 0x40001, 0xBFFFF, 0xC0000, 0xC0001]:
    parts.append(hi | np.uint32(l))
for _ in range(1 if small else 4):
    parts.append(top | rng.integers(0, 1 << 12, size=top.size, dtype=np.uint32))
bits = np.concatenate(parts + [np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001,
                                         0x43E00000, 0x43E80000, 0x43F00000, 0x47600000, 0x47700000, 0x47800000],
                                        dtype=np.uint32)])
x = torch.from_numpy(bits.view(np.float32).copy())

passed = failed = 0
def report(ok, what):
    global passed, failed
    passed += ok
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what}", file=sys.stderr)

def run(args, data, out_dtype):
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        data.tofile(src)
        subprocess.run([binary, "cast", *args, src, dst], check=True)
        return np.fromfile(dst, dtype=out_dtype)

def same_floats(a, b):
    """Bit-identical, except that any NaN equals any NaN (PyTorch does not pin the payload on decode)."""
    nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(nan | (a.view(np.uint32) == b.view(np.uint32))))

for name, dtype, limit in [("e4m3", torch.float8_e4m3fn, 448.0), ("e5m2", torch.float8_e5m2, 57344.0)]:
    for saturate in (False, True):
        # E4M3 saturates either way (PyTorch's plain cast does too); E5M2 overflows to inf unless clamped.
        ref = (x.clamp(-limit, limit) if saturate else x).to(dtype).view(torch.uint8).numpy()
        got = run(["--format", name] + (["--saturate"] if saturate else []), bits, np.uint8)
        bad = np.flatnonzero(got != ref)
        detail = "" if bad.size == 0 else f"; first: {bits[bad[0]]:#010x} gives {got[bad[0]]:#04x}, PyTorch {ref[bad[0]]:#04x}"
        report(bad.size == 0, f"{name}{' saturating' if saturate else ''}: {bits.size:,} float32 inputs, {bad.size} codes differ{detail}")
    codes = np.arange(256, dtype=np.uint8)
    ref = torch.from_numpy(codes.copy()).view(dtype).to(torch.float32).numpy()
    got = run(["--format", name, "--decode"], codes, np.float32)
    report(same_floats(got, ref), f"{name}: all 256 codes decode to PyTorch's float32")
    if name == "e4m3":  # the plain cast and the clamped cast agree for E4M3: both saturate
        report(bool(np.array_equal(x.to(dtype).view(torch.uint8).numpy(), x.clamp(-limit, limit).to(dtype).view(torch.uint8).numpy())),
               "e4m3: PyTorch's plain cast saturates as its clamped cast does")

ref = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
got = run(["--format", "bf16"], bits, np.uint16)
bad = np.flatnonzero(got != ref)
report(bad.size == 0, f"bf16: {bits.size:,} float32 inputs, {bad.size} codes differ")
codes = np.arange(1 << 16, dtype=np.uint16)
ref = torch.from_numpy(codes.view(np.int16).copy()).view(torch.bfloat16).to(torch.float32).numpy()
got = run(["--format", "bf16", "--decode"], codes, np.float32)
report(same_floats(got, ref), "bf16: all 65,536 codes decode to PyTorch's float32")

print(f"check-float-formats: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
