"""Shared helpers for the tokenizer parity tools: adversarial strings, the presets' regexes, and loaders
for every real tokenizer committed under Tests/Fixtures/tokenizers with the reference libraries (tokenizers,
tiktoken)."""
import json
import os
import random
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The real tokenizer files, decompressed from Tests/Fixtures/tokenizers by tools/tokenizer-fixture.
SHARED = subprocess.run([os.path.join(ROOT, "tools", "tokenizer-fixture")], check=True, capture_output=True,
                        text=True).stdout.strip()

PRESETS = {
    "gpt2": [r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""],
    "cl100k": [r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""],
    "llama3": [r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""],
    "qwen2": [r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""],
    "o200k": ["|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ])],
    "deepseek-v3": [
        r"""\p{N}{1,3}""",
        "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ],
}

# The same regexes spelled for Oniguruma (HF tokenizers): Oniguruma reads cl100k's `\p{N}{1,3}+` as
# "one or more groups of 1-3 digits", fancy-regex (tiktoken) as a possessive {1,3}; an atomic group
# says the latter to both.
HF_PRESETS = dict(PRESETS)
HF_PRESETS["cl100k"] = [PRESETS["cl100k"][0].replace(r"\p{N}{1,3}+", r"(?>\p{N}{1,3})")]

ATOMS = [
    "Hello", "world", "don't", "DON'T", "I'm", "we'LL", "they'Re", "'S", "'s", "'ll", "'ſ", "ſ", "it's", "O'Neil",
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r", "\r\n", " \n ", " \t\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b", "\u000c",
    "0", "7", "123", "1234567", "3.14159", "٣٤٥", "²", "Ⅻ", "½",
    "¿Qué", "x.Qué", " ¿Qué", "naïve", "café", "e\u0301", "\u0301", "a\u0300\u0301b", "Å", "A\u030a", "ﬁ", "Ⅸ",
    "日本語", "東京", "x東京", "ひらがな", "カタカナ", "ｶﾀｶﾅ", "한국어", "中文字符", "Привет", "ΣΊΣΥΦΟΣ", "العربية", "עברית", "हिन्दी", "ไทย",
    "👍", "👍🏽", "👨‍👩‍👧", "🇫🇷", "😀😃", "∑∫√", "€$£", "©®™",
    "ǅungla", "HELLOworld", "helloWorld", "CamelCaseWord", "ABC", "xYZ", "ʰʲ", "Ⓐ",
    "\x00", "\x01b", "\x7f", "\u200b", "\u200d", "\ufeff",
    ".Net", "$$$", "...", "!!\n", "?!\r\n", "a/b//c", "//", "#include", "<div>", "{}", "[]", "()",
    "<|endoftext|>", "<|fim_prefix|>", "__init__", "snake_case", "x=1;", "def f(x):\n    return x",
    "http://example.com/a?b=c", "foo@bar.com", "--flag", "—", "–", "…", "“quoted”", "«guillemets»",
]

FIXED = [
    "", " ", "a", "Hello, world!", "Hello, world!\n\n  ", "a   b", "a   ", "a\n  ", "a \n", "hello  \n\n world!!\n",
    "123456", "1234567", " .Net", "don'T", "a\x00\x01b", "x東京", "¿Qué", "x.Qué", " ¿Qué", "\r", "a\rb", "\r\r\n",
    "  leading", "trailing  ", "\n\nx", "x\n\n", "   \t  x", "x \t ", "HELLO", "HeLLo WoRLD", "I'VE", "you'D've",
    "The quick brown fox jumps over the lazy dog.", "    def f():\n        pass\n", "😀 😀  😀", "e\u0301e\u0301",
    "a" * 300, "ab" * 200, " " * 100, "\n" * 50, "x" + " " * 10 + "y",
]


def adversarial_strings(n=160, seed=1234):
    rnd = random.Random(seed)
    out = list(FIXED)
    while len(out) < n + len(FIXED):
        k = rnd.randint(1, 8)
        out.append("".join(rnd.choice(ATOMS) for _ in range(k)))
    return out


def hf_pretokenizer(preset):
    from tokenizers import Regex, pre_tokenizers
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(p), behavior="isolated") for p in HF_PRESETS[preset]])


TIKTOKEN_SPECIALS = {
    "r50k_base": ("gpt2", {"<|endoftext|>": 50256}),
    "cl100k_base": ("cl100k", {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                               "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
    "o200k_base": ("o200k", {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}


def tiktoken_encoding(path):
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    name = os.path.basename(path).rsplit(".", 1)[0]
    preset, specials = TIKTOKEN_SPECIALS[name]
    return tiktoken.Encoding(name, pat_str=PRESETS[preset][0], mergeable_ranks=load_tiktoken_bpe(path), special_tokens=specials)


def shared_tokenizers():
    """(name, relative path, kind, encode function) for every tokenizer under Tests/Fixtures/tokenizers.

    kind: 'hf' (tokenizer.json; HF recognizes added tokens, so Swift encodes with allowSpecial),
    'gpt2' (vocab.json + merges.txt through HF's BPE.from_file; specials not recognized),
    'tiktoken' (encode_ordinary).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    out = []
    for folder in sorted(os.listdir(SHARED)):
        d = os.path.join(SHARED, folder)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            p = os.path.join(d, f)
            rel = f"{folder}/{f}"
            if f == "tokenizer.json":
                t = Tokenizer.from_file(p)
                out.append((folder, rel, "hf", lambda s, t=t: t.encode(s, add_special_tokens=False).ids))
            elif f == "vocab.json" and os.path.exists(os.path.join(d, "merges.txt")):
                t = Tokenizer(models.BPE.from_file(p, os.path.join(d, "merges.txt")))
                t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
                t.decoder = decoders.ByteLevel()
                out.append((folder + "-vocab", rel, "gpt2", lambda s, t=t: t.encode(s, add_special_tokens=False).ids))
            elif f.endswith(".tiktoken"):
                e = tiktoken_encoding(p)
                out.append((f.rsplit(".", 1)[0], rel, "tiktoken", lambda s, e=e: e.encode_ordinary(s)))
    return out


def dump(obj, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def read_documents(paths, limit=None, text_field="text"):
    """Texts of .jsonl / .jsonl.zst / .jsonl.gz / .txt files (a .txt file is one document)."""
    import gzip
    import subprocess
    out = []
    for p in paths:
        if p.endswith(".zst") or p.endswith(".zstd"):
            data = subprocess.run(["zstd", "-dc", p], check=True, capture_output=True).stdout.decode("utf-8", "replace")
        elif p.endswith(".gz"):
            data = gzip.open(p, "rb").read().decode("utf-8", "replace")
        else:
            data = open(p, "rb").read().decode("utf-8", "replace")
        base = p.rsplit(".", 1)[0] if p.endswith((".zst", ".zstd", ".gz")) else p
        if base.endswith((".jsonl", ".json", ".ndjson")):
            for line in data.split("\n"):
                if line.strip():
                    v = json.loads(line)
                    for k in text_field.split("."):
                        v = v[k]
                    out.append(v)
                    if limit and len(out) >= limit:
                        return out
        else:
            out.append(data)
            if limit and len(out) >= limit:
                return out
    return out


def default_corpus(split):
    """corpora/<split>.jsonl.zst when it exists, else Python's standard library sources as documents."""
    p = os.path.join(ROOT, "corpora", f"{split}.jsonl.zst")
    if os.path.exists(p):
        return [p]
    import glob
    import sysconfig
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    return files[: len(files) // 2] if split == "train" else files[len(files) // 2:]


def write_jsonl(texts, path):
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")


def tokenmill_binary():
    b = os.environ.get("TOKENMILL")
    if b:
        return b
    for cand in [".build-tok/release/tokenmill", ".build/release/tokenmill", ".build-tok/debug/tokenmill", ".build/debug/tokenmill"]:
        p = os.path.join(ROOT, cand)
        if os.path.exists(p):
            return p
    raise SystemExit("no tokenmill binary: build it (swift build -c release) or set TOKENMILL")


def hf_train(texts, preset, vocab_size, specials, min_frequency=0):
    """HF BpeTrainer with the preset's Split regexes + ByteLevel; special-token text removed first."""
    import json as _json
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in HF_PRESETS[preset]]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  min_frequency=min_frequency, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(without_specials(texts, specials), trainer=trainer)
    return tok, _json.loads(tok.to_str())["model"]["merges"]


def without_specials(texts, specials):
    """The texts cut at every special token's text, which is dropped (TokenMill never counts it)."""
    import re
    if not specials:
        yield from texts
        return
    pattern = re.compile("|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True)))
    for t in texts:
        yield from pattern.split(t)
