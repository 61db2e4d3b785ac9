// `tokenmill bpb`: bits per byte of a trained model on Pile-format test files, per subset, with bootstrap
// intervals and optional compression baselines (Evaluation target).
import ArgumentParser
import CorpusIO
import Evaluation
import Foundation
import Normalization
import Pipeline
import Tokenization
import Training

struct BPBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpb",
        abstract: "Bits per byte of a trained model on Pile-format test files, per subset.",
        discussion: """
        Example: tokenmill bpb --run runs/small --baselines corpora/test.jsonl.zst

        BPB = (sum of the scored tokens' negative log-likelihoods in nats) / (ln 2 × the UTF-8 bytes of \
        the documents' original text, before any normalization); byte perplexity = 2^BPB. Sums run over \
        documents, so the overall row is byte-weighted, not a mean of subsets. Each document is scored on \
        its own: its first window is the end-of-text token followed by its first T−1 tokens and scores \
        its first T tokens (T = the run's sequence length); later windows score the next --stride tokens \
        with the tokens before them as context (lm-evaluation-harness's rolling windows when the stride \
        is T); every token is scored exactly once. A stride below T gives each token more context and \
        is slower (about T/stride times the work). The end-of-text token after the document is not \
        scored unless --score-eod is given, and then each document counts one extra byte for it. \
        Subsets come from meta.pile_set_name (missing: unknown); empty documents are counted and \
        skipped. The 95% interval resamples documents within each subset (1000 times, seeded); the \
        overall interval adds the subsets' resamples (stratified). --baselines adds the BPB of zstd -19, \
        zstd -19 --long, xz -9 and xz -9e on each subset's concatenated original texts (the table shows \
        the --long and -9e columns; the JSON all four). Without --tokenizer the tokenizer is the one \
        the run's checkpoint/data.json names (written by `tokenmill train` from the dataset's manifest), \
        checked against its recorded SHA-256; without --normalize each document is normalized as that \
        record says the training data was (`tokenmill normalize` records it, `tokenize` and `pack` carry \
        it), else not at all; the JSON's normalization_source says which (--normalize, the record's \
        path, or "not recorded"). When the record says how the training data was cleaned (`dedup`, \
        `decontaminate`, `prepare` and `demo` write it beside the cleaned text; `train` copies it), bpb \
        prints one line saying whether each test file was among the decontamination targets (compared by \
        SHA-256, so a copy counts and an edited file does not), a warning when it was not; without such a \
        record (an imported model, data cleaned elsewhere or not at all) one note says it cannot tell. \
        Runs without a record (or trained on a raw token file) need --tokenizer. \
        The tokenizer's vocabulary size must equal the model's. Memory: the model with its \
        activations for --batch rows, 24 bytes per document for the bootstrap, and the read buffers; \
        with --baselines the texts are spilled to temporary files, not held.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions
    @Option(name: .customLong("tokenizer"), help: "The tokenizer: a tokenizer.json, a vocab.json (with merges.txt beside it), a .tiktoken file, or a directory holding one (default: the one the run's training data names).")
    var tokenizerPath: String?

    @Option(help: "The pre-tokenizer of a .tiktoken file whose name does not imply one (gpt2, cl100k, o200k, llama3, qwen2, deepseek-v3).")
    var pretokenizer: PreTokenizerPreset?

    @Option(name: .customLong("run"), help: "The run directory written by `tokenmill train --out` (its checkpoint/ is loaded).")
    var runDirectory: String?

    @Option(help: "A checkpoint directory (model.safetensors with tokenmill.json), instead of --run.")
    var checkpoint: String?

    @Option(help: "Normalize each document with the cleanups and this form of `tokenmill normalize --form`; none: the text as it is (default: as the run's training data was, when recorded; else none).")
    var normalize: NormalizationForm?

    @Option(help: "Tokens scored per window after the first (1 to the context length; default: the context length).")
    var stride: Int?

    @Option(name: .customLong("max-docs"), help: "Stop after this many documents (empty ones included).")
    var maxDocs: Int?

    @Flag(name: .customLong("score-eod"), help: "Also score the end-of-text token after each document (and count one byte for it).")
    var scoreEOD = false

    @Option(name: .customLong("eod-token"), help: "The end-of-text token's text (default: the tokenizer's <|endoftext|>, <｜end▁of▁sentence｜>, <|end_of_text|> or </s>).")
    var eodToken: String?

    @Option(name: .customLong("subset-field"), help: "The JSON field naming a document's subset, as a dotted path.")
    var subsetField = "meta.pile_set_name"

    @Flag(help: "Print the report as JSON instead of a table.")
    var json = false

    @Option(name: .customLong("per-doc"), help: "Write one JSON line per document (subset, index, bytes, tokens, nll_nats, bpb) to this file.")
    var perDoc: String?

    @Flag(help: "Add the BPB of zstd -19 (--long) and xz -9 (-9e) on each subset's texts.")
    var baselines = false

    @Option(help: "Windows per forward pass (rows of the model's batch).")
    var batch: Int = 8

    @Option(help: "Bootstrap resamples for the 95% interval.")
    var resamples: Int = 1000

    @Option(help: "Seed of the bootstrap.")
    var seed: UInt64 = 0

    func validate() throws {
        if (runDirectory == nil) == (checkpoint == nil) { throw ValidationError("Give exactly one of --run RUN and --checkpoint DIR.") }
        if let stride, stride < 1 { throw ValidationError("--stride must be at least 1.") }
        if let maxDocs, maxDocs < 1 { throw ValidationError("--max-docs must be at least 1.") }
        if batch < 1 { throw ValidationError("--batch must be at least 1.") }
        if resamples < 0 { throw ValidationError("--resamples must be at least 0.") }
        if subsetField.isEmpty { throw ValidationError("--subset-field must not be empty.") }
    }

    func run() throws {
        try TrainingThreads.$count.withValue(progressOptions.threads ?? TrainingThreads.count) { try reportingErrors {
            if let t = progressOptions.threads { setBLASThreads(t) }
            // 1. model, tokenizer, end-of-text id
            let modelPath = runDirectory ?? checkpoint!
            let dir = try runDirectory.map { try CheckpointModel.directory(run: $0) } ?? checkpoint!
            try verifyCheckpoint(dir)
            let config = try CheckpointModel.config(directory: dir)
            let T = config.training.sequenceLength
            let S = stride ?? T
            if S > T { throw ValidationError("--stride \(S) is larger than the model's context (\(T) tokens).") }
            let record = try savedTrainingDataRecord(checkpoint: dir)
            let (tokenizerPath, tokenizerSource) = try self.tokenizerPath.map { ($0, "--tokenizer") } ?? recordedTokenizer(record, checkpoint: dir)
            let tokenizer = try TokenizerOptions.load(path: tokenizerPath, preset: pretokenizer)
            guard tokenizer.vocabularySize == config.model.vocabSize else {
                throw RuntimeFailure(description: "\(tokenizerPath): the tokenizer has \(tokenizer.vocabularySize) ids but the model's vocabulary (\(dir)) has \(config.model.vocabSize); use the tokenizer the model was trained with")
            }
            guard let eod = tokenizer.endOfText(named: eodToken)?.id else {
                throw ValidationError(Tokenizer.missingEndOfText(named: eodToken, hint: "name one with --eod-token"))
            }
            let model = try CheckpointModel.load(directory: dir, config: config, batch: batch)
            let scorer = BPBScorer(model: model, eod: Int32(eod), stride: S, scoreEOD: scoreEOD)
            // The normalization: --normalize, else the record's, else none.
            let recorded = record?.normalization
            let normalization: String, normalizationSource: String
            let normalizer: TextNormalizer?
            if let normalize {
                normalizer = normalize == .none ? nil : try TextNormalizer(form: normalize)
                (normalization, normalizationSource) = (normalize.rawValue, "--normalize")
            } else if let recorded {
                normalizer = try TextNormalizer(form: recorded.form, cleanups: recorded.cleanups)
                (normalization, normalizationSource) = (recorded.summary, "\(dir)/\(trainingDataRecordName)")
            } else {
                normalizer = nil
                (normalization, normalizationSource) = ("none", "not recorded")
            }
            // 2. documents → tokens → scores
            var loop = BPBScoreLoop(scorer: scorer, encoder: try tokenizer.makeEncoder(), normalizer: normalizer)
            loop.compressors = baselines ? try CompressionBaselines() : nil
            loop.subsetField = subsetField
            loop.maxDocs = maxDocs
            loop.perDocument = try perDoc.map { try OutputFile(path: $0) }
            let r = try loop.evaluate(reader: try input.makeReader(), inputs: input.inputs.joined(separator: ", "), resamples: resamples, seed: seed,
                                      progress: progressOptions.makeReporter("bpb"), warn: printError)
            // 3. report
            let settings = BPBSettings(model: modelPath, tokenizer: tokenizerPath, normalization: normalization,
                                       context: T, stride: S, scoreEOD: scoreEOD, resamples: resamples, seed: seed,
                                       tokenizerSource: tokenizerSource, normalizationSource: normalizationSource)
            let text = json ? bpbReportJSON(settings: settings, subsets: r.subsets, overall: r.overall)
                : bpbReportTable(settings: settings, subsets: r.subsets, overall: r.overall, baselines: baselines)
            try writeStandardOutput(text, what: "the report")
            try noteDecontamination(record, checkpoint: dir, inputs: input.inputs, warn: printError)
            printError(r.line)
        } }
    }
}

/// The tokenizer the run's training-data record names: the path as recorded (relative to the current
/// directory) or as resolved at training time, whichever holds the recorded SHA-256. No record, or one
/// naming no tokenizer: a usage error asking for --tokenizer; a missing or changed file: exit 1.
func recordedTokenizer(_ record: TrainingDataRecord?, checkpoint dir: String) throws -> (path: String, source: String) {
    let recordPath = dir + "/" + trainingDataRecordName
    guard let record else {
        throw ValidationError("\(dir) has no \(trainingDataRecordName) naming its tokenizer (a run trained before TokenMill recorded it, or not by `tokenmill train`); pass --tokenizer with the tokenizer the model was trained with.")
    }
    guard let t = record.tokenizer else {
        throw ValidationError("\(recordPath): the training data (\(record.data ?? "?")) names no tokenizer; pass --tokenizer with the tokenizer the model was trained with.")
    }
    let (path, hash) = (t.path, t.sha256)
    let candidates = [path, t.resolved].compactMap { $0 }.filter { FileManager.default.fileExists(atPath: $0) }
    guard !candidates.isEmpty else {
        throw RuntimeFailure(description: "\(path): the tokenizer the run was trained with (named in \(recordPath)) is missing; pass --tokenizer")
    }
    var first: (String, String)? = nil
    for c in candidates {
        let actual = try sha256(ofFile: tokenizerSourceFile(c))
        if actual == hash { return (c, "\(recordPath), SHA-256 checked") }
        if first == nil { first = (c, actual) }
    }
    throw RuntimeFailure(description: "\(first!.0): the tokenizer changed since the run was trained (SHA-256 \(first!.1.prefix(16))…, \(recordPath) records \(hash.prefix(16))…); pass --tokenizer")
}

/// One line per test file on whether the training data was decontaminated against it (by SHA-256): a
/// note when it was, a warning when the record says how the data was cleaned and it was not, and one
/// note in all when there is no record to tell (stdin cannot be hashed: a note).
func noteDecontamination(_ record: TrainingDataRecord?, checkpoint dir: String, inputs: [String], warn: (String) -> Void) throws {
    let recordPath = dir + "/" + trainingDataRecordName
    guard let record, record.cleaning != nil else {
        let why = record == nil ? "\(dir) has no \(trainingDataRecordName)" : record?.importedFrom != nil ? "an imported model" : "\(recordPath) records no cleaning of the training data"
        warn("note: \(why): cannot tell whether the training data was decontaminated against the test files")
        return
    }
    for file in try expandInputs(inputs) {
        guard file != "-" else { warn("note: standard input cannot be compared with the decontamination targets in \(recordPath)"); continue }
        switch record.decontaminationStatus(testSHA256: try sha256(ofFile: file)) {
        case .decontaminated:
            warn("note: \(file) was among the decontamination targets of the training data (\(recordPath))")
        case .notAmongTargets(let corpora):
            warn("warning: \(file) was not among the decontamination targets of the training data (\(corpora.joined(separator: ", ")) in \(recordPath)): the model may have trained on text of it")
        case .unknown:
            break
        }
    }
}
