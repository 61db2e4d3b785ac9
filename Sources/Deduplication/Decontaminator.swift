// Decontamination: find training documents that share a word n-gram (13 by default, as GPT-3 and
// lm-evaluation-harness) with evaluation documents.
// Policy: both sides are simplified as for dedup (WordHasher: NFD without diacritics, lowercase,
// punctuation splits words) but numbers are kept as written; an n-gram is n consecutive words, and a
// shared n-gram is a shared 64-bit n-gram hash (two different n-grams collide with probability 2^-64).
// A test document shorter than n words has no n-gram and cannot be hit (counted as `shortTestDocuments`).
// Phases: 1. count the test n-grams (to size the table), 2. insert them, (2b. optionally, `ignore` the
// n-grams that too many training documents hold: boilerplate), 3. the caller streams training documents
// through `sharedNGrams(in:words:)` and `record`, 4. `attribute` re-reads the test documents to say
// which were hit by which training documents.
// Memory: `NGramSet.bytes(forNGrams:)`: 8 bytes a slot, the next power of two at or above 4/3 × the
// test n-grams (so 10.7–21.3 bytes per test n-gram), plus, for the hits, one entry per distinct shared
// n-gram and one per contaminated training document.

import CorpusIO
import Foundation

/// A set of 64-bit n-gram hashes: open addressing with linear probing, a fixed capacity chosen up front.
/// Zero marks an empty slot; the hash 0 itself is a flag beside the table.
public struct NGramSet: Sendable {
    private var slots: [UInt64]
    private let mask: Int
    private var hasZero = false
    public private(set) var count = 0

    /// The slots a set for `n` n-grams gets: a power of two with load at most 3/4.
    public static func slots(forNGrams n: Int) -> Int {
        var s = 16
        while s * 3 < n * 4 { s *= 2 }
        return s
    }

    /// The table's size in bytes for `n` n-grams.
    public static func bytes(forNGrams n: Int) -> Int { 8 * slots(forNGrams: n) }

    public init(capacity n: Int) {
        let s = NGramSet.slots(forNGrams: n)
        slots = [UInt64](repeating: 0, count: s)
        mask = s - 1
    }

    public var bytes: Int { slots.count * 8 }

    /// Inserts `h`; returns whether it was new. Precondition: fewer elements than the capacity given.
    @discardableResult
    public mutating func insert(_ v: UInt64) -> Bool {
        if v == 0 {
            if hasZero { return false }
            hasZero = true; count += 1; return true
        }
        var i = Int(truncatingIfNeeded: mix64(v)) & mask
        while true {
            let s = slots[i]
            if s == v { return false }
            if s == 0 {
                precondition(count < mask, "NGramSet is full: size it with the n-gram count")
                slots[i] = v; count += 1; return true
            }
            i = (i + 1) & mask
        }
    }

    public func contains(_ v: UInt64) -> Bool {
        if v == 0 { return hasZero }
        var i = Int(truncatingIfNeeded: mix64(v)) & mask
        while true {
            let s = slots[i]
            if s == v { return true }
            if s == 0 { return false }
            i = (i + 1) & mask
        }
    }
}

/// Settings of decontamination.
public struct DecontaminationConfig: Sendable, Equatable {
    /// Words per n-gram.
    public var ngram = 13
    public init(ngram: Int = 13) { self.ngram = ngram }
}

/// One test document that a training document overlaps.
public struct ContaminatedTestDocument: Sendable, Equatable {
    public var testFile: String
    /// Position of the document within its test file.
    public var testPosition: Int
    /// Input positions of the training documents sharing an n-gram with it, ascending.
    public var trainingPositions: [Int]
    /// `{"test_file":"…","test_position":N,"training_positions":[…]}` and a newline.
    public var jsonLine: String {
        var file: [UInt8] = []
        Array(testFile.utf8).withUnsafeBytes { appendJSONString($0, to: &file) }
        return "{\"test_file\":\(String(decoding: file, as: UTF8.self)),\"test_position\":\(testPosition),\"training_positions\":[\(trainingPositions.map(String.init).joined(separator: ","))]}\n"
    }
}

/// The test side of decontamination, and the hits recorded against it.
public final class Decontaminator {
    public let config: DecontaminationConfig
    public let testFiles: [String]
    public private(set) var testDocuments = 0
    public private(set) var shortTestDocuments = 0
    public private(set) var set: NGramSet
    private let words: WordHasher
    /// Shared n-gram hash → training positions (ascending, as training documents come in order).
    private var hitsByNGram: [UInt64: [Int]] = [:]
    public private(set) var contaminatedTraining = 0

    /// Phases 1–2: reads every test document twice (count, then insert).
    /// - Parameters:
    ///   - open: opens a reader over one test file.
    ///   - warn: receives "warning: skipped <error>" for each test record the reader's options skip
    ///     (from the first read only).
    public init(testFiles: [String], config: DecontaminationConfig, open: (String) throws -> CorpusReader,
                warn: (String) -> Void = { _ in }) throws {
        self.config = config
        self.testFiles = testFiles
        let words = try WordHasher(normalizeNumbers: false)
        self.words = words
        var total = 0
        for f in testFiles {
            let reader = try open(f)
            while let batch = try reader.nextBatch() {
                let decoded = try decodeDocuments(batch, options: reader.options)
                for e in decoded.skipErrors { warn("warning: skipped \(e)") }
                for doc in decoded.documents { total += max(0, try words.words(doc.text).count - config.ngram + 1) }
            }
        }
        var set = NGramSet(capacity: total)
        var documents = 0, short = 0
        for f in testFiles {
            try open(f).forEachDocument { doc in
                documents += 1
                let grams = ngramHashes(try words.words(doc.text), n: config.ngram)
                if grams.isEmpty { short += 1 }
                for g in grams { set.insert(g) }
            }
        }
        self.set = set
        testDocuments = documents
        shortTestDocuments = short
    }

    /// Shared n-grams that no longer count (see `ignore`).
    public private(set) var ignored: Set<UInt64> = []

    /// From now on, `sharedNGrams` leaves out `grams` (test n-grams too common in the training data to
    /// mean contamination: license headers, manual colophons). Call before training documents are checked.
    public func ignore(_ grams: Set<UInt64>) { ignored = grams }

    /// Phase 3, pure part: the distinct test n-grams in `text`, less the ignored ones (thread-safe with a
    /// WordHasher per thread).
    /// - Complexity: O(n-grams of `text` + k log k) for k shared ones (a training document that copies a
    ///   whole test document shares all of its n-grams).
    public func sharedNGrams(in text: String, words: WordHasher) throws -> [UInt64] {
        let grams = ngramHashes(try words.words(text), n: config.ngram)
        var found = grams.filter { set.contains($0) && !ignored.contains($0) }
        guard found.count > 1 else { return found }
        found.sort()
        var distinct = 1
        for i in 1 ..< found.count where found[i] != found[distinct - 1] { found[distinct] = found[i]; distinct += 1 }
        found.removeLast(found.count - distinct)
        return found
    }

    /// Phase 3, recording part: notes that training document `position` shares `grams`; call in
    /// increasing position order. Returns whether the document is contaminated.
    @discardableResult
    public func record(position: Int, grams: [UInt64]) -> Bool {
        guard !grams.isEmpty else { return false }
        contaminatedTraining += 1
        for g in grams { hitsByNGram[g, default: []].append(position) }
        return true
    }

    /// Phase 4: the test documents that were hit, in test order, each with its training documents.
    public func attribute(open: (String) throws -> CorpusReader) throws -> [ContaminatedTestDocument] {
        var out: [ContaminatedTestDocument] = []
        guard !hitsByNGram.isEmpty else { return out }
        for f in testFiles {
            var position = 0
            try open(f).forEachDocument { doc in
                var training = Set<Int>()
                for g in ngramHashes(try words.words(doc.text), n: config.ngram) {
                    if let t = hitsByNGram[g] { training.formUnion(t) }
                }
                if !training.isEmpty { out.append(ContaminatedTestDocument(testFile: f, testPosition: position, trainingPositions: training.sorted())) }
                position += 1
            }
        }
        return out
    }
}
