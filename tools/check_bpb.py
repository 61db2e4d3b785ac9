"""Independent check of `tokenmill bpb`: scores the same documents with transformers'
DeepseekV3ForCausalLM (the `tokenmill export-hf` directory) in PyTorch and the Hugging Face
`tokenizers` encoder, with lm-evaluation-harness's rolling windows written out here from its
definition, and compares per-document negative log-likelihoods with `--per-doc` output.

Usage: check_bpb.py HF_DIR TOKENIZER_JSON DOCS_JSONL PER_DOC_JSONL CONTEXT STRIDE
Exits 1 if any document's relative difference is >= 1e-4 or its token count differs.
"""
import json
import math
import sys

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
from transformers.utils import logging as hf_logging

# The export carries the MTP module as layer num_hidden_layers, which DeepseekV3ForCausalLM does not use:
# its load report lists those keys as unexpected (tools/check-export checks them); keep this check's output short.
hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()


def windows(n, T, S):
    """(input start, input length, first scored position) over e = [EOD] + tokens."""
    if n == 0:
        return []
    out = [(0, min(T, n), 0)]
    done = min(T, n)
    while done < n:
        hi = min(done + S, n)
        out.append((hi - T, T, done - (hi - T)))
        done = hi
    return out


def document_nll(model, ids, eod, T, S):
    """Sum of -log p (nats) of every token of `ids` under `model`, scored in the rolling windows above over
    [EOD] + ids; windows of one length run as one batch (each row is its own sequence)."""
    e = [eod] + ids
    nll = 0.0
    spans = windows(len(ids), T, S)
    for length in sorted({w[1] for w in spans}):
        group = [w for w in spans if w[1] == length]
        x = torch.tensor([e[start:start + length] for start, _, _ in group])
        logp = torch.log_softmax(model(input_ids=x).logits.double(), dim=-1)
        for row, (start, _, first) in enumerate(group):
            target = torch.tensor(e[start + first + 1:start + length + 1])
            nll -= logp[row, first:length].gather(1, target[:, None]).sum().item()
    return nll


def main():
    hf_dir, tok_path, docs_path, per_doc_path, T, S = sys.argv[1:7]
    T, S = int(T), int(S)
    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32, attn_implementation="eager").eval()
    tok = Tokenizer.from_file(tok_path)
    eod = tok.token_to_id("<|endoftext|>")
    ours = [json.loads(l) for l in open(per_doc_path)]
    docs = [json.loads(l) for l in open(docs_path)]
    worst, failures = 0.0, 0
    with torch.no_grad():
        for mine in ours:
            text = docs[mine["index"]]["text"]
            ids = tok.encode(text, add_special_tokens=False).ids
            nll = document_nll(model, ids, eod, T, S)
            rel = abs(nll - mine["nll_nats"]) / max(abs(nll), 1e-12)
            worst = max(worst, rel)
            if rel >= 1e-4 or len(ids) != mine["tokens"]:
                failures += 1
                print(f"document {mine['index']}: tokens {len(ids)} vs {mine['tokens']}, nll {nll:.6f} vs {mine['nll_nats']:.6f} (rel {rel:.2e})")
    print(f"check-bpb: {len(ours)} documents, context {T}, stride {S}: worst relative NLL difference {worst:.2e}"
          f" ({'ok' if failures == 0 else f'{failures} FAILED'})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
