// `prepare`'s config in-process: the same keys in JSON and TOML decode to the same typed config and the
// same stage options; unknown keys, wrong types and values out of range are errors naming the file and
// the key, with the verbs' own checks (`TokenizeOptions.validate`, `PackOptions.validate`).
import CorpusIO
import Foundation
import Packing
import Pipeline
import Testing

@Suite struct PrepareTests {
    /// Decodes `text` as the file `path` would be read (the extension picks the format).
    func decode(_ text: String, path: String = "prepare.json") throws -> PrepareConfig {
        try PrepareConfig.decode(readConfigObject(Data(text.utf8), path: path), file: path)
    }

    /// The usage message decoding `text` throws (nil when it decodes).
    func usageError(_ text: String, path: String = "p.json") -> String? {
        do { _ = try decode(text, path: path); return nil } catch let e as StageError where e.kind == .usage { return e.message } catch { return "other: \(error)" }
    }

    @Test func theSameKeysInJSONAndTOMLGiveTheSameConfigAndStageOptions() throws {
        let json = try decode("""
        {"inputs": ["a.jsonl", "b.jsonl.zst"], "output": "out/d", "tokenizer": "tok.json", "text_field": "meta.body",
         "normalize": {"form": "nfkc-casefold"},
         "tokenize": {"fim_rate": 0.3, "fim_spm_rate": 0.5, "split_punctuation_newline": 0.25, "seed": 9223372036854775807,
                      "append_eod": false, "eod_token": "</s>", "fim_tokens": "<a>,<b>,<c>", "allow_special": true},
         "pack": {"seq_len": 300, "valid_fraction": 0.05, "buffer_docs": 50, "seed": 4, "strategy": "concat", "shuffle": false, "pad_id": 7}}
        """)
        let toml = try decode("""
        inputs = ["a.jsonl", 'b.jsonl.zst']
        output = "out/d"
        tokenizer = "tok.json"
        text_field = "meta.body"
        normalize.form = "nfkc-casefold"
        [tokenize]
        fim_rate = 3e-1
        fim_spm_rate = 0.5
        split_punctuation_newline = 0.25
        seed = 9_223_372_036_854_775_807
        append_eod = false
        eod_token = "</s>"
        fim_tokens = "<a>,<b>,<c>"
        allow_special = true
        [pack]
        seq_len = 3_00
        valid_fraction = 0.05
        buffer_docs = 50
        seed = 4
        strategy = "concat"
        shuffle = false
        pad_id = 7
        """, path: "prepare.toml")
        #expect(json == toml)
        #expect(json.normalizationForm == .nfkcCasefold && json.normalizedPath == "out/d.normalized.jsonl.zst" && json.packedPrefix == "out/d.packed")
        let t = json.tokenizeOptions
        #expect(t.fim.rate == 0.3 && t.fim.spmRate == 0.5 && t.fim.seed == UInt64(Int64.max) && t.splitPunctuationNewline == 0.25)
        #expect(!t.appendEOD && t.eodToken == "</s>" && t.fimTokens == ["<a>", "<b>", "<c>"] && t.allowSpecial && t.read.textField == "meta.body")
        let p = try #require(json.packOptions)
        #expect(p.sequenceLength == 300 && p.validFraction == 0.05 && p.bufferDocs == 50 && p.seed == 4)
        #expect(p.strategy == .concat && !p.shuffle && p.padID == 7 && p.shard == nil)
    }

    @Test func aMinimalConfigTakesTheVerbsDefaults() throws {
        let c = try decode("{\"inputs\": [\"a\"], \"output\": \"o\", \"tokenizer\": \"t\", \"normalize\": {}}")
        #expect(c.normalizationForm == .nfkc && c.textField == "text" && c.pack == nil && c.packOptions == nil)
        let t = c.tokenizeOptions, defaults = TokenizeOptions()
        #expect(t.appendEOD == defaults.appendEOD && t.eodToken == nil && t.allowSpecial == defaults.allowSpecial && t.fimTokens == nil)
        #expect(t.fim.rate == defaults.fim.rate && t.fim.spmRate == defaults.fim.spmRate && t.fim.seed == defaults.fim.seed)
        #expect(t.splitPunctuationNewline == defaults.splitPunctuationNewline && t.read.textField == "text")
        let p = try #require(try decode("inputs = ['a']\noutput = 'o'\ntokenizer = 't'\npack.seq_len = 8\n", path: "p.toml").packOptions)
        let d = PackOptions(sequenceLength: 8)
        #expect(p.sequenceLength == 8 && p.strategy == d.strategy && p.validFraction == d.validFraction && p.seed == d.seed)
        #expect(p.bufferDocs == d.bufferDocs && p.padID == nil && p.shuffle == d.shuffle)
    }

    static let invalid: [(String, String)] = [
        (#""extra": 1"#, "unknown key 'extra' (known: decontaminate, dedup, inputs, normalize, output, pack, text_field, tokenize, tokenizer)."),
        (#""normalize": {"from": "nfc"}"#, "unknown key 'normalize.from' (known: form)."),
        (#""tokenize": {"fim": 0.1}"#, "unknown key 'tokenize.fim' (known: allow_special, append_eod, eod_token, fim_rate, fim_spm_rate, fim_tokens, seed, split_punctuation_newline)."),
        (#""pack": {"seq_len": 8, "sqe": 1}"#, "unknown key 'pack.sqe' (known: buffer_docs, pad_id, seed, seq_len, shuffle, strategy, valid_fraction)."),
        (#""pack": 3"#, "'pack' must be an object."),
        (#""pack": {"seq_len": true}"#, "'pack.seq_len' must be a number."),
        (#""pack": {"seq_len": "8"}"#, "'pack.seq_len' must be a number."),
        (#""pack": {"seq_len": 8.5}"#, "'pack.seq_len' must be an integer."),
        (#""pack": {"valid_fraction": 0.1}"#, "'pack.seq_len' is required."),
        (#""pack": {"seq_len": 1}"#, "'pack.seq_len' must be at least 2."),
        (#""pack": {"seq_len": 8, "buffer_docs": -1}"#, "'pack.buffer_docs' must be 0 (all) or more."),
        (#""pack": {"seq_len": 8, "valid_fraction": 1}"#, "'pack.valid_fraction' must be at least 0 and below 1."),
        (#""pack": {"seq_len": 8, "strategy": "first-fit"}"#, "'pack.strategy' must be one of best-fit, concat."),
        (#""pack": {"seq_len": 8, "shuffle": "no"}"#, "'pack.shuffle' must be a boolean (true or false)."),
        (#""tokenize": {"fim_rate": 1.5}"#, "'tokenize.fim_rate' must be between 0 and 1."),
        (#""tokenize": {"fim_spm_rate": -0.1}"#, "'tokenize.fim_spm_rate' must be between 0 and 1."),
        (#""tokenize": {"split_punctuation_newline": 2}"#, "'tokenize.split_punctuation_newline' must be between 0 and 1."),
        (#""tokenize": {"fim_tokens": "<a>,<b>"}"#, "'tokenize.fim_tokens' takes three tokens: BEGIN,HOLE,END."),
        (#""tokenize": {"seed": -1}"#, "'tokenize.seed' must be an integer from 0 to 18446744073709551615."),
        (#""tokenize": {"append_eod": "yes"}"#, "'tokenize.append_eod' must be a boolean (true or false)."),
        (#""tokenize": {"eod_token": 5}"#, "'tokenize.eod_token' must be a string."),
        (#""normalize": {"form": "nfx"}"#, "'normalize.form' must be one of nfc, nfkc, nfkc-casefold, nfd, nfkd, none."),
        (#""text_field": "meta..body""#, "'text_field' must be a dotted path of non-empty keys, like 'text' or 'meta.body'."),
    ]

    @Test(arguments: invalid)
    func aBadKeyOrValueIsAUsageErrorNamingTheFileAndTheKey(body: String, message: String) {
        let text = #"{"inputs": ["a"], "output": "o", "tokenizer": "t", "# + body + "}"
        #expect(usageError(text) == "p.json: " + message, "\(text)")
    }

    @Test func theTopLevelKeysAreRequiredWithTheirTypes() {
        #expect(usageError(#"{"inputs": [], "output": "o", "tokenizer": "t"}"#) == "p.json: 'inputs' must be a non-empty list of paths.")
        #expect(usageError(#"{"inputs": "a", "output": "o", "tokenizer": "t"}"#) == "p.json: 'inputs' must be a non-empty list of paths.")
        #expect(usageError(#"{"output": "o", "tokenizer": "t"}"#) == "p.json: 'inputs' must be a non-empty list of paths.")
        #expect(usageError(#"{"inputs": ["a"], "tokenizer": "t"}"#) == "p.json: 'output' (the output prefix) is required.")
        #expect(usageError(#"{"inputs": ["a"], "output": "o"}"#) == "p.json: 'tokenizer' is required.")
        #expect(usageError(#"{"inputs": ["a"], "output": 3, "tokenizer": "t"}"#) == "p.json: 'output' must be a string.")
        #expect(usageError(#"{"inputs": ["a"], "output": "o", "tokenizer": "t", "pack": null}"#) == nil)
    }

    @Test func theVerbsChecksNameTheirOptions() {
        #expect(throws: StageError(.usage, "--fim-rate must be between 0 and 1.")) {
            try TokenizeOptions.validate(fimRate: 2, fimSPMRate: 0, splitPunctuationNewline: 0, checkpointEvery: 1, fimTokens: nil)
        }
        #expect(throws: StageError(.usage, "--checkpoint-every must be at least 1.")) {
            try TokenizeOptions.validate(fimRate: 0, fimSPMRate: 0, splitPunctuationNewline: 0, checkpointEvery: 0, fimTokens: nil)
        }
        var p = PackOptions(sequenceLength: 8)
        p.shard = Shard(index: 0, count: 2)
        #expect(throws: StageError(.usage, "--shard needs --buffer-docs N: shards pack whole buffers (give the single run the same --buffer-docs).")) { try p.validate() }
        p.bufferDocs = 10
        #expect(throws: Never.self) { try p.validate() }
        #expect(throws: StageError(.usage, "--text-field must be a dotted path of non-empty keys, like 'text' or 'meta.body'.")) { try ReadOptions.validate(textField: "") }
    }

    @Test func aMissingFileIsAConfigFileError() {
        let error = #expect(throws: ConfigFileError.self) { try PrepareConfig.read(path: "/nonexistent/prepare.toml") }
        #expect(error?.description == "/nonexistent/prepare.toml: cannot read the config")
    }
}
