// `tokenmill prepare`: normalize → tokenize (with FIM) → pack in one process, from a JSON or TOML config.
import ArgumentParser
import CorpusIO
import Foundation

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Run normalize → tokenize (with fill-in-the-middle) → pack in one process from a JSON or TOML config.",
        discussion: """
        Example: tokenmill prepare --config prepare.toml

        The config, as JSON (every key but the first three optional):
          {"inputs": ["corpora/train.jsonl.zst"], "output": "data/train", "tokenizer": "tokenizer.json",
           "text_field": "text",
           "normalize": {"form": "nfkc"},
           "tokenize": {"fim_rate": 0.1, "fim_spm_rate": 0, "split_punctuation_newline": 0, "seed": 0, "append_eod": true},
           "pack": {"seq_len": 2048, "strategy": "best-fit", "valid_fraction": 0.01, "seed": 0}}
        or the same keys as TOML, with [normalize], [tokenize] and [pack] tables:
          inputs = ["corpora/train.jsonl.zst"]
          output = "data/train"
          tokenizer = "tokenizer.json"
          [pack]
          seq_len = 2048
        writes OUTPUT.normalized.jsonl.zst with its .tokenmill.json (when "normalize" is given; the \
        normalization is recorded in the manifests, for `bpb --run`), OUTPUT.bin/.idx/.json (the \
        tokenized documents) and OUTPUT.packed.* (when "pack" is given). Each stage is the subcommand of \
        the same name with these options (tokenize's keys are its options' names with underscores: \
        "split_punctuation_newline" is --split-punctuation-newline, the token-boundary randomization \
        rate), and prints its own summary line. An unknown key is an error \
        that names it. Memory: that of the largest stage (see their --help).

        The format follows the extension (.json or .toml), else the content (JSON starts with '{'). \
        TOML is read by a small strict reader: comments, [table] and [a.b] headers, bare, quoted and \
        dotted keys, basic and literal strings on one line, decimal 64-bit integers, decimal floats, \
        booleans, arrays (over several lines too) and one-line inline tables; multi-line strings, dates \
        and times, hexadecimal/octal/binary integers, inf/nan and arrays of tables are refused, like any \
        syntax error, with the line number (exit 1).
        """
    )

    @Option(help: "The config file: JSON (.json) or TOML (.toml).")
    var config: String

    @OptionGroup var progressOptions: ProgressOptions

    func run() throws {
        var stages: [[String]] = []
        try reportingErrors {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw RuntimeFailure(description: "\(config): cannot read the config")
            }
            let root = try readConfigObject(data, path: config)
            stages = try prepareStages(root, file: config, progress: progressOptions)
        }
        for args in stages {
            var command = try TokenMill.parseAsRoot(args)
            try command.run()
        }
    }
}

/// The subcommand argument lists a prepare config stands for.
func prepareStages(_ root: [String: Any], file: String, progress: ProgressOptions) throws -> [[String]] {
    func unknown(_ object: [String: Any], _ allowed: Set<String>, at path: String) throws {
        if let key = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ValidationError("\(file): unknown key '\(path)\(key)' (known: \(allowed.sorted().joined(separator: ", "))).")
        }
    }
    func section(_ key: String) throws -> [String: Any]? {
        guard let value = root[key], !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else { throw ValidationError("\(file): '\(key)' must be an object.") }
        return object
    }
    func string(_ object: [String: Any], _ key: String, at path: String) throws -> String? {
        guard let v = object[key] else { return nil }
        guard let s = v as? String else { throw ValidationError("\(file): '\(path)\(key)' must be a string.") }
        return s
    }
    func number(_ object: [String: Any], _ key: String, at path: String) throws -> String? {
        guard let v = object[key] else { return nil }
        // subtle: on Linux an integer NSNumber also casts to Bool; JSON booleans have objCType "c".
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else { throw ValidationError("\(file): '\(path)\(key)' must be a number.") }
        return n.stringValue
    }
    try unknown(root, ["inputs", "output", "tokenizer", "text_field", "normalize", "tokenize", "pack"], at: "")
    guard let inputs = root["inputs"] as? [String], !inputs.isEmpty else { throw ValidationError("\(file): 'inputs' must be a non-empty list of paths.") }
    guard let output = try string(root, "output", at: "") else { throw ValidationError("\(file): 'output' (the output prefix) is required.") }
    guard let tokenizer = try string(root, "tokenizer", at: "") else { throw ValidationError("\(file): 'tokenizer' is required.") }
    let field = try string(root, "text_field", at: "") ?? "text"
    var common = ["--progress", progress.progress.rawValue]
    if let t = progress.threads { common += ["--threads", String(t)] }
    var stages: [[String]] = []
    var tokenizeInputs = inputs
    if let n = try section("normalize") {
        try unknown(n, ["form"], at: "normalize.")
        let normalized = output + ".normalized.jsonl.zst"
        stages.append(["normalize", "--form", try string(n, "form", at: "normalize.") ?? "nfkc", "--text-field", field, "-o", normalized] + common + inputs)
        tokenizeInputs = [normalized]
    }
    var tokenize = ["tokenize", "--tokenizer", tokenizer, "--text-field", field, "-o", output] + common
    if let t = try section("tokenize") {
        try unknown(t, ["fim_rate", "fim_spm_rate", "split_punctuation_newline", "seed", "append_eod", "eod_token", "fim_tokens", "allow_special"], at: "tokenize.")
        if let v = try number(t, "fim_rate", at: "tokenize.") { tokenize += ["--fim-rate", v] }
        if let v = try number(t, "fim_spm_rate", at: "tokenize.") { tokenize += ["--fim-spm-rate", v] }
        if let v = try number(t, "split_punctuation_newline", at: "tokenize.") { tokenize += ["--split-punctuation-newline", v] }
        if let v = try number(t, "seed", at: "tokenize.") { tokenize += ["--seed", v] }
        if let v = try string(t, "eod_token", at: "tokenize.") { tokenize += ["--eod-token", v] }
        if let v = try string(t, "fim_tokens", at: "tokenize.") { tokenize += ["--fim-tokens", v] }
        if t["append_eod"] as? Bool == false { tokenize.append("--no-append-eod") }
        if t["allow_special"] as? Bool == true { tokenize.append("--allow-special") }
    }
    stages.append(tokenize + tokenizeInputs)
    if let p = try section("pack") {
        try unknown(p, ["seq_len", "strategy", "valid_fraction", "seed", "buffer_docs", "pad_id", "shuffle"], at: "pack.")
        guard let L = try number(p, "seq_len", at: "pack.") else { throw ValidationError("\(file): 'pack.seq_len' is required.") }
        var pack = ["pack", "--seq-len", L, "-o", output + ".packed"] + common
        if let v = try string(p, "strategy", at: "pack.") { pack += ["--strategy", v] }
        if let v = try number(p, "valid_fraction", at: "pack.") { pack += ["--valid-fraction", v] }
        if let v = try number(p, "seed", at: "pack.") { pack += ["--seed", v] }
        if let v = try number(p, "buffer_docs", at: "pack.") { pack += ["--buffer-docs", v] }
        if let v = try number(p, "pad_id", at: "pack.") { pack += ["--pad-id", v] }
        if p["shuffle"] as? Bool == false { pack.append("--no-shuffle") }
        stages.append(pack + [output])
    }
    return stages
}
