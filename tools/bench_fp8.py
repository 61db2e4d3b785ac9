"""FP8 training against FP32 on the demo's packed data (see tools/bench-fp8 for usage).

Trains the `small` preset three times from the same seed on the same rows for the same steps --
precision fp32, fp8 with fine-grained scaling, fp8 with per-tensor scaling -- each in its own process,
and compares validation loss (the trainer's fixed validation batches) at step STOP (default: the
schedule's end; a multiple of 50, the eval interval). With PARALLEL=1 the runs go at once, one thread
each (OpenBLAS too), which suits a 2-core machine better than one after the other. A run directory in
OUT that already reached STOP is reused. Speed and memory come from short runs, one after the other
with the default threads: TIMING_ROUNDS (default 2) rounds of TIMING_STEPS (default 8) steps of each
variant in turn, tokens/s over the logged windows after the first (mean over the rounds), activation
memory from metrics.jsonl, peak RSS from wait4.
Then runs the accumulation experiment (`tokenmill fp8-gemm-error`, K = 4096) and prints Markdown
tables; the raw figures go to OUT/bench-fp8.json.
"""
import json
import os
import subprocess
import sys
import time


def small_config(steps, vocab, precision, scaling):
    # The `small` preset (Sources/Training/ModelConfig.swift) with the demo's vocabulary, a schedule of
    # exactly `steps` steps, and more validation batches than the preset's 4 (a steadier estimate).
    model = {"vocab_size": vocab, "hidden_size": 256, "num_hidden_layers": 4, "first_k_dense_replace": 1,
             "intermediate_size": 1024, "moe_intermediate_size": 256, "n_shared_experts": 1, "n_routed_experts": 16,
             "num_experts_per_tok": 4, "num_attention_heads": 4, "q_lora_rank": 0, "kv_lora_rank": 128,
             "qk_nope_head_dim": 64, "qk_rope_head_dim": 32, "v_head_dim": 64, "max_position_embeddings": 512,
             "bias_update_speed": 0.01, "aux_loss_alpha": 0.03}
    training = {"sequence_length": 512, "micro_batch_size": 4, "gradient_accumulation": 1, "learning_rate": 2e-3,
                "min_learning_rate": 2e-4, "warmup_steps": 30, "steps": steps, "embedding_lr_scale": 200,
                "head_lr_scale": 3, "router_lr_scale": 0.1, "log_every": 10, "checkpoint_every": 1000000,
                "eval_every": 50, "eval_batches": 8, "precision": precision, "fp8_scaling": scaling}
    return {"model": model, "training": training}


def start(tm, args, log, env=None):
    return subprocess.Popen([tm] + args, stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env), time.time(), log


def finish(job):
    p, started, log = job
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"bench-fp8: {' '.join(p.args)} failed (see {log})")
    return time.time() - started, usage.ru_maxrss * 1024


def train_args(config, demo, run_dir, steps):
    return ["train", "--config", config, "--data", os.path.join(demo, "train.packed"), "--out", run_dir,
            "--steps", str(steps), "--progress", "none"]


def main():
    tm, demo, out, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    variants = sys.argv[5].split(",") if len(sys.argv) > 5 else ["fp32", "fp8-fine-grained", "fp8-per-tensor"]
    stop = int(os.environ.get("STOP", steps))
    parallel = os.environ.get("PARALLEL") == "1"
    timing_steps = int(os.environ.get("TIMING_STEPS", "8"))
    os.makedirs(out, exist_ok=True)
    vocab = json.load(open(os.path.join(demo, "train.packed.json")))["tokenizer"]["vocabulary_size"]

    def setting(name):
        return ("fp32", "fine-grained") if name == "fp32" else ("fp8", name[len("fp8-"):])

    def validation(name):
        # The validation loss at step `stop` (eval_every divides it), or None when the run has not got there.
        path = os.path.join(out, "run-" + name, "metrics.jsonl")
        if not os.path.exists(path):
            return None
        vals = {l["step"]: l["val_loss"] for l in map(json.loads, open(path)) if "val_loss" in l}
        return vals.get(stop)

    # 1. Loss: every variant from the same seed, on the same rows, with the cosine schedule of `steps`,
    #    compared at step `stop`. A run directory that already reached `stop` is reused.
    jobs = {}
    for name in variants:
        if validation(name) is not None:
            print(f"bench-fp8: {name}: reusing {out}/run-{name} (validation at step {stop})", file=sys.stderr, flush=True)
            continue
        config = os.path.join(out, name + ".json")
        json.dump(small_config(steps, vocab, *setting(name)), open(config, "w"), indent=1)
        run_dir = os.path.join(out, "run-" + name)
        subprocess.run(["rm", "-rf", run_dir], check=True)
        print(f"bench-fp8: training {name} to step {stop} of a {steps}-step schedule", file=sys.stderr, flush=True)
        args = train_args(config, demo, run_dir, stop)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1") if parallel else None
        jobs[name] = start(tm, args + ["--threads", "1"] if parallel else args, os.path.join(out, name + ".log"), env)
        if not parallel:
            finish(jobs.pop(name))
    for job in jobs.values():
        finish(job)
    results = {}
    for name in variants:
        lines = [json.loads(l) for l in open(os.path.join(out, "run-" + name, "metrics.jsonl"))]
        logged = [l for l in lines if "loss" in l and l["step"] <= stop]
        results[name] = {
            "validation_loss": validation(name),
            "validation_curve": [[l["step"], l["val_loss"]] for l in lines if "val_loss" in l],
            "train_loss_at_stop": logged[-1]["loss_main"], "fp8_stats_at_stop": logged[-1].get("fp8"),
            "fp8_stats": [[l["step"], l["fp8"]] for l in logged if "fp8" in l],
        }
    # 2. Speed and memory: a short run of each, one after the other with the default threads (log every
    #    2 steps; the first window is warm-up). Peak RSS is set by the allocations made at start.
    rounds = int(os.environ.get("TIMING_ROUNDS", "2"))
    speeds = {name: [] for name in variants}
    for round_ in range(rounds):   # the variants alternate, so a change in the machine's load hits all of them
        for name in variants:
            path = os.path.join(out, name + "-timing.json")
            config = small_config(steps, vocab, *setting(name))
            config["training"].update({"log_every": 2, "eval_every": 1000000})
            json.dump(config, open(path, "w"))
            run_dir = os.path.join(out, "timing-" + name)
            subprocess.run(["rm", "-rf", run_dir], check=True)
            seconds, rss = finish(start(tm, train_args(path, demo, run_dir, timing_steps), os.path.join(out, name + "-timing.log")))
            logged = [l for l in map(json.loads, open(os.path.join(run_dir, "metrics.jsonl"))) if "tokens_per_s" in l]
            windows = logged[1:] or logged
            speeds[name].append(sum(l["tokens_per_s"] for l in windows) / len(windows))
            results[name].update({
                "tokens_per_s": sum(speeds[name]) / len(speeds[name]), "tokens_per_s_rounds": speeds[name], "peak_rss_bytes": rss,
                "activation_bytes": logged[-1]["activation_bytes"], "kept_activation_bytes": logged[-1]["kept_activation_bytes"],
                "fp8_scratch_bytes": logged[-1]["fp8_scratch_bytes"],
            })
            print(f"bench-fp8: {name}: {speeds[name][-1]:.0f} tokens/s (round {round_ + 1})", file=sys.stderr, flush=True)
    # 3. The accumulation experiment.
    accumulation = {}
    for dist in ["uniform", "normal"]:
        r = subprocess.run([tm, "fp8-gemm-error", "--k", "4096", "--size", "64", "--distribution", dist],
                           check=True, capture_output=True, text=True)
        accumulation[dist] = json.loads(r.stdout)
    json.dump({"schedule_steps": steps, "compared_at_step": stop, "parallel": parallel, "timing_steps": timing_steps,
               "runs": results, "accumulation": accumulation}, open(os.path.join(out, "bench-fp8.json"), "w"), indent=1)
    base = results.get("fp32", {}).get("validation_loss")
    print(f"validation loss at step {stop} (cosine schedule of {steps} steps); tokens/s: mean of {rounds} alternating runs of {timing_steps} steps")
    print()
    print("| run | validation loss | gap vs fp32 | tokens/s | kept activations | arenas + FP8 scratch | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        gap = "" if not base or name == "fp32" else f"{100 * (r['validation_loss'] - base) / base:+.2f}%"
        print(f"| {name} | {r['validation_loss']:.4f} | {gap} | {r['tokens_per_s']:.0f} | {r['kept_activation_bytes'] / 2**20:.0f} MiB | "
              f"{(r['activation_bytes'] + r['fp8_scratch_bytes']) / 2**20:.0f} MiB | {r['peak_rss_bytes'] / 2**20:.0f} MiB |")
    print()
    print("| inputs (K = 4096, 64×64 outputs) | fp8_accumulation | max relative error | Frobenius relative error |")
    print("|---|---|---|---|")
    for dist, r in accumulation.items():
        for s in ["fp32", "limited"]:
            print(f"| {dist} | {s} | {100 * r[s]['max_relative_error']:.4f}% | {100 * r[s]['frobenius_relative_error']:.4f}% |")


if __name__ == "__main__":
    main()
