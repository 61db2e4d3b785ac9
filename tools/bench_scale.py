"""Scale benchmark: every stage on corpora of growing size, wall time, MB/s per core and peak RSS.

For each corpus directory given (written by tools/build-scale-corpus, e.g. out/scale/1G out/scale/3G
out/scale/10G) it runs, with the release tokenmill, under /usr/bin/time:
  normalize (NFKC) → stats → train-tokenizer (32,768 and 65,536 in one run, --max-memory 4G) → tokenize (FIM
  0.1, with the 32,768 tokenizer) → pack (best-fit, rows of 4,096) → prepare (normalize + dedup + decontaminate
  against the bundled test split + tokenize + pack in one process)
and prints one table: per stage and size the wall time, seconds per GB of raw text, MB/s per core and
peak RSS, beside the memory bound the command's --help states. Flat s/GB and flat RSS as the corpus
grows are what the table is for.

--peers runs, on the first corpus only, the tokenization step of datatrove (DocumentTokenizer, Hugging
Face tokenizers inside) and a Megatron-LM preprocess_data.py-style pipeline (Hugging Face tokenizers'
encode_batch + megatron-core's IndexedDatasetBuilder) on the same normalized text with the same
tokenizer, at the same number of cores, and prints their time over tokenmill tokenize's.

--shards 2,4 adds, on the first corpus, tokenize (FIM 0.1) of its files as one run and as N shard tasks
(`--shard I/N`, run one after another), and prints per task the input files and bytes it read (tokenmill's
own count, shard.input_bytes, and the kernel's rchar of the task: every byte read(2) returned, less the
task's own .bin/.idx, which it reads back for the manifest's SHA-256; the tokenizer file, read twice, and
a little more remain) against the one run's, then merges each set of shards and compares the files with the one
run's (cmp). --only-shards runs just that section, with --tokenizer (no corpus-wide stages).

--stages tokenize,pack reruns only those stages on the outputs an earlier `--keep --work W` run left in W.

Usage: tools/bench-scale [--threads N] [--peers] [--shards 2,4 [--only-shards --tokenizer T]] [--keep] [--work W [--stages S]] CORPUS_DIR...
"""

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECIALS = "<|endoftext|>,<|fim_begin|>,<|fim_hole|>,<|fim_end|>"


def timed(cmd, log, env=None, stdout=None):
    """Runs CMD under /usr/bin/time -v (stdout to the file STDOUT, or discarded); returns (wall seconds,
    peak RSS bytes)."""
    tfile = log + ".time"
    with open(log, "wb") as err, open(stdout or os.devnull, "wb") as out:
        t0 = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-v", "-o", tfile, *cmd], stdout=out, stderr=err, env=env)
        wall = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"bench-scale: {' '.join(map(str, cmd))} failed ({r.returncode}); see {log}:\n"
                 + open(log, errors="replace").read()[-2000:])
    rss = 0
    for line in open(tfile):
        if "Maximum resident set size" in line:
            rss = int(line.split(":")[1]) * 1024
    return wall, rss


def timed_io(cmd, log):
    """Runs CMD like `timed`, through sh so that its I/O counters can be read once it is reaped: returns
    (wall seconds, peak RSS bytes, rchar) where rchar is every byte read(2) returned to CMD."""
    io = log + ".io"
    wall, rss = timed(["sh", "-c", '"$@"; s=$?; cat /proc/$$/io > "$IO"; exit $s', "sh", *map(str, cmd)], log,
                      env=dict(os.environ, IO=io))
    fields = dict(line.split(": ") for line in open(io).read().splitlines())
    return wall, rss, int(fields["rchar"])


def shard_section(corpus, tok, work, threads, counts):
    """tokenize of CORPUS's files as one run and as N shard tasks for each N in COUNTS: bytes read per task,
    and merged == one run."""
    files = corpus_files(corpus)
    total = sum(os.path.getsize(f) for f in files)
    os.makedirs(work, exist_ok=True)
    common = [TM, "tokenize", "--threads", str(threads), "--progress", "none", "--tokenizer", tok, "--fim-rate", "0.1", "--seed", "0"]
    one = os.path.join(work, "one")
    def own(prefix):  # the task's outputs, which it reads back once for the manifest's SHA-256
        return sum(os.path.getsize(prefix + e) for e in (".bin", ".idx"))
    wall, _, rchar = timed_io(common + ["-o", one, *files], os.path.join(work, "shard-one.log"))
    print(f"shards: tokenize (FIM 0.1, {threads} threads) of {os.path.basename(os.path.normpath(corpus))}: {len(files)} files, "
          f"{total / 1e6:,.1f} MB on disk; rchar: every byte read(2) returned to the task less its own .bin/.idx "
          f"(read back for their SHA-256): the inputs, the tokenizer twice (loaded, hashed: {2 * os.path.getsize(tok) / 1e6:.1f} MB) and a little more")
    print(f"{'run':<10} {'task':>6} {'files':>9} {'input read MB':>14} {'of one run':>10} {'rchar MB':>10} {'wall s':>8}")
    print(f"{'one run':<10} {'-':>6} {'1–' + str(len(files)):>9} {total / 1e6:14,.1f} {1:10.2f} {(rchar - own(one)) / 1e6:10,.1f} {wall:8.1f}")
    ok = True
    for n in counts:
        prefixes = []
        for i in range(n):
            prefix = os.path.join(work, f"n{n}-shard{i}")
            wall, _, rchar = timed_io(common + ["--shard", f"{i}/{n}", "-o", prefix, *files], os.path.join(work, f"shard-{n}-{i}.log"))
            with open(prefix + ".json") as f:
                shard = json.load(f)["shard"]
            a, b = shard["files"]
            read = shard["input_bytes"]
            span = f"{a + 1}" if b == a + 1 else f"{a + 1}–{b}"
            print(f"{str(n) + ' shards':<10} {f'{i}/{n}':>6} {span:>9} {read / 1e6:14,.1f} {read / total:10.2f} {(rchar - own(prefix)) / 1e6:10,.1f} {wall:8.1f}")
            prefixes.append(prefix)
        merged = os.path.join(work, f"n{n}-merged")
        timed([TM, "merge", "-o", merged, *prefixes], os.path.join(work, f"shard-{n}-merge.log"))
        same = all(filecmp.cmp(one + e, merged + e, shallow=False) for e in (".bin", ".idx", ".json"))
        ok &= same
        print(f"{n} shards merged == one run (cmp .bin .idx .json): {'yes' if same else 'NO'}")
        for p in prefixes + [merged]:
            for e in (".bin", ".idx", ".json"):
                os.remove(p + e)
    for e in (".bin", ".idx", ".json"):
        os.remove(one + e)
    if not ok:
        sys.exit("bench-scale: merged shards differ from one run")


def corpus_files(corpus):
    files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith((".jsonl.zst", ".jsonl", ".jsonl.gz")))
    if not files:
        sys.exit(f"bench-scale: no .jsonl(.zst/.gz) files in {corpus}")
    return files


def raw_bytes(stats_json):
    """The corpus's raw text bytes (what MB/s is counted in) and documents, from tokenmill stats --json's output."""
    with open(stats_json) as f:
        o = json.load(f)
    return o.get("bytes") or o["overall"]["bytes"], o.get("documents") or o["overall"]["documents"]


def memory_bound(verb):
    """The 'Memory: …' sentence of a command's --help."""
    h = subprocess.run([TM, verb, "--help"], capture_output=True, text=True).stdout
    h = " ".join(h.split())
    i = h.find("Memory:")
    if i < 0:
        return "(not stated)"
    j = h.find(".", i + 8)
    while j > 0 and j + 1 < len(h) and h[j + 1] not in " ":
        j = h.find(".", j + 1)
    return h[i + 8: j + 1 if j > 0 else None]


def stage_commands(tm, files, src, dst, threads):
    """The benchmark's stages in order, as (name, argv, stdout file or None, output names): every stage reads
    its inputs (the normalized text, the tokenizer, the tokenized dataset) from directory SRC and writes its
    outputs (names relative to DST, a glob where the stage names them) into directory DST. The benchmark
    uses one directory for both; tools/check-kill-scale kills each stage of a copy writing elsewhere."""
    th = ["--threads", str(threads), "--progress", "none"]
    norm_in, norm_out = os.path.join(src, "norm.jsonl.zst"), os.path.join(dst, "norm.jsonl.zst")
    tok = os.path.join(src, "tokenizer-32768.json")
    cfg = os.path.join(dst, "prepare.json")
    with open(cfg, "w") as f:
        json.dump({"inputs": files, "output": os.path.join(dst, "prep"), "tokenizer": tok, "normalize": {"form": "nfkc"},
                   "decontaminate": {"against": [os.path.join(ROOT, "corpora", "test.jsonl.zst")]},
                   "tokenize": {"fim_rate": 0.1, "seed": 0}, "pack": {"seq_len": 4096}}, f)
    return [
        ("normalize", [tm, "normalize", *th, "--form", "nfkc", "-o", norm_out, *files], None, ["norm.jsonl.zst*"]),
        ("stats", [tm, "stats", *th, "--json", norm_in], os.path.join(dst, "stats.json"), ["stats.json"]),
        ("train-tokenizer", [tm, "train-tokenizer", *th, "--max-memory", "4G", "--pretokenizer", "deepseek-v3",
                             "--vocab-size", "32768,65536", "--special-tokens", SPECIALS,
                             "-o", os.path.join(dst, "tokenizer.json"), norm_in], None, ["tokenizer-*.json"]),
        ("tokenize", [tm, "tokenize", *th, "--tokenizer", tok, "--fim-rate", "0.1", "--seed", "0",
                      "-o", os.path.join(dst, "train"), norm_in], None, ["train.bin", "train.idx", "train.json"]),
        ("pack", [tm, "pack", "--progress", "none", "--seq-len", "4096", "-o", os.path.join(dst, "train.packed"),
                  os.path.join(src, "train")], None, ["train.packed*"]),
        ("prepare", [tm, "prepare", *th, "--config", cfg], None, ["prep.*"]),
    ]


def run_size(corpus, work, threads, only=None):
    """Runs the stages (those in ONLY, when given: the others' outputs must be in WORK already)."""
    files = corpus_files(corpus)
    os.makedirs(work, exist_ok=True)
    rows = []
    for name, cmd, stdout, _ in stage_commands(TM, files, work, work, threads):
        if only and name not in only:
            continue
        wall, rss = timed(cmd, os.path.join(work, name + ".log"), stdout=stdout)
        rows.append((name, wall, rss))
        print(f"  {os.path.basename(corpus)} {name}: {wall:.1f} s, peak RSS {rss / 2**20:.0f} MiB", file=sys.stderr, flush=True)
    size, docs = raw_bytes(os.path.join(work, "stats.json"))
    return size, docs, rows, os.path.join(work, "norm.jsonl.zst"), os.path.join(work, "tokenizer-32768.json")


def peers(norm, tok, threads, work, tm_tokenize_s):
    """datatrove's and Megatron's tokenization of NORM with TOK, timed beside tokenmill tokenize."""
    py = os.path.join(ROOT, ".venv", "bin", "python")
    out = []
    megatron = f"""
import json, subprocess, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
from megatron.core.datasets.indexed_dataset import DType, IndexedDatasetBuilder
from tokenizers import Tokenizer
t = Tokenizer.from_file({tok!r})
eod = t.token_to_id("<|endoftext|>")
dtype = DType.optimal_dtype(t.get_vocab_size(with_added_tokens=True))
b = IndexedDatasetBuilder({os.path.join(work, 'megatron.bin')!r}, dtype=dtype)
p = subprocess.Popen(["zstd", "-dc", {norm!r}], stdout=subprocess.PIPE)
batch = []
def flush():
    for e in t.encode_batch(batch, add_special_tokens=False):
        b.add_document(np.array(e.ids + [eod], dtype=dtype), [len(e.ids) + 1])
    batch.clear()
for line in p.stdout:
    batch.append(json.loads(line)["text"])
    if len(batch) == 1000: flush()
flush()
b.finalize({os.path.join(work, 'megatron.idx')!r})
"""
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    wall, rss = timed([py, "-c", megatron], os.path.join(work, "megatron.log"), env=env)
    out.append(("Megatron-style (HF encode_batch + IndexedDatasetBuilder)", wall, rss))
    datatrove = f"""
import warnings; warnings.filterwarnings("ignore")
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.tokens import DocumentTokenizer
LocalPipelineExecutor(pipeline=[
    JsonlReader({os.path.dirname(norm)!r}, glob_pattern={os.path.basename(norm)!r}, compression="zstd"),
    DocumentTokenizer(output_folder={os.path.join(work, 'datatrove')!r}, tokenizer_name_or_path={tok!r},
                      eos_token="<|endoftext|>", batch_size=1000, shuffle_documents=False),
], tasks=1, workers=1, logging_dir={os.path.join(work, 'datatrove-logs')!r}).run()
"""
    try:
        wall, rss = timed([py, "-c", datatrove], os.path.join(work, "datatrove.log"), env=env)
        out.append(("datatrove DocumentTokenizer", wall, rss))
    except SystemExit as e:
        print(f"bench-scale: datatrove failed (.venv/bin/pip install -r tools/requirements.txt?): {str(e)[:300]}", file=sys.stderr)
    for name, wall, rss in out:
        print(f"  {name}: {wall:.1f} s, peak RSS {rss / 2**20:.0f} MiB — tokenmill tokenize is {wall / tm_tokenize_s:.2f}× faster")


def main():
    global TM
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpora", nargs="+")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--peers", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--shards", default=None, help="shard counts for the shard section, e.g. 2,4")
    ap.add_argument("--only-shards", action="store_true", help="run only the shard section (needs --tokenizer)")
    ap.add_argument("--tokenizer", default=None, help="the tokenizer of the shard section (default: the one the first corpus trains)")
    ap.add_argument("--work", default=None, help="where outputs go (default: a temporary directory on the corpus's disk)")
    ap.add_argument("--stages", default=None, help="run only these stages (comma-separated), on the other stages' "
                    "outputs an earlier --keep run left in --work (WORK/CORPUS_NAME)")
    a = ap.parse_args()
    TM = os.environ.get("TOKENMILL") or os.path.join(ROOT, ".build", "release", "tokenmill")
    base = a.work or tempfile.mkdtemp(prefix="bench-scale.", dir=os.path.dirname(os.path.abspath(a.corpora[0])))
    results = []
    counts = [int(x) for x in a.shards.split(",")] if a.shards else []
    if a.only_shards:
        if not (counts and a.tokenizer):
            sys.exit("bench-scale: --only-shards needs --shards and --tokenizer")
        try:
            shard_section(a.corpora[0], a.tokenizer, os.path.join(base, "shards"), a.threads, counts)
        finally:
            if not a.keep and not a.work:
                shutil.rmtree(base, ignore_errors=True)
        return
    try:
        for i, c in enumerate(a.corpora):
            work = os.path.join(base, os.path.basename(os.path.normpath(c)))
            size, docs, rows, norm, tok = run_size(c, work, a.threads, a.stages.split(",") if a.stages else None)
            results.append((os.path.basename(os.path.normpath(c)), size, docs, rows))
            if a.peers and i == 0:
                if "tokenize" not in dict((n, w) for n, w, _ in rows):
                    sys.exit("bench-scale: --peers needs the tokenize stage (its time is the ratio's denominator)")
                peers(norm, tok, a.threads, work, dict((n, w) for n, w, _ in rows)["tokenize"])
            if counts and i == 0:
                shard_section(c, a.tokenizer or tok, os.path.join(work, "shards"), a.threads, counts)
            if not a.keep and not a.stages:  # --stages works on an earlier run's kept outputs: keep them
                for f in os.listdir(work):
                    if not f.endswith((".log", ".time")):
                        p = os.path.join(work, f)
                        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    finally:
        if not a.keep and not a.work:
            shutil.rmtree(base, ignore_errors=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"tokenmill at {a.threads} threads on {os.cpu_count()} cores ({cpu}); MB/s per core = raw text MB / wall s / threads")
    print(f"{'stage':<16} {'corpus':>7} {'raw GB':>7} {'docs':>10} {'wall s':>8} {'s/GB':>7} {'MB/s/core':>9} {'peak RSS MiB':>12}")
    for name, size, docs, rows in results:
        for stage, wall, rss in rows:
            print(f"{stage:<16} {name:>7} {size / 1e9:7.2f} {docs:10,} {wall:8.1f} {wall / (size / 1e9):7.1f} "
                  f"{size / 1e6 / wall / a.threads:9.1f} {rss / 2**20:12.0f}")
    print("memory bounds stated by --help:")
    for verb in ("normalize", "stats", "train-tokenizer", "tokenize", "pack", "prepare"):
        print(f"  {verb}: {memory_bound(verb)}")


if __name__ == "__main__":
    main()
