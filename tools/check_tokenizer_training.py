"""See tools/check-tokenizer-training."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_common import default_corpus, hf_train, read_documents, tokenmill_binary, write_jsonl  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|pad|>"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="*")
    ap.add_argument("--small", action="store_true", help="a few MB, vocab 2000, presets gpt2 and cl100k (CI)")
    ap.add_argument("--presets", default=None)
    ap.add_argument("--vocab-sizes", default=None)
    ap.add_argument("--limit", type=int, default=None, help="use at most this many documents")
    args = ap.parse_args()
    presets = (args.presets or ("gpt2,cl100k" if args.small else "gpt2,cl100k,o200k,llama3,qwen2,deepseek-v3")).split(",")
    sizes = [int(s) for s in (args.vocab_sizes or ("2000" if args.small else "4096,32768")).split(",")]
    limit = args.limit or (400 if args.small else None)
    texts = read_documents(args.corpus or default_corpus("train"), limit=limit)
    if args.small:
        budget, kept = 3_000_000, []
        for t in texts:
            if budget <= 0:
                break
            kept.append(t)
            budget -= len(t)
        texts = kept
    binary = tokenmill_binary()
    from tokenizers import Tokenizer
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.jsonl")
        write_jsonl(texts, corpus)
        print(f"corpus: {len(texts)} documents, {sum(len(t.encode()) for t in texts):,} bytes; tokenmill: {binary}")
        for preset in presets:
            out = os.path.join(tmp, f"{preset}.json")
            t0 = time.time()
            subprocess.run([binary, "train-tokenizer", "--vocab-size", ",".join(map(str, sizes)), "--pretokenizer", preset,
                            "--special-tokens", ",".join(SPECIALS), "--progress", "none", "-o", out, corpus],
                           check=True, stderr=subprocess.DEVNULL)
            t_tm = time.time() - t0
            for size in sizes:
                path = out if len(sizes) == 1 else out[:-5] + f"-{size}.json"
                t0 = time.time()
                hf_tok, hf_merges = hf_train(texts, preset, size, SPECIALS)
                t_hf = time.time() - t0
                ours = Tokenizer.from_file(path)  # tokenizers loads tokenmill's file
                import json
                our_merges = json.loads(open(path, encoding="utf-8").read())["model"]["merges"]
                diff = next((i for i, (a, b) in enumerate(zip(our_merges, hf_merges)) if a != b), None)
                same_len = len(our_merges) == len(hf_merges)
                sample = texts[:50]
                enc_diff = sum(1 for t in sample if ours.encode(t, add_special_tokens=False).ids != hf_tok.encode(t, add_special_tokens=False).ids)
                try:
                    from transformers import PreTrainedTokenizerFast
                    fast = PreTrainedTokenizerFast(tokenizer_file=path)
                    enc_diff += sum(1 for t in sample[:20] if fast.encode(t, add_special_tokens=False) != hf_tok.encode(t, add_special_tokens=False).ids)
                except ImportError:
                    pass
                ok = diff is None and same_len and enc_diff == 0
                passed += ok
                failed += not ok
                detail = "" if ok else f" first differing merge #{diff}: ours {our_merges[diff] if diff is not None else None} hf {hf_merges[diff] if diff is not None else None}; lengths {len(our_merges)}/{len(hf_merges)}; {enc_diff} sample documents encode differently"
                print(f"{'ok  ' if ok else 'FAIL'} {preset} vocab {size}: {len(our_merges)} merges identical={diff is None and same_len} (tokenmill {t_tm:.1f}s for all sizes, HF {t_hf:.1f}s){detail}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
