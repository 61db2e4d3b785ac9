"""See tools/check-faults."""
import hashlib, json, os, random, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
binary = str(Path(os.environ.get("TOKENMILL", root / ".build/release/tokenmill")))
small = "--small" in sys.argv[1:]
corpus = root / "corpora/test.jsonl.zst"
# Seeds per (fault, command): a few in --small, many in the full run.
KILLS = 3 if small else 20
FULLS = 3 if small else 16
FLIPS = 2 if small else 12
STEPS = 4  # training steps of the tiny runs
KILL_STEPS = 40  # steps of the train run that is killed (a checkpoint every 4)


def run(args, **kw):
    return subprocess.run([binary] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", **kw)


def snapshot(path):
    """{relative path: bytes} of a file or of every file under a directory."""
    p = Path(path)
    if p.is_file():
        return {p.name: p.read_bytes()}
    return {str(f.relative_to(p)): f.read_bytes() for f in sorted(p.rglob("*")) if f.is_file()}


def clean(d):
    shutil.rmtree(d, ignore_errors=True)
    Path(d).mkdir(parents=True)


def hidden_files(d):
    return [str(f.relative_to(d)) for f in Path(d).rglob("*") if f.name.startswith(".")]


work = Path(tempfile.mkdtemp(prefix="check-faults-"))
tok = work / "tok.json"
data = work / "data"
refrun = work / "run"
big = work / "big.jsonl.zst"


def setup():
    # Three copies of the corpus as three zstd frames (2.3 MB, three ~1 MiB input batches), so that a
    # killed tokenize --checkpoint-every 1 leaves checkpoints part way.
    big.write_bytes(corpus.read_bytes() * 3)
    for args in (["train-tokenizer", "--vocab-size", 512, "--special-tokens", "<|endoftext|>", "-o", tok, corpus],
                 ["tokenize", "--progress", "none", "--tokenizer", tok, "-o", data, corpus],
                 # Two input files for two shards: each shard tokenizes whole files.
                 ["tokenize", "--progress", "none", "--tokenizer", tok, "--shard", "0/2", "-o", work / "shard0", corpus, corpus],
                 ["tokenize", "--progress", "none", "--tokenizer", tok, "--shard", "1/2", "-o", work / "shard1", corpus, corpus],
                 ["train", "--config", "tiny", "--vocab-size", 512, "--data", data, "--out", refrun, "--steps", STEPS,
                  "--progress", "none"]):
        r = run(args)
        if r.returncode != 0:
            sys.exit(f"check-faults: setup failed: {' '.join(map(str, args))}\n{r.stderr}")
    # The tiny preset with a checkpoint every 4 steps, so that kills during train leave checkpoints to resume.
    cfg = json.loads((refrun / "checkpoint/tokenmill.json").read_text())
    cfg["training"]["checkpoint_every"] = 4
    (work / "tiny-ckpt4.json").write_text(json.dumps(cfg))


# The commands that write: argv given the output directory D, and the outputs (files or directories under
# D) whose bytes must equal the undisturbed run's. `rerun` is the command that continues after a kill.
def cmd_normalize(d):
    return ["normalize", "--progress", "none", "-o", d / "out.jsonl.zst", corpus]


def cmd_tokenize(d):
    return ["tokenize", "--progress", "none", "--tokenizer", tok, "--checkpoint-every", 1, "-o", d / "data", big]


def cmd_pack(d):
    return ["pack", "--progress", "none", "--seq-len", 64, "-o", d / "packed", data]


def cmd_train(d):
    return ["train", "--config", work / "tiny-ckpt4.json", "--data", data, "--out", d / "run", "--steps", KILL_STEPS,
            "--progress", "none"]


def cmd_export(d):
    return ["export-hf", refrun, "-o", d / "hf"]


COMMANDS = {
    "normalize": (cmd_normalize, ["out.jsonl.zst", "out.jsonl.zst.tokenmill.json"]),
    "tokenize": (cmd_tokenize, ["data.bin", "data.idx", "data.json"]),
    "pack": (cmd_pack, ["packed.bin", "packed.idx", "packed.json"]),
    # metrics.jsonl holds timings; the checkpoint is what must be identical.
    "train": (cmd_train, ["run/checkpoint"]),
    "export-hf": (cmd_export, ["hf"]),
}


def outputs(d, names):
    got = {}
    for n in names:
        p = d / n
        if p.exists():
            got.update({f"{n}/{k}" if p.is_dir() else n: v for k, v in snapshot(p).items()})
    return got


def half_files(d, names, ref):
    """Files under a final output name that are not the complete reference bytes."""
    got = outputs(d, names)
    return [k for k, v in got.items() if ref.get(k) != v]


def inconsistent_checkpoint(ckpt):
    if not ckpt.exists():
        return []
    state = ckpt / "state.json"
    if not state.exists():
        return [f"{ckpt}: files without state.json: {sorted(p.name for p in ckpt.iterdir())}"]
    files = json.loads(state.read_text())["files"]
    return [f"checkpoint/{n}" for n, h in files.items()
            if not (ckpt / n).exists() or hashlib.sha256((ckpt / n).read_bytes()).hexdigest() != h]


results = []  # (fault, command, trials, survived, detected or None, failures, notes)
problems = []


def record(fault, command, trials, survived, detected, failed, note=""):
    results.append((fault, command, trials, survived, detected, failed, note))


def references():
    refs, durations = {}, {}
    for name, (cmd, names) in COMMANDS.items():
        d = work / "ref" / name
        clean(d)
        t = time.monotonic()
        r = run(cmd(d))
        durations[name] = time.monotonic() - t
        if r.returncode != 0:
            sys.exit(f"check-faults: reference {name} failed:\n{r.stderr}")
        refs[name] = outputs(d, names)
    return refs, durations


def rerun_after_kill(name, d, seed):
    cmd, _ = COMMANDS[name]
    args = cmd(d)
    if name == "tokenize" and seed % 2:  # odd seeds continue with --resume, even ones rerun from scratch
        args = args + ["--resume"]
    if name == "train" and (d / "run/checkpoint/state.json").exists():
        args = args + ["--resume"]
    return run(args)


def fault_kill(refs, durations):
    for name, (cmd, names) in COMMANDS.items():
        survived = failed = 0
        leftovers = live = resumed = 0
        for seed in range(KILLS):
            rng = random.Random(f"kill-{name}-{seed}")
            d = work / "kill" / name
            clean(d)
            p = subprocess.Popen([binary] + [str(a) for a in cmd(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Uniform over the run; for train every other seed over its last 40%, where the steps and
            # checkpoints are (the start measures sgemm and loads the data).
            lo = 0.6 if name == "train" and seed % 2 else 0.0
            time.sleep(rng.uniform(lo * durations[name], durations[name] * 1.1))
            live += p.poll() is None
            p.send_signal(signal.SIGKILL)
            p.wait()
            ok = True
            if name == "train":
                # A killed run keeps the checkpoint of an earlier step: it must be complete (every file's
                # SHA-256 as its state.json records) and load (bpb --run on it).
                half = inconsistent_checkpoint(d / "run/checkpoint")
                if not half and (d / "run/checkpoint/state.json").exists():
                    b = run(["bpb", "--run", d / "run", "--tokenizer", tok, "--max-docs", 2, "--progress", "none", corpus])
                    if b.returncode != 0:
                        half = [f"bpb --run on the killed run's checkpoint: exit {b.returncode}: {b.stderr.strip()[-200:]}"]
            else:
                half = half_files(d, names, refs[name])
            if half:
                ok = False
                problems.append(f"kill {name} seed {seed}: half file under the final name: {half}")
            resumed += name == "tokenize" and any(h.endswith(".partial") for h in hidden_files(d)) or \
                (name == "train" and (d / "run/checkpoint/state.json").exists())
            r = rerun_after_kill(name, d, seed)
            got = outputs(d, names)
            if r.returncode != 0 or got != refs[name]:
                ok = False
                problems.append(f"kill {name} seed {seed}: rerun exit {r.returncode}, identical {got == refs[name]}: "
                                f"{r.stderr.strip()[-300:]}")
            if name == "train" and r.returncode == 0:
                b = run(["bpb", "--run", d / "run", "--tokenizer", tok, "--max-docs", 2, "--progress", "none", corpus])
                if b.returncode != 0:
                    ok = False
                    problems.append(f"kill train seed {seed}: bpb --run on the resumed run: exit {b.returncode}: "
                                    f"{b.stderr.strip()[-300:]}")
            # A SIGKILLed process cannot remove its `.NAME.tmp-PID`; the rerun (the next writer of the same
            # output, holding its lock) must have.
            stale = [h for h in hidden_files(d) if ".tmp-" in h]
            if stale:
                ok = False
                leftovers += len(stale)
                problems.append(f"kill {name} seed {seed}: the rerun left the killed run's temporaries: {stale}")
            survived += ok
            failed += not ok
        notes = [f"{live} killed while running"]
        if name in ("tokenize", "train"):
            notes.append(f"{resumed} left a checkpoint" +
                         (" (odd seeds --resume, even ones from scratch)" if name == "tokenize" else ""))
        if leftovers:
            notes.append(f"{leftovers} stale .tmp-PID left")
        record("SIGKILL", name, KILLS, survived, None, failed, ", ".join(notes))


def mount_tmpfs(d, kib):
    d.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(d)], capture_output=True, text=True)
    except OSError:
        return False
    return r.returncode == 0


def fault_disk_full(refs):
    probe = work / "full"
    if not mount_tmpfs(probe, 64):
        record("disk full", "all", 0, 0, None, 0, "mount -t tmpfs not permitted (needs root): skipped")
        return
    subprocess.run(["umount", str(probe)], capture_output=True)
    for name, (cmd, names) in COMMANDS.items():
        need = sum((len(v) + 4095) // 4096 * 4 for v in refs[name].values())  # KiB in 4 KiB pages
        survived = failed = full = 0
        for seed in range(FULLS):
            rng = random.Random(f"full-{name}-{seed}")
            # 4 KiB first, twice what the outputs need last (it must then succeed), random sizes between.
            kib = 4 if seed == 0 else 2 * need + 64 if seed == FULLS - 1 else rng.randrange(4, need + 4, 4)
            d = work / "full"
            if not mount_tmpfs(d, kib):
                failed += 1
                problems.append(f"disk full {name}: mount failed")
                continue
            try:
                r = run(cmd(d))
                ok = True
                if r.returncode == 0:
                    if outputs(d, names) != refs[name]:
                        ok = False
                        problems.append(f"disk full {name} {kib}k: exit 0 but outputs differ")
                else:
                    full += 1
                    lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
                    named = bool(lines) and (str(d) in lines[0] or any(Path(n).name.split(".")[0] in lines[0] for n in names))
                    if r.returncode != 1 or len(lines) != 1 or not named:
                        ok = False
                        problems.append(f"disk full {name} {kib}k: exit {r.returncode}, error lines {lines[:3]}")
                    half = half_files(d, names, refs[name])
                    hidden = hidden_files(d)
                    if half or hidden:
                        ok = False
                        problems.append(f"disk full {name} {kib}k: half files {half}, hidden temporaries {hidden}")
                survived += ok
                failed += not ok
            finally:
                subprocess.run(["umount", str(d)], capture_output=True)
        record("disk full", name, FULLS, survived, None, failed,
               f"tmpfs 4k to {2 * need + 64}k: {full} failed with exit 1, {FULLS - full} fit and completed")


def flip(path, rng):
    b = bytearray(path.read_bytes())
    i = rng.randrange(len(b))
    b[i] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(b))
    return i


def expect_detected(fault, command, trials):
    """trials: list of (CompletedProcess, flipped file name, seed). Detected = exit 1 with an error naming it."""
    detected = failed = 0
    for r, fname, seed in trials:
        lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
        if r.returncode == 1 and any(fname in l for l in lines):
            detected += 1
        else:
            failed += 1
            problems.append(f"{fault} × {command} seed {seed}: exit {r.returncode}, not detected naming {fname}: "
                            f"{r.stderr.strip()[-300:]}")
    record(fault, command, len(trials), detected, detected, failed)


def fault_flip_dataset():
    for ext in (".bin", ".idx"):
        per = {"inspect": [], "train": [], "merge": [], "pack": []}
        for seed in range(FLIPS):
            rng = random.Random(f"flip-dataset{ext}-{seed}")
            d = work / "flipds"
            clean(d)
            for e in (".bin", ".idx", ".json"):
                shutil.copy(work / ("shard0" + e), d / ("shard0" + e))
            flip(d / ("shard0" + ext), rng)
            fname = "shard0" + ext
            per["inspect"].append((run(["inspect", d / "shard0"]), fname, seed))
            per["train"].append((run(["train", "--config", "tiny", "--vocab-size", 512, "--data", d / "shard0", "--out",
                                      d / "run", "--steps", 1, "--progress", "none"]), fname, seed))
            per["merge"].append((run(["merge", "-o", d / "merged", d / "shard0", work / "shard1"]), fname, seed))
            per["pack"].append((run(["pack", "--seq-len", 64, "-o", d / "packed", d / "shard0"]), fname, seed))
        for c, trials in per.items():
            expect_detected(f"bit flip dataset {ext}", c, trials)


def fault_flip_checkpoint():
    for f in ("model.safetensors", "optimizer.safetensors"):
        per = {"train --resume": [], "export-hf": [], "bpb --run": []}
        for seed in range(FLIPS):
            rng = random.Random(f"flip-{f}-{seed}")
            d = work / "flipckpt"
            clean(d)
            shutil.copytree(refrun, d / "run")
            flip(d / "run/checkpoint" / f, rng)
            per["export-hf"].append((run(["export-hf", d / "run", "-o", d / "hf"]), f, seed))
            per["bpb --run"].append((run(["bpb", "--run", d / "run", "--tokenizer", tok, "--max-docs", 2, "--progress",
                                          "none", corpus]), f, seed))
            per["train --resume"].append((run(["train", "--config", "tiny", "--vocab-size", 512, "--data", data, "--out",
                                               d / "run", "--steps", STEPS + 1, "--resume", "--progress", "none"]), f, seed))
        for c, trials in per.items():
            expect_detected(f"bit flip checkpoint {f}", c, trials)


def fault_flip_zstd():
    """A flip in a .jsonl.zst: zstd's checksum (or the frame's structure) should catch it. Undetected flips
    (exit 0) are counted as 'not detected', not as failures; a crash or an error not naming the file fails."""
    for name in ("normalize", "tokenize"):
        cmd = {"normalize": lambda d, i: ["normalize", "--progress", "none", "-o", d / "out.jsonl.zst", i],
               "tokenize": lambda d, i: ["tokenize", "--progress", "none", "--tokenizer", tok, "-o", d / "data", i]}[name]
        detected = survived = failed = undetected = 0
        for seed in range(FLIPS):
            rng = random.Random(f"flip-zst-{name}-{seed}")
            d = work / "flipzst"
            clean(d)
            inp = d / "in.jsonl.zst"
            shutil.copy(corpus, inp)
            flip(inp, rng)
            r = run(cmd(d, inp))
            lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
            if r.returncode == 1 and any("in.jsonl.zst" in l for l in lines):
                detected += 1
                survived += 1
            elif r.returncode == 0:
                undetected += 1
                survived += 1
            else:
                failed += 1
                problems.append(f"bit flip .jsonl.zst × {name} seed {seed}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        record("bit flip .jsonl.zst input", name, FLIPS, survived, detected, failed,
               f"{undetected} not detected (exit 0)" if undetected else "")


def main():
    t0 = time.monotonic()
    try:
        setup()
        refs, durations = references()
        fault_kill(refs, durations)
        fault_disk_full(refs)
        fault_flip_dataset()
        fault_flip_checkpoint()
        fault_flip_zstd()
    finally:
        try:
            subprocess.run(["umount", str(work / "full")], capture_output=True)
        except OSError:
            pass
        shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print("FAIL", p, file=sys.stderr)
    head = ("fault", "command", "trials", "survived", "detected", "failed", "notes")
    rows = [head] + [(f, c, str(t), str(s), "-" if det is None else str(det), str(x), n) for f, c, t, s, det, x, n in results]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    for r in rows:
        print("| " + " | ".join(r[i].ljust(widths[i]) for i in range(len(head) - 1)) + " | " + r[-1] + " |")
        if r is head:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    passed = sum(1 for r in results if r[5] == 0)
    failed = sum(1 for r in results if r[5] != 0)
    print(f"({'--small, ' if small else ''}{sum(r[2] for r in results)} trials in {time.monotonic() - t0:.0f} s)")
    print(f"check-faults: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
