"""See tools/bench-encode-growth."""
import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_common import ROOT, SHARED  # noqa: E402

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def make_document(kind, size, seed):
    """One document of `size` UTF-8 bytes (random bytes: `size` raw bytes, then U+FFFD for invalid UTF-8)."""
    rng = random.Random(seed)
    if kind == "repeated":
        return "a" * size
    if kind == "letters":
        return "".join(rng.choice(LETTERS) for _ in range(size))
    return rng.randbytes(size).decode("utf-8", "replace")


KINDS = {
    "repeated": "one repeated character ('a')",
    "letters": "random lowercase letters, no whitespace (one pre-token)",
    "bytes": "random bytes (invalid UTF-8 as U+FFFD, as `encode` reads them)",
}


def run_tokenmill(binary, tokenizer, path, out):
    """CPU seconds (user + system, all threads) of one `tokenmill encode` run: robust to other load on
    the machine, unlike wall time."""
    p = subprocess.Popen([binary, "encode", "--tokenizer", tokenizer, "--threads", "1", "--progress", "none", "-o", out, path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"tokenmill encode failed on {path} (status {p.returncode})")
    return usage.ru_utime + usage.ru_stime


PEER = r"""
import json, os, sys, time
sys.path.insert(0, {tools!r})
docs = [json.loads(l)["text"] for l in open({path!r}, encoding="utf-8")]
if {peer!r} == "tiktoken":
    from tokenizer_common import tiktoken_encoding
    e = tiktoken_encoding({tiktoken_file!r})
    encode = e.encode_ordinary
else:
    from tokenizers import Tokenizer
    t = Tokenizer.from_file({hf_file!r})
    encode = lambda x: t.encode(x, add_special_tokens=False).ids
best = float("inf")
for _ in range({repeats}):
    t0 = time.process_time()
    for d in docs: ids = encode(d)
    best = min(best, time.process_time() - t0)
print(json.dumps({{"seconds": best, "first": encode(docs[0])}}))
"""


def run_peer(peer, path, tiktoken_file, hf_file, repeats, timeout):
    code = PEER.format(tools=os.path.dirname(os.path.abspath(__file__)), path=path, peer=peer, tiktoken_file=tiktoken_file,
                       hf_file=hf_file, repeats=repeats)
    env = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    try:
        r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return out["seconds"], out["first"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000", help="document sizes in bytes, comma-separated")
    ap.add_argument("--kinds", default="repeated,letters,bytes")
    ap.add_argument("--min-total", type=float, default=4e6, help="N documents of a size hold at least this many bytes (each its own seed)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; the fastest counts")
    ap.add_argument("--peer-timeout", type=float, default=600, help="seconds before a peer's measurement is given up")
    args = ap.parse_args()
    binary = os.environ.get("TOKENMILL") or os.path.join(ROOT, ".build", "release", "tokenmill")
    if not os.path.exists(binary):
        raise SystemExit("bench-encode-growth: no release binary; run `swift build -c release --product tokenmill` (or set TOKENMILL)")
    tk_file = os.path.join(SHARED, "cl100k_base", "cl100k_base.tiktoken")
    hf_file = os.path.join(SHARED, "olmo2", "tokenizer.json")
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; tokenmill {binary}")
    print("one thread each; cl100k (TokenMill and tiktoken: cl100k_base.tiktoken; HF tokenizers: OLMo-2 tokenizer.json, "
          "cl100k ranks); CPU seconds per document (user + system, so other load on the machine matters less), "
          "the fastest of", args.repeats, "runs")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.jsonl")
        print("tokenmill: the CPU time of a run on 2 x N documents minus that of a run on the first N (so the load "
              "time and first-document costs cancel), over N")
        for kind in args.kinds.split(","):
            print(f"\n{KINDS[kind]}")
            for size in sizes:
                copies = max(1, math.ceil(args.min_total / size))
                docs = [make_document(kind, size, seed=1000 * size + c) for c in range(2 * copies)]
                paths = []
                for name, part in [("n", docs[:copies]), ("2n", docs)]:
                    paths.append(os.path.join(tmp, f"{kind}-{size}-{name}.jsonl"))
                    with open(paths[-1], "w", encoding="utf-8") as f:
                        for d in part:
                            f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
                path = paths[0]
                utf8 = len(docs[0].encode())
                t_n = min(run_tokenmill(binary, tk_file, paths[0], out) for _ in range(args.repeats))
                t_2n = min(run_tokenmill(binary, tk_file, paths[1], out) for _ in range(args.repeats))
                tm = max(t_2n - t_n, 1e-6) / copies
                with open(out, encoding="utf-8") as f:
                    tm_first = json.loads(f.readline())["ids"]
                row = {"tokenmill": tm}
                line = f"  {size / 1e3:>7.0f} kB ({utf8 / 1e3:.0f} kB UTF-8, N = {copies}): tokenmill {tm:.4f} s"
                for peer in ["tiktoken", "HF"]:
                    secs, first = run_peer(peer, path, tk_file, hf_file, args.repeats, args.peer_timeout)
                    if secs is None:
                        line += f"; {peer} > {args.peer_timeout:.0f} s (gave up)"
                        continue
                    secs /= copies
                    row[peer] = secs
                    same = "same ids" if first == tm_first else "IDS DIFFER"
                    line += f"; {peer} {secs:.4f} s (tokenmill/{peer} time {tm / secs:.2f}, {same})"
                results[(kind, size)] = row
                print(line, flush=True)
            for a, b in zip(sizes, sizes[1:]):
                growth = ", ".join(f"{name} {results[(kind, b)][name] / results[(kind, a)][name]:.1f}x"
                                   for name in ["tokenmill", "tiktoken", "HF"]
                                   if name in results[(kind, a)] and name in results[(kind, b)])
                print(f"  growth {a / 1e3:.0f} kB -> {b / 1e3:.0f} kB (size x{b / a:.0f}): {growth}")


if __name__ == "__main__":
    main()
