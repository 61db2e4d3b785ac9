// `tokenmill decontaminate`: training documents sharing a word n-gram with test documents
// (library: Deduplication.cleanCorpus with test files and dedup off).
import ArgumentParser
import CorpusIO
import Deduplication
import Foundation
import Pipeline

enum ContaminationAction: String, ExpressibleByArgument, CaseIterable {
    case remove, flag
}

struct DecontaminateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decontaminate",
        abstract: "Find training documents that share a 13-word n-gram with evaluation documents, and remove or flag them.",
        discussion: """
        Example: tokenmill decontaminate --against corpora/test.jsonl.zst -o clean.jsonl.zst --report hits.jsonl corpora/train.jsonl.zst

        Both sides are simplified before n-grams are taken (as GPT-3 and lm-evaluation-harness): \
        lowercase, diacritics dropped, punctuation splits words; numbers are kept. A training document is \
        contaminated when any of its --ngram-word sequences also occurs in a test document. --report gets \
        one JSON line per test document hit: its file, its position in that file (0-based) and the input \
        positions of the training documents that hit it. With -o FILE, FILE.cleaning.json records the \
        test files (path and SHA-256), counts and settings, on top of the input's own record (dedup's, \
        when the input is `dedup -o`'s output); `train` copies it into the run's data.json and `bpb` \
        warns when its test file is not among them. Test documents shorter than --ngram words cannot \
        be hit and are counted. Memory: the test side's n-grams in an open-addressing table of 8-byte \
        hashes, sized to the next power of two at or above 4/3 x the test n-gram count (10.7 to 21.3 bytes \
        per test n-gram: 2.1 MB for the bundled test split; 2.5e8 test 13-grams, about what the \
        Pile test split's "over 1 GiB" of text holds, take 4.3 GB), plus one entry per shared n-gram and contaminated training document, plus \
        2 x threads batches of 1 MiB of training input.
        """
    )

    @OptionGroup var input: InputOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: "A test file (or directory or glob) to decontaminate against; repeat for several.")
    var against: [String] = []

    @Option(name: [.short, .long], help: "The training documents that stay (.jsonl or .jsonl.zst); stdout when omitted or '-'.")
    var output: String?

    @Option(help: "Write one JSON line per test document hit (file, position, training positions) to this file.")
    var report: String?

    @Option(help: "What to do with contaminated training documents: remove them from the output, or flag them (report only, output unchanged).")
    var action: ContaminationAction = .remove

    @Option(help: "Words per n-gram.")
    var ngram: Int = DecontaminationConfig().ngram

    @Option(name: .customLong("max-ngram-documents"), help: "Ignore a test n-gram that more than this many training documents contain (shared boilerplate such as license headers; costs one more pass over the training input); by default none is ignored.")
    var maxNgramDocuments: Int?

    func validate() throws {
        if against.isEmpty { throw ValidationError("give at least one --against TEST file.") }
        if ngram < 1 { throw ValidationError("--ngram must be at least 1.") }
        if let m = maxNgramDocuments, m < 1 { throw ValidationError("--max-ngram-documents must be at least 1.") }
    }

    func run() throws {
        try reportingErrors {
            let progress = progressOptions.makeReporter("decontaminate")
            var options = CleaningOptions()
            options.dedup = false
            options.testFiles = try expandInputs(against)
            options.decontamination = DecontaminationConfig(ngram: ngram)
            options.removeContaminated = action == .remove
            options.maxTrainingDocumentsPerNGram = maxNgramDocuments
            options.threads = progressOptions.workerThreads
            let testOptions = input.readOptions
            // Each test file is read three times (count, insert, attribute): its warnings are printed on the first.
            var opened = Set<String>()
            let openTest = { (path: String) -> CorpusReader in
                let first = opened.insert(path).inserted
                return CorpusReader(inputs: [path], options: testOptions, warn: first ? { printError($0) } : { _ in })
            }
            let r = try cleanCorpus(open: { try input.makeReader() }, openTest: openTest,
                                    output: output, removedOutput: nil, contaminationOutput: report, workDirectory: NSTemporaryDirectory(),
                                    options: options, warn: { printError($0) },
                                    progress: { _, docs, bytes in progress.update(documents: docs, bytes: bytes) })
            progress.finish()
            try writeCleaningSidecars(output: output, inputs: input.inputs, record: CleaningRecord(r, options: options, removedList: nil, hitsList: report),
                                      warn: { printError($0) })
            printError(decontaminationSummary(r, removed: action == .remove) + skippedSuffix(r.skipped) + String(format: "; %.2f s", progress.elapsed))
        }
    }
}
