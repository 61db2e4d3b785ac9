"""Writes the committed fixtures of Tests/TokenizationTests (see tools/make-tokenizer-fixtures).

pretokenize.json  {preset: [[text, [piece, ...]], ...]}  pieces from HF Split(Regex, isolated) sequences
encode.json       {name: {"file": rel, "kind": k, "cases": [[text, [ids]], ...]}} for Tests/Fixtures/tokenizers
train.json        {"text": [...], "vocab_size": n, "presets": {preset: {"merges": [[a, b], ...]}}} from BpeTrainer
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_common import HF_PRESETS, PRESETS, ROOT, adversarial_strings, dump, hf_pretokenizer, shared_tokenizers, without_specials  # noqa: E402

OUT = os.path.join(ROOT, "tools", "fixtures", "tokenization")


def main():
    os.makedirs(OUT, exist_ok=True)
    texts = adversarial_strings()
    pre = {}
    for preset in PRESETS:
        if preset == "cl100k":
            # Oniguruma reads `{1,3}+` as "one or more groups of 1-3", fancy-regex (tiktoken) as a
            # possessive {1,3}; the preset follows tiktoken, so its reference is Python `regex`.
            import regex
            pat = regex.compile(PRESETS[preset][0])
            pre[preset] = [[t, pat.findall(t)] for t in texts]
            continue
        pt = hf_pretokenizer(preset)
        pre[preset] = [[t, [p for p, _ in pt.pre_tokenize_str(t)]] for t in texts]
    # tiktoken's cl100k spelling read by Oniguruma (a tokenizer.json carrying it verbatim).
    from tokenizers import Regex as _Regex, pre_tokenizers as _pts
    verbatim = _pts.Split(_Regex(PRESETS["cl100k"][0]), behavior="isolated")
    pre["cl100k-verbatim-oniguruma"] = [[t, [p for p, _ in verbatim.pre_tokenize_str(t)]] for t in texts]
    dump(pre, os.path.join(OUT, "pretokenize.json"))

    # Split behaviours, invert, literal patterns and Digits, on a few strings.
    from tokenizers import Regex, pre_tokenizers as pts
    split_texts = ["a-b--c-", "-x-", "12ab345c6", "", "no match", "x 1 22 333 4444 y", "٣٤5a"]
    splits = []
    for behavior in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
        for invert in [False, True]:
            for kind, pattern in [("String", "-"), ("Regex", r"\d+")]:
                p = pts.Split(pattern if kind == "String" else Regex(pattern), behavior=behavior, invert=invert)
                splits.append({"type": "Split", "kind": kind, "pattern": pattern, "behavior": behavior, "invert": invert,
                               "cases": [[t, [x for x, _ in p.pre_tokenize_str(t)]] for t in split_texts]})
    for individual in [False, True]:
        p = pts.Digits(individual_digits=individual)
        splits.append({"type": "Digits", "individual": individual, "cases": [[t, [x for x, _ in p.pre_tokenize_str(t)]] for t in split_texts]})
    dump(splits, os.path.join(OUT, "splits.json"))

    enc = {}
    for name, rel, kind, encode in shared_tokenizers():
        enc[name] = {"file": rel, "kind": kind, "cases": [[t, encode(t)] for t in texts]}
    dump(enc, os.path.join(OUT, "encode.json"))

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, Regex
    train_text = texts * 3 + [open(os.path.join(ROOT, "tools", "tokenizer_common.py"), encoding="utf-8").read()]
    result = {"text": train_text, "vocab_size": 600, "special_tokens": ["<|endoftext|>", "<|pad|>"], "presets": {}}
    for preset in ["gpt2", "cl100k", "o200k", "deepseek-v3"]:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in HF_PRESETS[preset]]
            + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=result["special_tokens"], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(without_specials(train_text, result["special_tokens"]), trainer=trainer)
        import json
        model = json.loads(tok.to_str())["model"]
        result["presets"][preset] = {"merges": model["merges"]}
    dump(result, os.path.join(OUT, "train.json"))
    print(f"fixtures: {len(texts)} strings, {len(enc)} tokenizers -> {OUT}")


if __name__ == "__main__":
    main()
