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

# Megatron-LM's training dataset (GPTDataset, built by BlendedMegatronDatasetBuilder as pretrain_gpt.py
# builds it) over TokenMill's packed rows, with the arguments `tokenmill megatron-args` prints.
import torch
import torch.nn.functional as F
from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
from megatron.core.tokenizers import MegatronTokenizer
from megatron.core.transformer.transformer_config import MLATransformerConfig
import dataclasses


def report(ok, line):
    global passed, failed
    print(f"{'ok  ' if ok else 'FAIL'} {line}", file=sys.stderr)
    passed += bool(ok)
    failed += not ok


def tokenmill_rows(prefix):
    """TokenMill's rows of a pack: (tokens, piece starts, real length) per row, from its .idx."""
    ds = IndexedDataset(prefix)
    di = ds.document_indices
    rows = []
    for r in range(len(di) - 1):
        parts = [ds[i] for i in range(di[r], di[r + 1])]
        starts = np.cumsum([0] + [len(p) for p in parts[:-1]]).tolist()
        rows.append((np.concatenate(parts).astype(np.int64), starts[1:-1], starts[-1]))
    return rows


def tokenmill_segments(x, eod, real, piece_starts):
    """Model.describeRow for one whole row (T = L), ported: segment start and counted main target per position."""
    L = len(x)
    ps = set(piece_starts)
    is_eod = lambda p: p < real and x[p] == eod
    hard = lambda p: p >= 1 and (p == real or (p in ps and p < real and x[p - 1] != eod))
    limit, bound = [0] * L, real - 1
    for p in range(L - 1, -1, -1):
        limit[p] = -1 if p >= real else bound
        if hard(p):
            bound = min(real - 1, p - 1)
        elif is_eod(p):
            bound = min(real - 1, p)
    start, s = [0] * L, 0
    for t in range(L):
        if t == 0 or is_eod(t) or hard(t):
            s = t
        start[t] = s
    return np.array(start), np.array([t + 1 <= limit[t] for t in range(L)])


def megatron_args(*opts):
    out = subprocess.run([str(binary), "megatron-args", "--json", *opts], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def gpt_dataset(a, tokenizer, cache, **extra):
    """GPTDataset's train split as pretrain_gpt.py builds it from the arguments `a` (seed 1234, one epoch)."""
    config = GPTDatasetConfig(random_seed=1234, sequence_length=a["seq_length"], blend=(a["data_path"], None), split=a["split"],
                              tokenizer=tokenizer, reset_position_ids=a["reset_position_ids"],
                              reset_attention_mask=a["reset_attention_mask"], eod_mask_loss=a["eod_mask_loss"],
                              path_to_cache=cache, **extra)
    return BlendedMegatronDatasetBuilder(GPTDataset, [None, None, None], lambda: True, config).build()[0]


def check_samples(name, ds, rows, eod, L):
    """Every sample of `ds` against TokenMill's rows: tokens, the look-ahead label, positions, attention, loss."""
    n = len(ds)
    order = [int(ds.document_index[ds.shuffle_index[k]]) for k in range(n)]
    # sample i starts at token i·L of Megatron's row order: entry (i, 0), or (i - 1, L) when the index ends the previous row.
    aligned = all(int(ds.sample_index[i][0]) * L + int(ds.sample_index[i][1]) == i * L for i in range(n))
    tokens_ok = labels_ok = lookahead_ok = positions_ok = attention_ok = loss_ok = 0
    both = tm_only = mg_only = 0
    start_differs = 0
    for k in range(n):
        s = ds[k]
        idx = int(ds.shuffle_index[k])
        x, pieces, real = rows[order[k]]
        tokens, labels = s["tokens"].numpy(), s["labels"].numpy()
        tokens_ok += np.array_equal(tokens, x)
        labels_ok += np.array_equal(labels[:-1], x[1:])
        extra = ds.config.add_extra_token_to_sequence
        next_first = rows[int(ds.document_index[idx + 1])][0][0] if extra else None
        # The last label: the next row's first token (add_extra_token_to_sequence), else padding (masked).
        lookahead_ok += (labels[-1] == next_first) if extra else (s["loss_mask"][-1] == 0)
        # Megatron: a segment starts at 0 and after every EOD; positions count from there; attention sees the segment.
        mg_start = np.maximum.accumulate(np.where(np.r_[True, x[:-1] == eod], np.arange(L), 0))
        positions_ok += np.array_equal(s["position_ids"].numpy(), np.arange(L) - mg_start)
        allowed = ~s["attention_mask"][0].numpy()
        j = np.arange(L)
        attention_ok += np.array_equal(allowed, (j[None, :] <= j[:, None]) & (j[None, :] >= mg_start[:, None]))
        tm_start, tm_loss = tokenmill_segments(x, eod, real, pieces)
        # TokenMill starts a segment at the EOD, Megatron right after it: every other start must agree.
        differ = tm_start != mg_start
        start_differs += int(differ.sum())
        shifted = np.all((tm_start[differ] + 1 == mg_start[differ]) | (x[tm_start[differ]] == eod) | (j[differ] >= real))
        mg_loss = s["loss_mask"].numpy() > 0
        # Megatron masks the target after an EOD input (eod_mask_loss); TokenMill counts the first token of
        # the next document there (EOD is its BOS). Megatron counts the look-ahead label; TokenMill has none.
        mg_loss_main = mg_loss[:-1]
        tm_loss_main = tm_loss[:-1]
        only_tm = tm_loss_main & ~mg_loss_main
        only_mg = mg_loss_main & ~tm_loss_main
        loss_ok += shifted and np.all(x[:-1][only_tm] == eod) and not only_mg.any()
        both += int((tm_loss_main & mg_loss_main).sum())
        tm_only += int(only_tm.sum())
        mg_only += int(mg_loss[-1])
    covered = sorted(order) == sorted(set(range(len(rows))) - ({int(ds.document_index[n])} if n < len(rows) else set()))
    report(aligned and covered and tokens_ok == labels_ok == n,
           f"{name}: {n} samples of {len(rows)} rows; sample i = row document_index[shuffle_index[i]] at offset 0: {aligned}; "
           f"tokens equal that TokenMill row: {tokens_ok}/{n}, labels its next tokens: {labels_ok}/{n}; rows covered once each: {covered}")
    what = "the next row's first token (Megatron's order)" if ds.config.add_extra_token_to_sequence else "padding, loss-masked"
    report(lookahead_ok == n, f"{name}: the last label of every sample is {what}: {lookahead_ok}/{n}")
    report(positions_ok == attention_ok == loss_ok == n,
           f"{name}: position_ids restart after each EOD: {positions_ok}/{n}; attention blocks end at each EOD: {attention_ok}/{n}; "
           f"TokenMill's segments start at the EOD instead ({start_differs} positions differ, all by that shift or in padding), "
           f"loss differs only there: {loss_ok}/{n} (main targets counted by both {both}, by TokenMill only {tm_only} "
           f"(first token after an in-row EOD), by Megatron only {mg_only} (look-ahead labels))")
    return n


def check_model_args(name, a, model):
    """`a` (megatron-args --json) builds an MLATransformerConfig; with `model` (TokenMill's config), each value matches."""
    fields = {f.name for f in dataclasses.fields(MLATransformerConfig)}
    kw = {k: v for k, v in a.items() if k in fields}
    # The renames of Megatron-LM's core_transformer_config_from_args.
    kw.update(layernorm_epsilon=a["norm_epsilon"], num_moe_experts=a["num_experts"])
    if a.get("swiglu"):
        kw.update(gated_linear_unit=True, activation_func=F.silu)
    try:
        c = MLATransformerConfig(**kw)
        accepted, why = True, ""
    except Exception as e:
        accepted, why = False, f" ({type(e).__name__}: {e})"
    if model is None:
        report(accepted, f"{name}: MLATransformerConfig accepts the {len(kw)} fields{why}")
        return
    m = model
    layers = m["num_hidden_layers"]
    want = {
        "num_layers": layers, "hidden_size": m["hidden_size"], "ffn_hidden_size": m["intermediate_size"],
        "num_attention_heads": m["num_attention_heads"], "padded_vocab_size": m["vocab_size"],
        "max_position_embeddings": m["max_position_embeddings"], "rotary_base": m["rope_theta"],
        "layernorm_epsilon": m["rms_norm_eps"], "init_method_std": m["initializer_range"],
        "q_lora_rank": m["q_lora_rank"] or None, "kv_lora_rank": m["kv_lora_rank"], "qk_head_dim": m["qk_nope_head_dim"],
        "qk_pos_emb_head_dim": m["qk_rope_head_dim"], "v_head_dim": m["v_head_dim"],
        "num_moe_experts": m["n_routed_experts"], "moe_router_topk": m["num_experts_per_tok"],
        "moe_layer_freq": [0] * m["first_k_dense_replace"] + [1] * (layers - m["first_k_dense_replace"]),
        "moe_ffn_hidden_size": m["moe_intermediate_size"],
        "moe_shared_expert_intermediate_size": m["n_shared_experts"] * m["moe_intermediate_size"],
        "moe_router_topk_scaling_factor": m["routed_scaling_factor"], "moe_router_bias_update_rate": m["bias_update_speed"],
        "moe_aux_loss_coeff": m["aux_loss_alpha"], "mtp_num_layers": m["num_nextn_predict_layers"] or None,
        "mtp_loss_scaling_factor": m["mtp_loss_weight"] if m["num_nextn_predict_layers"] else None,
        "multi_latent_attention": True, "normalization": "RMSNorm", "gated_linear_unit": True, "add_bias_linear": False,
        "rope_type": "rope", "qk_layernorm": True, "moe_router_score_function": "sigmoid",
        "moe_router_enable_expert_bias": True, "moe_router_load_balancing_type": "seq_aux_loss",
    }
    got = {k: getattr(c, k) if accepted and hasattr(c, k) else a.get(k) for k in want}
    got["padded_vocab_size"], got["max_position_embeddings"] = a["padded_vocab_size"], a["max_position_embeddings"]
    got["rotary_base"] = getattr(c, "rotary_base", None) if accepted else None
    if accepted:
        got["moe_aux_loss_coeff"] = c.moe_aux_loss_coeff
    wrong = [f"{k}: Megatron {got[k]!r}, TokenMill {v!r}" for k, v in want.items() if got[k] != v and not
             (isinstance(v, float) and isinstance(got[k], (int, float)) and abs(got[k] - v) <= 1e-12 * abs(v))]
    report(accepted and not wrong, f"{name}: MLATransformerConfig accepts the {len(kw)} fields{why}; "
           f"{len(want) - len(wrong)}/{len(want)} values equal TokenMill's model config" + (f"; differ: {'; '.join(wrong)}" if wrong else ""))


with tempfile.TemporaryDirectory() as tmp:
    name, eod_token = "pythia", "<|endoftext|>"
    tok_path = fixtures / name / "tokenizer.json"
    prefix = f"{tmp}/{name}"
    run = lambda *a: subprocess.run([str(binary), *a], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("tokenize", "--progress", "none", "--tokenizer", str(tok_path), "-o", prefix, str(corpus))
    eod = Tokenizer.from_file(str(tok_path)).token_to_id(eod_token)
    vocab = str(Tokenizer.from_file(str(tok_path)).get_vocab_size(with_added_tokens=True))
    # The tiny preset (rows of 64 = its max_position_embeddings) through a one-step run directory, and
    # the small preset (rows of 512) given by name.
    run("pack", "--progress", "none", "--seq-len", "64", "-o", prefix + "-64", prefix)
    run("pack", "--progress", "none", "--seq-len", "512", "-o", prefix + "-512", prefix)
    run("train", "--config", "tiny", "--vocab-size", vocab, "--data", prefix + "-64", "--out", f"{tmp}/run-tiny", "--steps", "1", "--progress", "none")
    runs = [("tiny run", ["--run", f"{tmp}/run-tiny"], prefix + "-64", f"{tmp}/run-tiny")]
    small = ("small preset", ["--config", "small", "--vocab-size", vocab, "--data", prefix + "-512"], prefix + "-512", None)
    if "--small" not in sys.argv:
        run("train", "--config", "small", "--vocab-size", vocab, "--data", prefix + "-512", "--out", f"{tmp}/run-small", "--steps", "1", "--progress", "none")
        small = ("small run", ["--run", f"{tmp}/run-small"], prefix + "-512", f"{tmp}/run-small")
    samples = 0
    for label, opts, packed, run_dir in runs + [small]:
        a = megatron_args(*opts, "--prepare", f"{tmp}/{label.replace(' ', '-')}-megatron")
        model = json.load(open(f"{run_dir}/checkpoint/tokenmill.json"))["model"] if run_dir else None
        check_model_args(f"{label} megatron-args", a, model)
        rows = tokenmill_rows(packed)
        L = len(rows[0][0])
        tokenizer = MegatronTokenizer.from_pretrained(tokenizer_path=a["tokenizer_model"], metadata_path={"library": "huggingface"})
        report(tokenizer.eod == eod and a["seq_length"] == L,
               f"{label}: Megatron's HuggingFaceTokenizer from --tokenizer-model has EOD {tokenizer.eod} (TokenMill's: {eod}); --seq-length {a['seq_length']} = row length {L}")
        # As printed (Megatron-LM's default add_extra_token_to_sequence=True), and with the megatron-core
        # setting that makes every sample exactly one row.
        samples += check_samples(f"{label} GPTDataset (L={L})", gpt_dataset(a, tokenizer, f"{tmp}/cache"), rows, eod, L)
        samples += check_samples(f"{label} GPTDataset add_extra_token_to_sequence=False (L={L})",
                                 gpt_dataset(a, tokenizer, f"{tmp}/cache-no-extra", add_extra_token_to_sequence=False), rows, eod, L)
    # Pack's own files read directly: GPTDataset samples their sequences (pieces), so rows are not kept.
    a = megatron_args(*small[1])
    rows = tokenmill_rows(small[2])
    ds = gpt_dataset(a, tokenizer, f"{tmp}/cache")
    whole = {r[0].tobytes() for r in rows}
    kept = sum(ds[k]["tokens"].numpy().tobytes() in whole for k in range(len(ds)))
    report(len(ds.document_index) == len(IndexedDataset(small[2]).sequence_lengths) and kept < len(ds) // 2,
           f"{small[0]} GPTDataset on pack's files as written: it samples {len(ds.document_index)} sequences (pieces and padding) "
           f"of {len(rows)} rows; {kept}/{len(ds)} samples equal a TokenMill row (hence megatron-args --prepare)")
    print(f"GPTDataset samples checked: {samples}", file=sys.stderr)
print(f"check-megatron: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
