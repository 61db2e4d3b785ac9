"""Kill anywhere, lose nothing, at scale (see tools/check-kill-scale).

For each long stage of tools/bench-scale (normalize, train-tokenizer, tokenize, pack, prepare) on a scale
corpus: the stage's outputs of an undisturbed run (the reference) are moved aside, the same command line
is started in the same directory and SIGKILLed at a seeded random moment of its reference duration, and
then
  - every file left under an output name must be byte-identical to the reference's (complete or absent:
    no half file under a final name),
  - the stage is rerun (tokenize: continued with --resume, killed a second time during that, and continued
    again), and its outputs must be byte-identical to the reference's (cmp),
  - nothing the killed run left may remain: no hidden temporary, partial or lock file in the output
    directory, no scratch directory there or in the temporary directory.
The reference outputs are restored afterwards whatever happens.
"""

import argparse
import fnmatch
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_scale  # noqa: E402

KILLED = ["normalize", "train-tokenizer", "tokenize", "pack", "prepare"]


def outputs(d, globs):
    """Names of the files in D that match one of GLOBS (non-hidden)."""
    return sorted(n for n in os.listdir(d) if not n.startswith(".") and any(fnmatch.fnmatch(n, g) for g in globs)
                  and os.path.isfile(os.path.join(d, n)))


def hidden(d):
    return sorted(n for n in os.listdir(d) if n.startswith("."))


def scratch_in_tmp():
    t = tempfile.gettempdir()
    return sorted(n for n in os.listdir(t) if n.startswith(".tokenmill-"))


def same(a, b):
    return subprocess.run(["cmp", "-s", a, b]).returncode == 0


def reference_wall(ref, name):
    """The stage's wall time from the /usr/bin/time -v record tools/bench-scale left (NAME.log.time)."""
    try:
        text = open(os.path.join(ref, name + ".log.time")).read()
    except OSError:
        return None
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    if not m:
        return None
    parts = [float(x) for x in m.group(1).split(":")]
    return sum(v * 60 ** i for i, v in enumerate(reversed(parts)))


def start(cmd, log, stdout):
    return subprocess.Popen(cmd, stdout=open(stdout, "wb") if stdout else subprocess.DEVNULL, stderr=open(log, "ab"))


def kill_after(p, seconds):
    """SIGKILLs P after SECONDS; returns whether it was still running then."""
    try:
        p.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", nargs="?", help="the scale corpus directory (tools/build-scale-corpus)")
    ap.add_argument("--small", action="store_true", help="as tools/test runs it: a 24 MB corpus of 3 files "
                    "(tools/build-scale-corpus 24M) in a temporary directory, its own reference, tokenize "
                    "checkpointing every batch so that --resume continues a journal; about 20 s")
    ap.add_argument("--reference", help="a directory tools/bench-scale --keep left for this corpus (its outputs are the "
                    "reference); default: run every stage once into --work first")
    ap.add_argument("--work", help="where the reference goes when there is none (default: beside the corpus)")
    ap.add_argument("--threads", type=int, default=2, help="as the reference was run (tools/bench-scale --threads)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stages", default=",".join(KILLED))
    a = ap.parse_args()
    tm = os.environ.get("TOKENMILL") or os.path.join(bench_scale.ROOT, ".build", "release", "tokenmill")
    scratch = None
    if a.small:
        scratch = tempfile.mkdtemp(prefix="check-kill-scale.")
        a.corpus, a.work, a.reference = os.path.join(scratch, "24M"), os.path.join(scratch, "ref"), None
        subprocess.run([os.path.join(bench_scale.ROOT, "tools", "build-scale-corpus"), "24M", "--files", "3", "--out", a.corpus],
                       check=True, stdout=subprocess.DEVNULL)
    elif not a.corpus:
        ap.error("give a CORPUS directory, or --small")
    try:
        check(a, tm)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def commands(a, tm, files, ref):
    """bench-scale's stages, by name; with --small, tokenize checkpoints every batch."""
    stages = {s[0]: s for s in bench_scale.stage_commands(tm, files, ref, ref, a.threads)}
    if a.small:
        name, cmd, stdout, globs = stages["tokenize"]
        stages["tokenize"] = (name, cmd + ["--checkpoint-every", "1"], stdout, globs)
    return stages


def check(a, tm):
    files = bench_scale.corpus_files(a.corpus)
    ref = a.reference
    if not ref:
        ref = a.work or tempfile.mkdtemp(prefix="kill-scale.", dir=os.path.dirname(os.path.abspath(a.corpus)))
        os.makedirs(ref, exist_ok=True)
        for name, cmd, stdout, _ in commands(a, tm, files, ref).values():
            bench_scale.timed(cmd, os.path.join(ref, name + ".log"), stdout=stdout)
            print(f"reference {name}: {reference_wall(ref, name):.1f} s", file=sys.stderr, flush=True)
    ref = os.path.abspath(ref)
    saved = ref.rstrip("/") + ".saved"
    stages = commands(a, tm, files, ref)
    rng = random.Random(a.seed)
    failures = []
    rows = []
    before_hidden, before_tmp = hidden(ref), scratch_in_tmp()
    for name in a.stages.split(","):
        _, cmd, stdout, globs = stages[name]
        names = outputs(ref, globs)
        wall = reference_wall(ref, name)
        if not names or wall is None:
            sys.exit(f"check-kill-scale: {ref} holds no reference outputs ({' '.join(globs)}) or {name}.log.time of {name}")
        log = os.path.join(ref, name + ".kill.log")
        open(log, "wb").close()
        os.makedirs(saved, exist_ok=True)
        for n in names:
            os.rename(os.path.join(ref, n), os.path.join(saved, n))
        problems = []
        try:
            at = rng.uniform(0.05, 0.95) * wall
            t0 = time.monotonic()
            killed = kill_after(start(cmd, log, stdout), at)
            def check_final_names(when):
                for n in outputs(ref, globs):
                    if n not in names or not same(os.path.join(ref, n), os.path.join(saved, n)):
                        problems.append(f"{when}: {n} under its final name is not the reference's bytes")
            check_final_names("after the kill")
            complete = len(outputs(ref, globs))
            left = [h for h in hidden(ref) if h not in before_hidden]
            note = f"killed at {at:.0f} s of {wall:.0f} s" if killed else f"finished before the kill at {at:.0f} s"
            note += f"; then {complete} of {len(names)} outputs complete, the rest absent; hidden left: {len(left)}"
            rerun = cmd + (["--resume"] if name == "tokenize" else [])
            if name == "tokenize":
                at2 = rng.uniform(0.05, 0.5) * wall
                again = kill_after(start(rerun, log, stdout), at2)
                check_final_names("after the second kill")
                if again:
                    note += f"; --resume killed again at {at2:.0f} s"
            t1 = time.monotonic()
            r = subprocess.run(rerun, stdout=open(stdout, "wb") if stdout else subprocess.DEVNULL, stderr=open(log, "ab"))
            took = time.monotonic() - t1
            if r.returncode != 0:
                problems.append(f"{' '.join(rerun[1:3])}… exit {r.returncode} (see {log})")
            got = outputs(ref, globs)
            if got != names:
                problems.append(f"outputs {got} != reference {names}")
            differ = [n for n in names if n in got and not same(os.path.join(ref, n), os.path.join(saved, n))]
            if differ:
                problems.append(f"differ from the reference: {differ}")
            stale = [h for h in hidden(ref) if h not in before_hidden] + [t for t in scratch_in_tmp() if t not in before_tmp]
            if stale:
                problems.append(f"left behind after the rerun: {stale}")
            verb = "resumed" if name == "tokenize" else "rerun"
            note += f"; {verb} in {took:.0f} s: " + ("identical (cmp), nothing left behind" if not problems else "FAILED")
            rows.append((name, note))
            print(f"{name}: {note}", file=sys.stderr, flush=True)
        finally:
            # Whatever happened, the reference goes back under its names.
            for n in names:
                if os.path.exists(os.path.join(saved, n)):
                    os.replace(os.path.join(saved, n), os.path.join(ref, n))
            for extra in outputs(ref, globs):
                if extra not in names:
                    os.remove(os.path.join(ref, extra))
        failures += [f"{name}: {p}" for p in problems]
    if os.path.isdir(saved):
        shutil.rmtree(saved, ignore_errors=True)
    size = sum(os.path.getsize(f) for f in files)
    print(f"kill anywhere on {a.corpus} ({size / 1e9:.2f} GB compressed, {len(files)} files), seed {a.seed}:")
    for name, note in rows:
        print(f"  {name}: {note}")
    for f in failures:
        print(f"  FAIL {f}")
    print(f"check-kill-scale: {len(rows) - len({f.split(':')[0] for f in failures})} stages passed, "
          f"{len({f.split(':')[0] for f in failures})} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
