// `tokenmill demo`: the whole job on the bundled corpus in one command — normalize, dedup, decontaminate
// against the test split, train the tokenizer on the cleaned text,
// measure it, tokenize with FIM, pack, train the MoE, score bits per byte — then write report.html and
// report.json. Each stage is the subcommand of the same name, run in this process (`main` settled
// OpenBLAS's kernel for the demo before it started) with its messages captured into OUT/logs/STAGE.log
// and its output in OUT; the subcommands call the Pipeline, Training and Evaluation libraries, and the
// report is the Report library's.
//
// Reuse (Pipeline's `StageCache`; DemoRunner.swift runs the stages): after a stage succeeds,
// OUT/.stages/NAME.json records its key — the tool version, the stage's
// arguments (with OUT and the corpus directory written symbolically), the size and SHA-256 of each
// corpus file it reads, and the digest of each earlier stage's outputs it reads — plus the size and
// modification time of its outputs and their digest. A later run skips a stage whose key matches and
// whose outputs are unchanged ("reused"); anything else redoes it, and a stage whose inputs' digests
// changed follows. Every stage writes its outputs atomically, and a stage's record is removed before it
// runs, so an interrupted stage is redone, never taken as done.
import ArgumentParser
import CorpusIO
import Deduplication
import Foundation
import Pipeline
import Report
import Training

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole job on the bundled corpus: tokenizer, FIM + packing, MoE training, bits per byte, and a report.",
        discussion: """
        Example: tokenmill demo --minutes 10 --out out/demo

        Stages, each the subcommand of the same name (their output and logs go to OUT; OUT/logs/STAGE.log \
        keeps each one's messages): normalize (NFKC) the corpus's train.jsonl.zst and test.jsonl.zst; \
        dedup the normalized training split (exact and MinHash near duplicates, numbers kept unless \
        --no-keep-numbers; removed documents listed in OUT/dedup-removed.jsonl); decontaminate what \
        remains against test.jsonl.zst, the file bpb scores (13-gram overlap, test n-grams held by more \
        than --max-ngram-documents training documents ignored as boilerplate; contaminated documents \
        removed, hits listed in OUT/contamination.jsonl); the cleaned text, OUT/train.clean.jsonl.zst, \
        is what the tokenizer is trained on and what is tokenized; \
        train-tokenizer (byte-level BPE, deepseek-v3 pre-tokenizer, --vocab-size ids, specials \
        <|endoftext|>, <|fim_begin|>, <|fim_hole|>, <|fim_end|>); tokenizer-stats (bytes per token per \
        subset of the test split); tokenize (FIM rate 0.1, PSM; token-boundary randomization at \
        --split-punctuation-newline, off by default); pack (best-fit into rows of the \
        preset's sequence length, --valid-fraction held out); train (the preset for --minutes); bpb (on \
        the raw test split, normalized as in training, with zstd and xz baselines). Then OUT/report.html \
        (self-contained: open it in a browser) and OUT/report.json hold the figures; `tokenmill report \
        OUT` rewrites them.

        Running again with the same --out reuses every stage whose inputs, options and tool version are \
        unchanged (it says "reused"); a changed option redoes its stage and those that depend on it. \
        Training restarts from scratch when redone.

        For quick looks and tests: --preset tiny --vocab-size 512 --minutes 0.2 with --corpus pointing \
        at a directory holding a small train.jsonl.zst and test.jsonl.zst.

        Memory: that of the largest stage (training the small preset: about 1 GB; see each stage's --help).
        """
    )

    @Option(help: "Minutes of training.")
    var minutes: Double = 10

    @Option(name: [.short, .long], help: "The output directory (created; reused stages are kept).")
    var out: String = "out/demo"

    @Option(help: "A directory holding train.jsonl.zst and test.jsonl.zst (default: the package's corpora/, found from the working directory or the executable's location).")
    var corpus: String?

    @Option(help: "The model preset: small (the demo), or tiny (for quick looks and tests).")
    var preset: String = "small"

    @Option(name: .customLong("vocab-size"), help: "The tokenizer's vocabulary size (smaller for quick looks and tests); the model takes the trained tokenizer's size.")
    var vocabSize: Int = 16384

    @Option(name: .customLong("valid-fraction"), help: "The share of training documents packed into the validation split.")
    var validFraction: Double = 0.01

    @Option(name: .customLong("split-punctuation-newline"), help: "Token-boundary randomization in the tokenize stage (DeepSeek-V3): the probability (0 to 1) of encoding a pre-token that joins punctuation and line breaks as its two parts.")
    var splitProbability: Double = 0

    @Option(help: "Arithmetic of the model's linear layers in the train stage: fp32, or fp8 (DeepSeek-V3's fine-grained FP8; the report gains an FP8 part).")
    var precision: String = "fp32"

    @Option(name: .customLong("bpb-max-docs"), help: "Score only the first N test documents (for quick looks and tests).")
    var bpbMaxDocs: Int?

    @Flag(name: .customLong("no-dedup"), help: "Skip the dedup stage.")
    var noDedup = false

    @Flag(name: .customLong("no-decontaminate"), help: "Skip the decontaminate stage (bpb then warns that its test file was not decontaminated against).")
    var noDecontaminate = false

    @Flag(inversion: .prefixedNo, help: "Keep number values in dedup's shingles (off: every number becomes 0, as datatrove, and templated problems that differ only in their numbers are near duplicates).")
    var keepNumbers = PrepareConfig.Dedup.defaultKeepNumbers

    @Option(name: .customLong("max-ngram-documents"), help: "Decontamination ignores a test n-gram that more than this many training documents hold (shared boilerplate); 0 ignores none.")
    var maxNGramDocuments = PrepareConfig.Decontaminate.defaultMaxNGramDocuments

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if !(minutes > 0) { throw ValidationError("--minutes must be positive.") }
        if RunConfig.preset(preset) == nil { throw ValidationError("--preset must be tiny or small.") }
        if vocabSize < 260 { throw ValidationError("--vocab-size must be at least 260 (256 bytes and 4 special tokens).") }
        if !(0 ... 1).contains(splitProbability) { throw ValidationError("--split-punctuation-newline must be between 0 and 1.") }
        if !(0 ..< 1).contains(validFraction) { throw ValidationError("--valid-fraction must be at least 0 and below 1.") }
        if !["fp32", "fp8"].contains(precision) { throw ValidationError("--precision must be fp32 or fp8.") }
        if let bpbMaxDocs, bpbMaxDocs < 1 { throw ValidationError("--bpb-max-docs must be positive.") }
        if maxNGramDocuments < 0 { throw ValidationError("--max-ngram-documents must be 0 (ignore none) or more.") }
    }

    func run() throws {
        try reportingErrors {
            let corpusDir = try locateCorpus(corpus)
            let runner = try DemoRunner(out: out, corpus: corpusDir, progress: progressOptions)
            if let (path, config) = quickConfig() { try writeFileAtomically(Array(configWithoutVocabularySize(config)) + [10], to: path) }
            let stages = plan(corpus: corpusDir)
            printError("demo: \(corpusDir) → \(out) (preset \(preset), vocabulary \(formatCount(vocabSize)), \(formatMinutes(minutes)) of training)")
            var records: [DemoStageRecord] = []
            for (i, stage) in stages.enumerated() {
                records.append(try runner.run(stage, index: i + 1, of: stages.count))
            }
            // The record of the run (settings and stage timings), then the report.
            try writeRecord(records, corpus: corpusDir)
            let data = try ReportData.load(directory: out)
            try data.write(directory: out, version: TokenMill.configuration.version)
            printError("report: \((out as NSString).appendingPathComponent(DemoLayout.reportHTML)) (figures also in \(DemoLayout.reportJSON))")
            if let table = bpbTable(data, test: (corpusDir as NSString).appendingPathComponent("test.jsonl.zst")) { try writeStandardOutput(table + "\n", what: "the bits-per-byte table") }
        }
    }

    /// The stages, in order, as subcommand argument lists.
    func plan(corpus: String) -> [DemoStage] {
        func o(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }
        func c(_ name: String) -> String { (corpus as NSString).appendingPathComponent(name) }
        let threads = progressOptions.threads.map { ["--threads", String($0)] } ?? []
        let config = RunConfig.preset(preset)!
        let L = config.training.sequenceLength
        let specials = "<|endoftext|>,<|fim_begin|>,<|fim_hole|>,<|fim_end|>"
        var stages = [
            DemoStage(name: "normalize-train", args: ["normalize", "--form", "nfkc", "-o", o(DemoLayout.trainNormalized), c("train.jsonl.zst")] + threads,
                      corpusInputs: [c("train.jsonl.zst")], outputs: [o(DemoLayout.trainNormalized), o(DemoLayout.trainNormalized) + ".tokenmill.json"]),
            DemoStage(name: "normalize-test", args: ["normalize", "--form", "nfkc", "-o", o(DemoLayout.testNormalized), c("test.jsonl.zst")] + threads,
                      corpusInputs: [c("test.jsonl.zst")], outputs: [o(DemoLayout.testNormalized)]),
        ]
        // Cleaning: each stage reads the previous one's text; the tokenizer is trained on, and tokenize
        // reads, what the last one writes. Each writes its corpus's .cleaning.json (train copies the last
        // one's into data.json) and carries the .tokenmill.json normalization record.
        var text = (stage: "normalize-train", path: o(DemoLayout.trainNormalized))
        func sidecars(_ p: String) -> [String] { [p, CleanedCorpusManifest.path(for: p), NormalizedCorpusManifest.path(for: p)] }
        if !noDedup {
            stages.append(DemoStage(name: "dedup", args: ["dedup"] + (keepNumbers ? ["--keep-numbers"] : []) + ["--removed", o(DemoLayout.dedupRemoved),
                                                          "-o", o(DemoLayout.trainDeduplicated), text.path] + threads,
                                    after: [text.stage], outputs: sidecars(o(DemoLayout.trainDeduplicated)) + [o(DemoLayout.dedupRemoved)],
                                    summary: { $0.lines.last { $0.hasPrefix("dedup:") } ?? $0.lines.last ?? "" }))
            text = ("dedup", o(DemoLayout.trainDeduplicated))
        }
        if !noDecontaminate {
            stages.append(DemoStage(name: "decontaminate", args: ["decontaminate", "--against", c("test.jsonl.zst")]
                                    + (maxNGramDocuments > 0 ? ["--max-ngram-documents", String(maxNGramDocuments)] : [])
                                    + ["--report", o(DemoLayout.contamination), "-o", o(DemoLayout.trainCleaned), text.path] + threads,
                                    corpusInputs: [c("test.jsonl.zst")], after: [text.stage],
                                    outputs: sidecars(o(DemoLayout.trainCleaned)) + [o(DemoLayout.contamination)],
                                    summary: { $0.lines.last { $0.hasPrefix("decontaminate:") } ?? $0.lines.last ?? "" }))
            text = ("decontaminate", o(DemoLayout.trainCleaned))
        }
        stages += [
            DemoStage(name: "train-tokenizer", args: ["train-tokenizer", "--vocab-size", String(vocabSize), "--pretokenizer", "deepseek-v3",
                                                      "--special-tokens", specials, "-o", o(DemoLayout.tokenizer), text.path] + threads,
                      after: [text.stage], outputs: [o(DemoLayout.tokenizer)],
                      summary: { $0.lines.last { $0.contains("wrote") } ?? $0.lines.last ?? "" }),
            DemoStage(name: "tokenizer-stats", args: ["tokenizer-stats", "--tokenizer", o(DemoLayout.tokenizer), "--by", "meta.pile_set_name", "--json",
                                                      o(DemoLayout.testNormalized)] + threads,
                      after: ["train-tokenizer", "normalize-test"], outputs: [o(DemoLayout.tokenizerStats)], stdout: o(DemoLayout.tokenizerStats),
                      summary: { _ in tokenizerStatsSummary(o(DemoLayout.tokenizerStats)) }),
            // The rate is in the arguments (so in the stage's key) only when set: at 0 the key stays today's.
            DemoStage(name: "tokenize", args: ["tokenize", "--tokenizer", o(DemoLayout.tokenizer), "--fim-rate", "0.1", "--fim-spm-rate", "0", "--seed", "0"]
                                             + (splitProbability > 0 ? ["--split-punctuation-newline", String(splitProbability)] : [])
                                             + ["-o", o(DemoLayout.tokenized), text.path] + threads,
                      after: ["train-tokenizer", text.stage], outputs: [".bin", ".idx", ".json"].map { o(DemoLayout.tokenized) + $0 }),
            DemoStage(name: "pack", args: ["pack", "--seq-len", String(L), "--strategy", "best-fit", "--valid-fraction", String(validFraction), "--seed", "0",
                                           "-o", o(DemoLayout.packed), o(DemoLayout.tokenized)] + threads,
                      after: ["tokenize"],
                      outputs: [".bin", ".idx", ".json"].map { o(DemoLayout.packed) + $0 } + (validFraction > 0 ? [".bin", ".idx"].map { o(DemoLayout.packed) + "_valid" + $0 } : []),
                      summary: { $0.lines.first { $0.hasPrefix("pack ") } ?? $0.lines.last ?? "" }),
            // The run directory is rebuilt from scratch; its digest covers what identifies the run (its
            // log and state), not the model's weights, which are large.
            // The vocabulary size comes from the packed data's manifest (the tokenizer's real size,
            // which is below --vocab-size when train-tokenizer ran out of pairs).
            DemoStage(name: "train", args: ["train", "--config", quickConfig()?.0 ?? preset, "--minutes", String(minutes),
                                            "--data", o(DemoLayout.packed), "--out", o(DemoLayout.run)]
                                            + (precision == "fp8" ? ["--precision", "fp8"] : []) + threads,
                      corpusInputs: quickConfig().map { [$0.0] } ?? [], after: ["pack"], settings: presetSettings(),
                      outputs: [o(DemoLayout.metrics), o(DemoLayout.run + "/checkpoint/model.safetensors"), o(DemoLayout.run + "/checkpoint/state.json"),
                                o(DemoLayout.run + "/checkpoint/data.json")],
                      digestOnly: [o(DemoLayout.metrics), o(DemoLayout.run + "/checkpoint/state.json")], clean: [o(DemoLayout.run)]),
        ]
        var bpb = ["bpb", "--run", o(DemoLayout.run), "--tokenizer", o(DemoLayout.tokenizer), "--normalize", "nfkc", "--baselines", "--json"]
        if let bpbMaxDocs { bpb += ["--max-docs", String(bpbMaxDocs)] }
        stages.append(DemoStage(name: "bpb", args: bpb + threads + [c("test.jsonl.zst")], corpusInputs: [c("test.jsonl.zst")],
                                after: ["train", "train-tokenizer"], outputs: [o(DemoLayout.bpb)], stdout: o(DemoLayout.bpb),
                                summary: { _ in bpbSummary(o(DemoLayout.bpb)) },
                                available: TokenMill.configuration.subcommands.contains { $0.configuration.commandName == "bpb" }))
        return stages
    }

    /// The demo.json settings row for the cleaning stages.
    var cleaningSetting: String {
        let m = MinHashConfig()
        let dedup = noDedup ? "dedup off" : "dedup: exact + MinHash (word \(m.ngram)-grams, \(m.bands) bands of \(m.rows), numbers \(keepNumbers ? "kept" : "as 0"))"
        let decontamination = noDecontaminate ? "decontamination off"
            : "decontamination: \(DecontaminationConfig().ngram)-gram overlap with test.jsonl.zst, removed" + (maxNGramDocuments > 0 ? " (n-grams in more than \(maxNGramDocuments) training documents ignored)" : "")
        return dedup + "; " + decontamination
    }

    /// The preset's resolved settings as canonical JSON: a build whose preset differs retrains.
    func presetSettings() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let config = RunConfig.preset(preset), let data = try? encoder.encode(config) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The tiny preset logs every 50 steps, more than a run of seconds may reach: quick runs train from
    /// a copy of it (OUT/tiny.json) that logs every 5 steps and validates every 25.
    func quickConfig() -> (String, RunConfig)? {
        guard preset == "tiny", var config = RunConfig.preset(preset) else { return nil }
        config.training.logEvery = 5
        config.training.evalEvery = 25
        return ((out as NSString).appendingPathComponent("tiny.json"), config)
    }

    /// The config as JSON without model.vocab_size, which train takes from the packed data's manifest
    /// (a config file that names another size is an error).
    func configWithoutVocabularySize(_ config: RunConfig) throws -> Data {
        guard var top = try JSONSerialization.jsonObject(with: config.encoded()) as? [String: Any],
              var model = top["model"] as? [String: Any] else { return config.encoded() }
        model["vocab_size"] = nil
        top["model"] = model
        return try JSONSerialization.data(withJSONObject: top, options: [.prettyPrinted, .sortedKeys])
    }

    func writeRecord(_ records: [DemoStageRecord], corpus: String) throws {
        let config = RunConfig.preset(preset)!
        var settings: [[String]] = [
            ["corpus", corpus],
            ["output directory", out],
            ["normalization", "NFKC (+ BOM, CRLF and control-character cleanups)"],
            ["tokenizer", "byte-level BPE, deepseek-v3 pre-tokenizer, \(formatCount(vocabSize)) ids, specials <|endoftext|> <|fim_begin|> <|fim_hole|> <|fim_end|>"],
            ["fill-in-the-middle", "rate 0.1, PSM"],
            ["packing", "best-fit, rows of \(config.training.sequenceLength) tokens, \(validFraction) of documents held out for validation"],
            ["model", "preset \(preset): \(config.model.numHiddenLayers) layers (\(config.model.firstKDenseReplace) dense), hidden \(config.model.hiddenSize), \(config.model.nSharedExperts) shared + \(config.model.nRoutedExperts) routed experts, top-\(config.model.numExpertsPerTok), MTP depth \(config.model.numNextnPredictLayers), bias step γ \(String(format: "%g", config.model.biasUpdateSpeed)), balance loss α \(String(format: "%g", config.model.auxLossAlpha))"],
            ["training", "\(formatMinutes(minutes)), \(config.training.microBatchSize) × \(config.training.sequenceLength) tokens × \(config.training.gradientAccumulation) accumulation a step, lr \(config.training.learningRate) (embedding ×\(String(format: "%g", config.training.embeddingLRScale)), head ×\(String(format: "%g", config.training.headLRScale)), routers ×\(String(format: "%g", config.training.routerLRScale)))"],
            ["bits per byte", "test.jsonl.zst" + (bpbMaxDocs.map { ", first \($0) documents" } ?? "") + ", normalized as in training; zstd and xz baselines"],
            ["machine", "\(ProcessInfo.processInfo.activeProcessorCount) cores" + (progressOptions.threads.map { ", \($0) threads" } ?? "")],
            ["tokenmill", TokenMill.configuration.version],
        ]
        if splitProbability > 0 {  // a row only when set, so the default report is today's
            settings.insert(["token-boundary randomization", "punctuation + line-break pre-tokens split with probability \(splitProbability)"], at: 5)
        }
        if precision == "fp8" {  // likewise
            settings.insert(["precision", "fp8: fine-grained E4M3 linear layers (1×128 activation tiles, 128×128 weight blocks), AdamW moments in bfloat16"],
                            at: settings.firstIndex { $0[0] == "bits per byte" }!)
        }
        settings.insert(["clean data", cleaningSetting], at: 3)  // after normalization; inserted last, so the row above keeps its place after fill-in-the-middle
        // What the tokenizer and the model were trained on, and whether bpb's test file was decontaminated against.
        let text = noDecontaminate ? (noDedup ? nil : DemoLayout.trainDeduplicated) : DemoLayout.trainCleaned
        let cleaned = try text.flatMap { try CleanedCorpusManifest.cleaning(ofCorpusFile: (out as NSString).appendingPathComponent($0)) }
        let test = (corpus as NSString).appendingPathComponent("test.jsonl.zst")
        let testHash = try sha256(ofFile: test)
        let cleaning = CleaningFigures(record: cleaned, bpbTest: test, bpbTestDecontaminated: cleaned?.decontaminated(againstSHA256: testHash) ?? false)
        let object: [String: Any] = [
            "format": "tokenmill-demo", "settings": settings, "cleaning": cleaning.json,
            "stages": records.map { ["name": $0.name, "seconds": $0.seconds, "reused": $0.reused, "summary": $0.summary] as [String: Any] },
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        try writeFileAtomically(Array(data) + [10], to: (out as NSString).appendingPathComponent(DemoLayout.record))
    }
}

/// `tokenmill report DIR`: rewrite report.html and report.json from a demo directory.

private func formatMinutes(_ m: Double) -> String {
    m == m.rounded() ? "\(Int(m)) min" : String(format: "%g min", m)
}

/// The corpus directory: the option, else `corpora/` in the working directory or above the executable.
func locateCorpus(_ option: String?) throws -> String {
    let fm = FileManager.default
    func holds(_ dir: String) -> Bool {
        fm.fileExists(atPath: (dir as NSString).appendingPathComponent("train.jsonl.zst")) && fm.fileExists(atPath: (dir as NSString).appendingPathComponent("test.jsonl.zst"))
    }
    if let option {
        guard holds(option) else {
            throw ValidationError("--corpus \(option): needs train.jsonl.zst and test.jsonl.zst in that directory.")
        }
        return option
    }
    var looked: [String] = []
    var candidates = ["corpora"]
    if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        var dir = (exe as NSString).deletingLastPathComponent
        while dir != "/" && !dir.isEmpty {
            candidates.append((dir as NSString).appendingPathComponent("corpora"))
            dir = (dir as NSString).deletingLastPathComponent
        }
    }
    for dir in candidates {
        if holds(dir) { return dir }
        looked.append(dir)
    }
    throw RuntimeFailure(description: "the bundled corpus (corpora/train.jsonl.zst and corpora/test.jsonl.zst) was not found in ./corpora or above the executable (\(looked.count) places); run from the TokenMill checkout or pass --corpus DIR")
}

private func tokenizerStatsSummary(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path),
          let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
          let overall = o["overall"] as? [String: Any],
          let bytes = (overall["bytes"] as? NSNumber)?.doubleValue, let tokens = (overall["tokens"] as? NSNumber)?.doubleValue, tokens > 0 else { return "" }
    let groups = (o["groups"] as? [String: Any])?.count ?? 0
    return String(format: "tokenizer-stats: %.3f bytes per token on the test split (%@ tokens, %d subsets)", bytes / tokens, formatCount(Int(tokens)), groups)
}

private func bpbSummary(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path),
          let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
          let overall = o["overall"] as? [String: Any], let bpb = (overall["bpb"] as? NSNumber)?.doubleValue else { return "" }
    var s = String(format: "bpb: %.4f bits per byte overall", bpb)
    let baselines = (overall["baselines"] as? [String: Any] ?? [:]).compactMap { k, v in (v as? NSNumber).map { (k, $0.doubleValue) } }.sorted { $0.0 < $1.0 }
    if !baselines.isEmpty { s += " (" + baselines.map { String(format: "%@ %.4f", $0.0, $0.1) }.joined(separator: ", ") + ")" }
    return s
}

/// The final table: BPB per subset beside the compressors.
func bpbTable(_ data: ReportData, test: String) -> String? {
    guard let overall = data.bpbOverall else { return nil }
    let names = Array(Set((data.bpbRows + [overall]).flatMap { $0.baselines.map(\.0) })).sorted()
    let header = ["subset", "documents", "bytes", "BPB", "95% interval"] + names
    var rows = [header]
    for r in data.bpbRows.sorted(by: { $0.bytes > $1.bytes }) + [overall] {
        rows.append([r.name, formatCount(r.documents), formatCount(r.bytes), String(format: "%.4f", r.bpb),
                     r.interval.map { String(format: "%.4f–%.4f", $0.0, $0.1) } ?? "-"]
                    + names.map { n in r.baselines.first { $0.0 == n }.map { String(format: "%.4f", $0.1) } ?? "-" })
    }
    let table = TextTable(columns: [.init(.left)] + Array(repeating: .init(.right), count: header.count - 1))
    return (["bits per byte on \(test) (lower is better):"] + table.render(rows, rulesAfter: [0, rows.count - 2])).joined(separator: "\n")
}
