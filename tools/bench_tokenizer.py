"""See tools/bench-tokenizer. rustbpe and sentencepiece are not in the venv, so they are not measured."""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_common import SHARED, default_corpus, read_documents, write_jsonl  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def take_mb(texts, mb):
    out, n = [], 0
    for t in texts:
        if n >= mb * 1e6:
            break
        out.append(t)
        n += len(t.encode())
    return out, n


def timed(cmd, env=None):
    """(seconds, peak RSS in MB) of one command, measured with /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r") as f:
        t0 = time.time()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name] + cmd, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        dt = time.time() - t0
        return dt, int(f.read().strip().splitlines()[-1]) / 1024


def child(code, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    r = subprocess.run([PY, "-c", code], check=True, capture_output=True, text=True, env=env)
    return r.stdout.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="*")
    ap.add_argument("--vocab-sizes", default="32768,65536")
    ap.add_argument("--train-mb", type=float, default=100)
    ap.add_argument("--encode-mb", type=float, default=20)
    ap.add_argument("--skip-train", action="store_true", help="only the encoding benchmark")
    args = ap.parse_args()
    binary = os.environ.get("TOKENMILL") or os.path.join(ROOT, ".build-tok", "release", "tokenmill")
    if not os.path.exists(binary):
        binary = os.path.join(ROOT, ".build", "release", "tokenmill")
    texts = read_documents(args.corpus or default_corpus("train"))
    train, train_bytes = take_mb(texts, args.train_mb)
    enc_texts, enc_bytes = take_mb(texts, args.encode_mb)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; tokenmill {binary}")
    print(f"training input: {len(train)} documents, {train_bytes / 1e6:.1f} MB; encoding input: {len(enc_texts)} documents, {enc_bytes / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        train_path = os.path.join(tmp, "train.jsonl")
        write_jsonl(train, train_path)
        enc_path = os.path.join(tmp, "enc.jsonl")
        write_jsonl(enc_texts, enc_path)
        # 1. Training, one size per run (so peak memory is per size).
        for size in ([] if args.skip_train else [int(s) for s in args.vocab_sizes.split(",")]):
            out = os.path.join(tmp, f"tm-{size}.json")
            t_tm, m_tm = timed([binary, "train-tokenizer", "--vocab-size", str(size), "--pretokenizer", "cl100k",
                                "--special-tokens", "<|endoftext|>", "--progress", "none", "-o", out, train_path])
            code = f"""
import resource, sys, time, json
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
from tokenizer_common import hf_train
texts = [json.loads(l)["text"] for l in open({train_path!r}, encoding="utf-8")]
t0 = time.time(); hf_train(texts, "cl100k", {size}, ["<|endoftext|>"]); dt = time.time() - t0
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
            t_hf, m_hf = map(float, child(code).split())
            print(f"train vocab {size}: tokenmill {t_tm:.1f} s, {m_tm:.0f} MB peak; HF BpeTrainer {t_hf:.1f} s (training only), "
                  f"{m_hf:.0f} MB peak -> time ratio HF/tokenmill {t_hf / t_tm:.2f}x, memory ratio tokenmill/HF {m_tm / m_hf:.2f}")
            # rustbpe (karpathy) with the same cl100k pattern, and sentencepiece's BPE trainer on the same
            # text (one line a sentence; its own pre-processing), when installed (tools/requirements.txt).
            others = {
                "rustbpe": f"""
import resource, time, json, rustbpe
texts = [json.loads(l)["text"] for l in open({train_path!r}, encoding="utf-8")]
pattern = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{{L}}\\p{{N}}]?\\p{{L}}+|\\p{{N}}{{1,3}}| ?[^\\s\\p{{L}}\\p{{N}}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
t0 = time.time(); tok = rustbpe.Tokenizer(); tok.train_from_iterator(iter(texts), {size}, pattern=pattern); dt = time.time() - t0
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""",
                "sentencepiece BPE": f"""
import resource, time, json, os, tempfile, sentencepiece as spm
lines = os.path.join(tempfile.mkdtemp(), "lines.txt")
with open(lines, "w", encoding="utf-8") as f:
    for l in open({train_path!r}, encoding="utf-8"):
        for s in json.loads(l)["text"].split("\\n"):
            if s.strip(): f.write(s + "\\n")
t0 = time.time()
spm.SentencePieceTrainer.train(input=lines, model_prefix=lines + ".m", model_type="bpe", vocab_size={size},
                               byte_fallback=True, character_coverage=1.0, num_threads=os.cpu_count(),
                               input_sentence_size=10**8, max_sentence_length=1 << 16, minloglevel=2)
dt = time.time() - t0
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""",
            }
            for name, code in others.items():
                try:
                    t_o, m_o = map(float, child(code).split())
                    print(f"train vocab {size}: {name} {t_o:.1f} s, {m_o:.0f} MB peak -> time ratio {name}/tokenmill {t_o / t_tm:.2f}x, "
                          f"memory ratio tokenmill/{name} {m_tm / m_o:.2f}")
                except subprocess.CalledProcessError as e:
                    print(f"train vocab {size}: {name} not measured ({(e.stderr or '').strip().splitlines()[-1:] or 'failed'})")
        # 2. Encoding with cl100k_base (load time subtracted for tokenmill: a run on an empty input).
        tk = os.path.join(SHARED, "cl100k_base", "cl100k_base.tiktoken")
        empty = os.path.join(tmp, "empty.jsonl")
        open(empty, "w").close()
        for threads in [1, 2]:
            base, _ = timed([binary, "encode", "--tokenizer", tk, "--threads", str(threads), "--progress", "none", "-o", os.devnull, empty])
            t_all, _ = timed([binary, "encode", "--tokenizer", tk, "--threads", str(threads), "--progress", "none", "-o", os.devnull, enc_path])
            t_tm = max(t_all - base, 1e-9)
            code_tk = f"""
import json, sys, time
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
from tokenizer_common import tiktoken_encoding
e = tiktoken_encoding({tk!r})
texts = [json.loads(l)["text"] for l in open({enc_path!r}, encoding="utf-8")]
t0 = time.time()
if {threads} == 1:
    for t in texts: e.encode_ordinary(t)
else:
    e.encode_ordinary_batch(texts, num_threads={threads})
print(time.time() - t0)
"""
            t_tk = float(child(code_tk))
            code_hf = f"""
import json, time
from tokenizers import Tokenizer
t = Tokenizer.from_file({os.path.join(SHARED, 'olmo2', 'tokenizer.json')!r})
texts = [json.loads(l)["text"] for l in open({enc_path!r}, encoding="utf-8")]
t0 = time.time()
if {threads} == 1:
    for x in texts: t.encode(x, add_special_tokens=False)
else:
    t.encode_batch(texts, add_special_tokens=False)
print(time.time() - t0)
"""
            t_hf = float(child(code_hf, {"RAYON_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "true"}))
            mb = enc_bytes / 1e6
            print(f"encode cl100k, {threads} thread(s): tokenmill {mb / t_tm:.1f} MB/s (CLI incl. reading and JSON output), "
                  f"tiktoken {mb / t_tk:.1f} MB/s, HF (olmo2 = cl100k ranks) {mb / t_hf:.1f} MB/s -> "
                  f"tokenmill/tiktoken {t_tk / t_tm:.2f}x, tokenmill/HF {t_hf / t_tm:.2f}x")


if __name__ == "__main__":
    main()
