"""tokenmill dedup against datatrove's MinHash deduplication on a corpus with planted near duplicates.

Builds the corpus from the bundled training split: base documents (every subset but DM Mathematics,
whose templated problems are near duplicates of each other once numbers are normalized), then one
planted copy per base, edited to a known word-5-gram Jaccard similarity with its base (0.5 … 0.95,
or an exact copy), in shuffled order after all bases. Similarity is measured on datatrove's
simplified text (simplify_text, then whitespace words), the definition both tools shingle. Runs
`tokenmill dedup --threads 1` and datatrove's four MinHash steps (signature, buckets, cluster, filter)
in one process with the same parameters (5-grams, 14 bands of 8, 64-bit xxhash; datatrove's word
tokenizer replaced by a whitespace split so both see the same words), then prints per similarity band
the share of planted copies each removed (recall) beside the LSH curve 1-(1-s^8)^14, the precision of
each tool's removed set (a removal is right when the removed document has an earlier document of
Jaccard >= 0.5), the agreement of the two removed sets, and the throughput ratio. Exits 1 when
tokenmill's recall at >= 0.9 or on exact copies is below 0.98, its precision below 0.98, or the two
tools decide differently on more than 2% of the copies at >= 0.9 (near the threshold the two hash
families disagree by chance; the expected agreement is printed beside the measured one).
Usage: tools/check-dedup [--small]   (through the wrapper; --small: 50 copies per band)
"""
import argparse, json, os, random, subprocess, sys, tempfile, time
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import simplify_text
from datatrove.utils.word_tokenizers import WordTokenizer
from loguru import logger

root = Path(__file__).resolve().parent.parent
ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.environ.get("TOKENMILL", str(root / ".build/release/tokenmill")))
ap.add_argument("--small", action="store_true")
ap.add_argument("--per-band", type=int, default=None, help="planted copies per similarity band (default 200, --small 50)")
ap.add_argument("--seed", type=int, default=18)
args = ap.parse_args()
per_band = args.per_band or (50 if args.small else 200)
logger.remove()  # datatrove logs every step at INFO

TARGETS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]  # 1.0: exact copy of the base text


class WhitespaceWords(WordTokenizer):
    def word_tokenize(self, text):
        return text.split()

    def sent_tokenize(self, text):
        return [text]

    def span_tokenize(self, text):
        return [(0, len(text))]


def shingles(words, n=5):
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a, b):
    return len(a & b) / len(a | b) if a or b else 1.0


# 1. The planted corpus.
rng = random.Random(args.seed)
raw = subprocess.run(["zstd", "-dc", str(root / "corpora/train.jsonl.zst")], stdout=subprocess.PIPE, check=True).stdout
candidates = []
for line in raw.decode("utf-8").splitlines():
    d = json.loads(line)
    if (d.get("meta") or {}).get("pile_set_name") == "DM Mathematics":
        continue
    words = simplify_text(d["text"]).split()
    if len(words) >= 150:
        candidates.append((d["text"], words))
rng.shuffle(candidates)
bases = candidates[: per_band * len(TARGETS)]
if len(bases) < per_band * len(TARGETS):
    sys.exit(f"check-dedup: only {len(bases)} base documents of 150+ words")
pool = [w for _, ws in bases for w in ws]


def edit_to(words, target):
    """A copy of `words` with random positions replaced while its shingle Jaccard with `words` stays at
    or above `target`, as close as whole edits allow (binary search on the number of replaced positions)."""
    base = shingles(words)
    order = list(range(len(words)))
    rng.shuffle(order)
    fresh = [rng.choice(pool) for _ in order]

    def make(k):
        c = list(words)
        for i in range(k):
            c[order[i]] = fresh[i]
        return c

    lo, hi = 0, len(words)
    while lo < hi:  # smallest k with J <= target
        mid = (lo + hi) // 2
        if jaccard(base, shingles(make(mid))) <= target:
            hi = mid
        else:
            lo = mid + 1
    # subtle: take the last k whose J is still >= target, so a band's copies are all at least its similarity.
    best = lo if jaccard(base, shingles(make(lo))) >= target else lo - 1
    c = make(best)
    return c, jaccard(base, shingles(c))


documents = [text for text, _ in bases]  # positions 0 … B-1
planted = []  # (base position, target, actual J)
for i, (text, words) in enumerate(bases):
    target = TARGETS[i % len(TARGETS)]
    if target == 1.0:
        planted.append((i, target, 1.0, text))
    else:
        copy, actual = edit_to(words, target)
        planted.append((i, target, actual, " ".join(copy)))
rng.shuffle(planted)
copy_of = {}  # position of a planted copy → (base, target, actual J)
for base, target, actual, text in planted:
    copy_of[len(documents)] = (base, target, actual)
    documents.append(text)
work = Path(tempfile.mkdtemp(prefix="check-dedup-"))
corpus = work / "planted.jsonl"
with open(corpus, "w") as f:
    for i, text in enumerate(documents):
        f.write(json.dumps({"text": text, "id": i}) + "\n")
size = corpus.stat().st_size
print(f"corpus: {len(bases)} base documents + {len(planted)} planted copies ({per_band} per band), {size / 1e6:.1f} MB; seed {args.seed}")

# 2. tokenmill.
t0 = time.perf_counter()
subprocess.run([args.bin, "dedup", "--threads", "1", "--progress", "none", "-o", str(work / "kept.jsonl"),
                "--removed", str(work / "removed.jsonl"), "--work-dir", str(work), str(corpus)], check=True)
t_tokenmill = time.perf_counter() - t0
removed_tm = {json.loads(l)["position"] for l in open(work / "removed.jsonl")}

# 3. datatrove, same parameters, one process.
t0 = time.perf_counter()
config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1,
                       hash_config=HashConfig(precision=64, hash_fc="xxhash"))


def read_documents():
    with open(corpus) as f:
        for i, line in enumerate(f):
            yield Document(text=json.loads(line)["text"], id=str(i))


MinhashDedupSignature(output_folder=str(work / "sigs"), config=config, language=WhitespaceWords()).run(read_documents(), 0, 1)
for bucket in range(config.num_buckets):
    MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=config).run(None, bucket, config.num_buckets)
MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"), config=config).run(None, 0, 1)
kept_dt = {int(d.id) for d in MinhashDedupFilter(input_folder=str(work / "remove")).run(read_documents(), 0, 1)}
t_datatrove = time.perf_counter() - t0
removed_dt = set(range(len(documents))) - kept_dt

# 4. Recall per band, precision, agreement, throughput.
simplified = {}


def words_of(p):
    if p not in simplified:
        simplified[p] = shingles(simplify_text(documents[p]).split())
    return simplified[p]


def right(p):
    """Whether removing p is right: an earlier document has shingle Jaccard >= 0.5 with it."""
    if p in copy_of:
        return copy_of[p][2] >= 0.5
    return any(jaccard(words_of(p), words_of(q)) >= 0.5 for q in range(p))


print(f"{'similarity':>10} {'planted':>8} {'mean J':>7} {'LSH 1-(1-s^8)^14':>17} {'tokenmill recall':>17} {'datatrove recall':>17}")
failures = []
for target in TARGETS:
    ps = [p for p, (_, t, _) in copy_of.items() if t == target]
    mean_j = sum(copy_of[p][2] for p in ps) / len(ps)
    theory = 1 - (1 - mean_j ** 8) ** 14
    r_tm = sum(p in removed_tm for p in ps) / len(ps)
    r_dt = sum(p in removed_dt for p in ps) / len(ps)
    label = "exact" if target == 1.0 else f"{target:.2f}"
    print(f"{label:>10} {len(ps):>8} {mean_j:>7.3f} {theory:>17.3f} {r_tm:>17.3f} {r_dt:>17.3f}")
    if target >= 0.9 and r_tm < 0.98:
        failures.append(f"tokenmill recall {r_tm:.3f} at {label}")
def best_earlier(p):
    """The highest shingle Jaccard of p with an earlier document."""
    return max((jaccard(words_of(p), words_of(q)) for q in range(p)), default=0.0)


precision = {}
for name, removed in (("tokenmill", removed_tm), ("datatrove", removed_dt)):
    wrong = sorted(p for p in removed if not right(p))
    precision[name] = 1 - len(wrong) / max(1, len(removed))
    detail = ", ".join(f"{p} ({'copy' if p in copy_of else 'base'}, best earlier J {best_earlier(p):.3f})" for p in wrong[:5])
    print(f"{name}: removed {len(removed)}, precision {precision[name]:.4f} (removed documents with an earlier document of Jaccard >= 0.5)"
          + (f"; the others: {detail}" if wrong else ""))
union = removed_tm | removed_dt
agreement = len(removed_tm & removed_dt) / max(1, len(union))
# Two independent hash families catch a copy of similarity s each with probability q = 1-(1-s^8)^14, so
# near the threshold they disagree by chance: expected |A & B| = sum q^2, |A | B| = sum (2q - q^2).
qs = [1 - (1 - j ** 8) ** 14 for (_, _, j) in copy_of.values()]
expected = sum(q * q for q in qs) / sum(2 * q - q * q for q in qs)
high = [p for p, (_, t, _) in copy_of.items() if t >= 0.9]
high_agreement = sum((p in removed_tm) == (p in removed_dt) for p in high) / len(high)
print(f"agreement: {len(removed_tm & removed_dt)} removed by both, {len(removed_tm - removed_dt)} only by tokenmill, "
      f"{len(removed_dt - removed_tm)} only by datatrove; Jaccard of the removed sets {agreement:.3f} "
      f"(expected {expected:.3f} for two independent hash families); same decision on {high_agreement:.1%} of the copies at >= 0.9")
print(f"throughput (one process, one thread each, {size / 1e6:.1f} MB): tokenmill {t_tokenmill:.2f} s ({size / 1e6 / t_tokenmill:.1f} MB/s), "
      f"datatrove {t_datatrove:.2f} s ({size / 1e6 / t_datatrove:.2f} MB/s): tokenmill {t_datatrove / t_tokenmill:.1f}x")
if precision["tokenmill"] < 0.98:
    failures.append(f"tokenmill precision {precision['tokenmill']:.4f}")
if high_agreement < 0.98:
    failures.append(f"agreement {high_agreement:.3f} at >= 0.9")
subprocess.run(["rm", "-rf", str(work)])
if failures:
    print("check-dedup: FAILED: " + "; ".join(failures))
    sys.exit(1)
print("check-dedup: passed")
