"""See tools/check-tokenizer-encoding."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_common import (SHARED, adversarial_strings, default_corpus, read_documents,  # noqa: E402
                              shared_tokenizers, tokenmill_binary, write_jsonl)


def run_tokenmill(binary, args, stdin_path):
    r = subprocess.run([binary] + args + ["--progress", "none", stdin_path], check=True, capture_output=True)
    return [l for l in r.stdout.decode("utf-8").split("\n") if l]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="*")
    ap.add_argument("--small", action="store_true", help="200 documents of at most 20 kB plus the adversarial strings (CI)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--trained-vocab", type=int, default=None)
    args = ap.parse_args()
    limit = args.limit or (200 if args.small else None)
    texts = read_documents(args.corpus or default_corpus("test"), limit=limit)
    if args.small:
        texts = [t[:20000] for t in texts]
    texts += adversarial_strings(400, seed=99)
    binary = tokenmill_binary()
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.jsonl")
        write_jsonl(texts, corpus)
        print(f"corpus: {len(texts)} documents, {sum(len(t.encode()) for t in texts):,} bytes; tokenmill: {binary}")
        # A tokenizer trained by tokenmill, checked against HF loading the same file.
        from tokenizers import Tokenizer
        train_texts = read_documents(default_corpus("train"), limit=200 if args.small else 2000)
        train = os.path.join(tmp, "train.jsonl")
        write_jsonl(train_texts, train)
        trained = os.path.join(tmp, "trained.json")
        vocab = args.trained_vocab or (2000 if args.small else 32768)
        subprocess.run([binary, "train-tokenizer", "--vocab-size", str(vocab), "--pretokenizer", "cl100k", "--special-tokens",
                        "<|endoftext|>", "--progress", "none", "-o", trained, train], check=True, stderr=subprocess.DEVNULL)
        hf_trained = Tokenizer.from_file(trained)
        cases = [(name, os.path.join(SHARED, rel), kind, enc) for name, rel, kind, enc in shared_tokenizers()]
        cases.append((f"trained-cl100k-{vocab}", trained, "hf", lambda s: hf_trained.encode(s, add_special_tokens=False).ids))
        for name, path, kind, encode in cases:
            t0 = time.time()
            extra = ["--allow-special"] if kind == "hf" else []
            lines = run_tokenmill(binary, ["encode", "--tokenizer", path] + extra, corpus)
            t_tm = time.time() - t0
            ours = [json.loads(l)["ids"] for l in lines]
            t0 = time.time()
            ref = [encode(t) for t in texts]
            t_ref = time.time() - t0
            differ = [i for i, (a, b) in enumerate(zip(ours, ref)) if a != b]
            if len(ours) != len(ref):
                differ.append(-1)
            # Round trip through `tokenmill decode` (HF's own decode is not the identity for added tokens
            # matched after normalization, so only tokenizers without a normalizer are checked).
            ids_path = os.path.join(tmp, "ids.jsonl")
            with open(ids_path, "w") as f:
                f.write("\n".join(lines) + "\n")
            decoded = [json.loads(l)["text"] for l in run_tokenmill(binary, ["decode", "--tokenizer", path], ids_path)]
            normalizer = kind == "hf" and json.load(open(path)).get("normalizer") not in (None, {"type": "Sequence", "normalizers": []})
            roundtrip_bad = 0 if normalizer else sum(1 for a, b in zip(decoded, texts) if a != b)
            ok = not differ and roundtrip_bad == 0
            passed += ok
            failed += not ok
            detail = ""
            if differ:
                i = differ[0]
                detail = f"; first difference in document {i}: {texts[i][:60]!r}"
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(texts)} documents, {len(differ)} differ, {roundtrip_bad} decode(encode(x)) != x "
                  f"(tokenmill {t_tm:.1f}s incl. load, reference {t_ref:.1f}s){detail}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
