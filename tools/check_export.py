"""The Python side of tools/check-export: transformers and PyTorch against TokenMill's export and import.

Usage:
  check_export.py exported HF_DIR NAME DOCS_JSONL IDS_JSONL
      an `export-hf` folder: AutoTokenizer and AutoModelForCausalLM load it offline; the tokenizer's ids
      equal TokenMill's `encode` output (IDS_JSONL) on every document of DOCS_JSONL; bos/eos/pad and
      model_max_length agree with config.json and generation_config.json; the MTP tensors are there
      under DeepSeek-V3's names (with copies of the embedding and head) and are transformers' only
      unexpected keys; logits, loss and every gradient equal TokenMill's (reference.safetensors).
  check_export.py save OUT_DIR TOKENIZER_JSON
      folders saved by transformers itself (random weights, several configurations, float32, float16
      and bfloat16 sharded), each with TOKENIZER_JSON as tokenizer.json; prints their names.
  check_export.py bpb DOCS_JSONL CONTEXT (HF_DIR PER_DOC_JSONL TOKENMILL_BPB)...
      rescores the documents of each `tokenmill bpb --per-doc` file with transformers (the folder's
      tokenizer.json through Hugging Face `tokenizers`, lm-evaluation-harness's rolling windows at
      stride = context) and compares per-document NLLs and the overall BPB (relative difference < 1e-4).
Every check prints one line starting with "ok " or "FAIL "; the exit status is the number of failures.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_bpb import document_nll  # noqa: E402  (rolling-window scoring, shared with tools/check_bpb.py)

failures = 0


def report(ok, name, detail):
    global failures
    failures += 0 if ok else 1
    print(f"{'ok' if ok else 'FAIL'} {name}: {detail}", flush=True)


def exported(d, name, docs_path, ids_path):
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = json.load(open(d + "/config.json"))
    generation = json.load(open(d + "/generation_config.json"))
    # 1. the tokenizer: same ids as TokenMill's encode on every document, special tokens as config.json says
    tok = AutoTokenizer.from_pretrained(d)
    texts = [json.loads(l)["text"] for l in open(docs_path)]
    ours = [json.loads(l)["ids"] for l in open(ids_path)]
    theirs = tok(texts)["input_ids"]
    differing = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    report(len(ours) == len(texts) and not differing, f"{name} tokenizer",
           f"AutoTokenizer ({type(tok).__name__}) ids equal `tokenmill encode` on {len(texts) - len(differing)} of "
           f"{len(texts)} documents ({sum(map(len, ours))} tokens)" + (f"; first differing: {differing[0]}" if differing else ""))
    special = {tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, config["bos_token_id"], config["eos_token_id"],
               generation["bos_token_id"], generation["eos_token_id"], generation["pad_token_id"]}
    # No pad_token_id in config.json: transformers would make it the embedding's padding_idx (no gradient).
    ok = len(special) == 1 and "pad_token_id" not in config and tok.model_max_length == config["max_position_embeddings"] \
        and len(tok) == config["vocab_size"]
    report(ok, f"{name} special tokens", f"bos/eos/pad {tok.bos_token!r} id {sorted(special)} in tokenizer, config (bos/eos) and "
           f"generation config; model_max_length {tok.model_max_length}, {len(tok)} ids")
    # 2. the MTP module under DeepSeek-V3's names, with copies of the shared embedding and head
    L, D = config["num_hidden_layers"], config["num_nextn_predict_layers"]
    with safe_open(d + "/model.safetensors", "pt") as f:
        names = set(f.keys())
    weights = load_file(d + "/model.safetensors")
    mtp = sorted(n for n in names if int(n.split(".")[2] if n.startswith("model.layers.") else -1) >= L)
    wanted = {f"model.layers.{L + k}.{s}" for k in range(D) for s in
              ["embed_tokens.weight", "enorm.weight", "hnorm.weight", "eh_proj.weight", "shared_head.norm.weight",
               "shared_head.head.weight", "input_layernorm.weight", "self_attn.kv_a_proj_with_mqa.weight"]}
    copies = all(torch.equal(weights[f"model.layers.{L + k}.embed_tokens.weight"], weights["model.embed_tokens.weight"]) and
                 torch.equal(weights[f"model.layers.{L + k}.shared_head.head.weight"], weights["lm_head.weight"]) for k in range(D))
    report(D >= 1 and wanted <= set(mtp) and copies, f"{name} MTP names",
           f"num_nextn_predict_layers {D}: {len(mtp)} tensors under model.layers.{L}.* (enorm, hnorm, eh_proj, "
           f"shared_head.norm/head, embed_tokens, the block), embedding and head copies equal")
    # 3. the model loads offline; transformers' only complaint is the MTP layer it does not implement
    model, info = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager",
                                                       output_loading_info=True)
    model.eval()
    unexpected = sorted(info["unexpected_keys"])
    ok = not info["missing_keys"] and not info.get("mismatched_keys") and unexpected and \
        all(k.startswith(f"model.layers.{L}.") for k in unexpected)
    report(ok, f"{name} loading", f"no missing or mismatched keys; {len(unexpected)} unexpected, all model.layers.{L}.* "
           f"(missing {list(info['missing_keys'])[:3]})")
    # 4. logits, loss and gradients
    ref = load_file(d + "/reference.safetensors")
    with safe_open(d + "/reference.safetensors", "pt") as f:
        meta_loss = float(f.metadata()["loss"])
    ids = ref["input_ids"].long()
    logits = model(input_ids=ids[:, :-1]).logits
    diff = (logits - ref["logits"]).abs().max().item()
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    loss.backward()
    # transformers merges the experts: gate_up_proj [E, 2I, C] = [gate; up], down_proj [E, C, I].
    worst, worst_name = 0.0, ""
    params = dict(model.named_parameters())
    for key, mine in ref.items():
        if not key.startswith("grad.") or key.endswith("e_score_correction_bias"):
            continue
        key = key[5:]
        if ".mlp.experts." in key:
            layer, rest = key.split(".mlp.experts.")
            e, proj = int(rest.split(".")[0]), rest.split(".")[1]
            if proj == "down_proj":
                theirs = params[layer + ".mlp.experts.down_proj"].grad[e]
            else:
                gu = params[layer + ".mlp.experts.gate_up_proj"].grad[e]
                half = gu.shape[0] // 2
                theirs = gu[:half] if proj == "gate_proj" else gu[half:]
        else:
            theirs = params[key].grad
        err = ((mine - theirs).abs().max() / theirs.abs().max().clamp_min(1e-12)).item()
        if err > worst:
            worst, worst_name = err, key
    ok = diff < 1e-4 and worst < 1e-4 and abs(loss.item() - meta_loss) < 1e-5
    report(ok, f"{name} logits", f"{sum(p.numel() for p in model.parameters())} parameters, logits max abs diff {diff:.3e}, "
           f"loss {loss.item():.6f} vs {meta_loss:.6f}, worst gradient rel. error {worst:.2e} ({worst_name})")


def save(out, tokenizer):
    """Random DeepseekV3ForCausalLM models saved by transformers, weights spread wider than the initializer
    (and random balancing biases and norm weights) so that the scores are far from uniform."""
    import shutil

    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

    base = dict(vocab_size=300, hidden_size=32, intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=2, n_shared_experts=1, n_routed_experts=4, kv_lora_rank=16,
                q_lora_rank=None, qk_rope_head_dim=8, v_head_dim=8, qk_nope_head_dim=8, n_group=1, topk_group=1,
                num_experts_per_tok=2, first_k_dense_replace=1, max_position_embeddings=64, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    variants = [
        ("dense1-experts4-f32", {}, torch.float32, None),
        ("moe-only-experts8-qlora-bf16-sharded", dict(first_k_dense_replace=0, n_routed_experts=8, num_experts_per_tok=3,
                                                      q_lora_rank=12, num_attention_heads=3, num_key_value_heads=3,
                                                      rope_parameters={"rope_type": "default", "rope_theta": 500.0}),
         torch.bfloat16, "40KB"),
        ("dense2-experts6-groups2-f16", dict(num_hidden_layers=3, first_k_dense_replace=2, n_routed_experts=6, n_group=2,
                                             topk_group=2, n_shared_experts=2, routed_scaling_factor=1.5, hidden_size=48),
         torch.float16, None),
    ]
    for i, (name, changes, dtype, shard) in enumerate(variants):
        torch.manual_seed(100 + i)
        model = DeepseekV3ForCausalLM(DeepseekV3Config(**{**base, **changes}))
        with torch.no_grad():
            for pname, p in model.named_parameters():
                p.copy_(1 + 0.1 * torch.randn_like(p) if p.dim() == 1 else 0.15 * torch.randn_like(p))
            for m in model.modules():
                if hasattr(m, "e_score_correction_bias"):
                    m.e_score_correction_bias.copy_(0.05 * torch.randn_like(m.e_score_correction_bias))
        d = os.path.join(out, name)
        model.to(dtype).save_pretrained(d, **({"max_shard_size": shard} if shard else {}))
        shutil.copy(tokenizer, os.path.join(d, "tokenizer.json"))
        print(name)


def bpb(docs_path, T, triples):
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(2)
    docs = [json.loads(l) for l in open(docs_path)]
    for d, per_doc_path, tokenmill_bpb in triples:
        name = os.path.basename(d.rstrip("/"))
        files = sorted(os.listdir(d))
        dtype = json.load(open(d + "/config.json")).get("dtype")
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        tok = Tokenizer.from_file(d + "/tokenizer.json")
        eod = tok.token_to_id("<|endoftext|>")
        worst, bad, total_nll, total_bytes = 0.0, 0, 0.0, 0
        with torch.no_grad():
            for mine in (json.loads(l) for l in open(per_doc_path)):
                ids = tok.encode(docs[mine["index"]]["text"], add_special_tokens=False).ids
                nll = document_nll(model, ids, eod, T, T)
                rel = abs(nll - mine["nll_nats"]) / max(abs(nll), 1e-12)
                worst = max(worst, rel)
                bad += rel >= 1e-4 or len(ids) != mine["tokens"]
                total_nll += nll
                total_bytes += mine["bytes"]
        theirs = total_nll / (math.log(2) * total_bytes)
        rel = abs(theirs - tokenmill_bpb) / theirs
        shards = sum(f.endswith(".safetensors") for f in files)
        report(bad == 0 and rel < 1e-4, f"{name} bpb",
               f"{dtype}, {shards} safetensors file(s): BPB TokenMill {tokenmill_bpb:.6f}, transformers {theirs:.6f} "
               f"(rel. {rel:.1e}); per-document NLL worst rel. difference {worst:.1e}, {bad} documents off")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "exported":
        exported(*args)
    elif command == "save":
        save(*args)
    elif command == "bpb":
        rest = args[2:]
        bpb(args[0], int(args[1]), [(rest[i], rest[i + 1], float(rest[i + 2])) for i in range(0, len(rest), 3)])
    else:
        sys.exit(f"unknown command {command}")
    sys.exit(min(failures, 100))


if __name__ == "__main__":
    main()
