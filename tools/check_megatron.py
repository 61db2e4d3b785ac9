"""See tools/check-megatron."""
import json, os, subprocess, sys, tempfile, warnings
from pathlib import Path

warnings.filterwarnings("ignore")
import numpy as np
from megatron.core.datasets.indexed_dataset import DType, IndexedDataset, IndexedDatasetBuilder
from tokenizers import Tokenizer

root = Path(__file__).resolve().parent.parent
# The real tokenizer files, decompressed from Tests/Fixtures/tokenizers.
fixtures = Path(subprocess.run([str(root / "tools/tokenizer-fixture")], check=True, capture_output=True, text=True).stdout.strip())
args = [a for a in sys.argv[1:] if a != "--small"]
corpus = Path(args[0]) if args else root / "corpora/test.jsonl.zst"
binary = Path(os.environ.get("TOKENMILL", root / ".build/release/tokenmill"))

texts = [json.loads(l)["text"] for l in subprocess.run(["zstd", "-dc", str(corpus)], stdout=subprocess.PIPE, check=True).stdout.decode().splitlines() if l.strip()]
passed = failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for name, eod in [("pythia", "<|endoftext|>"), ("olmo2", "<|endoftext|>")]:
        tok_path = fixtures / name / "tokenizer.json"
        prefix = f"{tmp}/{name}"
        subprocess.run([str(binary), "tokenize", "--progress", "none", "--tokenizer", str(tok_path), "-o", prefix, str(corpus)],
                       check=True, stderr=subprocess.DEVNULL)
        hf = Tokenizer.from_file(str(tok_path))
        eod_id = hf.token_to_id(eod)
        want = [ids + [eod_id] for ids in (hf.encode(t, add_special_tokens=False).ids for t in texts) if ids]
        ds = IndexedDataset(prefix)
        di = ds.document_indices
        got = [np.concatenate([ds[i] for i in range(di[d], di[d + 1])]).tolist() for d in range(len(di) - 1)]
        differ = sum(1 for a, b in zip(got, want) if a != b) + abs(len(got) - len(want))
        ref = f"{tmp}/{name}-ref"
        dtype = DType.optimal_dtype(hf.get_vocab_size(with_added_tokens=True))
        builder = IndexedDatasetBuilder(ref + ".bin", dtype=dtype)
        for ids in want:
            builder.add_document(np.array(ids, dtype=dtype), [len(ids)])
        builder.finalize(ref + ".idx")
        same = all(Path(prefix + ext).read_bytes() == Path(ref + ext).read_bytes() for ext in (".bin", ".idx"))
        ok = differ == 0 and same
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(want)} documents, dtype {ds.index.dtype.__name__}, "
              f"{differ} differ from HF ids + EOD, files byte-identical to IndexedDatasetBuilder: {same}", file=sys.stderr)
        passed += ok
        failed += not ok
        # The packed output of the same dataset: megatron-core reads rows of exactly L tokens whose
        # pieces hold every token of the input once.
        L = 1024
        subprocess.run([str(binary), "pack", "--progress", "none", "--seq-len", str(L), "-o", prefix + "-packed", prefix],
                       check=True, stderr=subprocess.DEVNULL)
        packed = IndexedDataset(prefix + "-packed")
        pdi = packed.document_indices
        rows_ok = all(sum(len(packed[i]) for i in range(pdi[r], pdi[r + 1])) == L for r in range(len(pdi) - 1))
        pieces = sorted(tuple(packed[i].tolist()) for r in range(len(pdi) - 1) for i in range(pdi[r], pdi[r + 1] - 1))
        chunks = sorted(tuple(ids[k:k + L]) for ids in want for k in range(0, len(ids), L))
        ok = rows_ok and pieces == chunks
        print(f"{'ok  ' if ok else 'FAIL'} {name} packed (best-fit, L={L}): {len(pdi) - 1} rows of exactly {L}: {rows_ok}, "
              f"pieces are the input's L-chunks, each once: {pieces == chunks}", file=sys.stderr)
        passed += ok
        failed += not ok
        # pack --shard 0/2 and 1/2 merged: the same files as one run (validation split and shuffle
        # included), and megatron-core reads the merged rows.
        opts = ["pack", "--progress", "none", "--seq-len", str(L), "--buffer-docs", "100", "--valid-fraction", "0.05", "--seed", "3"]
        subprocess.run([str(binary)] + opts + ["-o", prefix + "-one", prefix], check=True, stderr=subprocess.DEVNULL)
        for i in range(2):
            subprocess.run([str(binary)] + opts + ["--shard", f"{i}/2", "-o", f"{prefix}-part{i}", prefix], check=True, stderr=subprocess.DEVNULL)
        subprocess.run([str(binary), "merge", "-o", prefix + "-merged", prefix + "-part0", prefix + "-part1"], check=True, stderr=subprocess.DEVNULL)
        same = all(Path(prefix + "-one" + ext).read_bytes() == Path(prefix + "-merged" + ext).read_bytes()
                   for ext in (".bin", ".idx", ".json", "_valid.bin", "_valid.idx"))
        rows = 0
        for suffix in ("-merged", "-merged_valid"):
            m = IndexedDataset(prefix + suffix)
            mdi = m.document_indices
            rows_ok = rows_ok and all(sum(len(m[i]) for i in range(mdi[r], mdi[r + 1])) == L for r in range(len(mdi) - 1))
            rows += len(mdi) - 1
        ok = same and rows_ok
        print(f"{'ok  ' if ok else 'FAIL'} {name} pack --shard 0/2 + 1/2 merged: byte-identical to one run: {same}, "
              f"megatron-core reads {rows} rows (train + validation) of exactly {L}: {rows_ok}", file=sys.stderr)
        passed += ok
        failed += not ok
print(f"check-megatron: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
