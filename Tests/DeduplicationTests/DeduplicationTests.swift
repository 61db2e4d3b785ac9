// Dedup's parts on seeded random data: words, n-grams, MinHash against exact Jaccard, the external
// sort, signature files, union-find, and whole runs (single and sharded) on planted duplicates.
import CorpusIO
@testable import Deduplication
import Foundation
import Testing
import TokenMillTestSupport

/// Random text from a vocabulary of made-up words, seeded.
struct TextMaker {
    var rng: SplitMix64
    let vocabulary: [String]
    init(seed: UInt64, vocabularySize: Int = 5000) {
        var rng = SplitMix64(seed: seed)
        var v: [String] = []
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        for _ in 0 ..< vocabularySize {
            let n = 3 + Int(rng.next() % 6)
            v.append(String((0 ..< n).map { _ in letters[Int(rng.next() % 26)] }))
        }
        vocabulary = v
        self.rng = rng
    }
    mutating func words(_ n: Int) -> [String] { (0 ..< n).map { _ in vocabulary[Int(rng.next() % UInt64(vocabulary.count))] } }
    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
}

/// The JSON line `{"text": …, "id": id}`.
func jsonLine(_ text: String, id: Int) -> String {
    let data = try! JSONSerialization.data(withJSONObject: ["text": text], options: [])
    return String(decoding: data.dropLast(), as: UTF8.self) + ",\"id\":\(id)}\n"
}

func reader(_ path: String) -> CorpusReader { CorpusReader(inputs: [path], options: ReadOptions(), warn: { _ in }) }

@Suite struct WordTests {
    @Test func simplificationMatchesItsPolicy() throws {
        let w = try WordHasher(normalizeNumbers: true)
        #expect(try w.words("Hello, WORLD!  café") == w.words("hello world cafe"))
        #expect(try w.words("Ünïcode—dashes…") == w.words("unicode dashes"))
        #expect(try w.words("pi is 3.14 or 3,14159") == w.words("pi is 7 or 42"))
        #expect(try w.words("1,000,000") == w.words("0 0"))
        #expect(try w.words("abc123") == w.words("abc9"))
        #expect(try w.words("cat") != w.words("cats"))
        #expect(try w.words("a+b=c").count == 3)
        #expect(try w.words("日本語 テキスト").count == 2)
        let keep = try WordHasher(normalizeNumbers: false)
        #expect(try keep.words("pi is 3.14") != keep.words("pi is 7.14"))
        #expect(try keep.words("pi is 3.14") == keep.words("PI, is 3 14"))
    }

    @Test func ngramsAreOrderedWindows() throws {
        let w = try WordHasher(normalizeNumbers: true)
        let a = try w.words("one two three four five six")
        #expect(ngramHashes(a, n: 5).count == 2)
        #expect(ngramHashes(a, n: 7).isEmpty)
        #expect(Set(ngramHashes(a, n: 2)).count == 5)
        #expect(ngramHashes(try w.words("a b"), n: 2) != ngramHashes(try w.words("b a"), n: 2))
        #expect(ngramHashes(a, n: 3)[1] == ngramHashes(try w.words("two three four"), n: 3)[0])
    }
}

@Suite struct ExactKeyTests {
    /// The exact key is the first 16 bytes of SHA-256 of the NFC text, as two big-endian words: "é" written
    /// decomposed (e + U+0301) gets the key of the composed form, whose SHA-256 sha256sum would print.
    @Test func exactKeyIsTheFirstSixteenBytesOfSHA256OfNFC() throws {
        let signer = try DocumentSigner(config: MinHashConfig())
        let composed = "caf\u{E9} au lait"
        let sha = SHA256()
        sha.update(Array(composed.utf8))
        let hex = sha.hexDigest()
        let expected = (UInt64(hex.prefix(16), radix: 16)!, UInt64(hex.dropFirst(16).prefix(16), radix: 16)!)
        let key = try signer.exactKey("cafe\u{301} au lait")
        #expect(key == expected)
        #expect(try signer.exactKey(composed) == expected)
    }
}

@Suite struct MinHashTests {
    @Test func affineIsExactModuloTheMersennePrime() {
        var rng = SplitMix64(seed: 7)
        let p = UInt128(MinHasher.prime)
        for _ in 0 ..< 20_000 {
            let a = 1 + rng.next() % (MinHasher.prime - 1), b = rng.next() % MinHasher.prime
            let x = MinHasher.reduce(rng.next())
            let expected = (UInt128(a) * UInt128(x) + UInt128(b)) % p
            #expect(UInt128(MinHasher.affine(a, x, b)) == expected, "a \(a) x \(x) b \(b), seed 7")
        }
        #expect(MinHasher.reduce(UInt64.max) == UInt64((UInt128(UInt64.max) % p)))
    }

    @Test(arguments: [0.3, 0.5, 0.8, 0.95])
    func estimateTracksExactJaccard(target: Double) {
        let seed = UInt64(target * 1000)
        var rng = SplitMix64(seed: seed)
        let hasher = MinHasher(config: MinHashConfig(bands: 32, rows: 32))
        var errors: [Double] = []
        for _ in 0 ..< 8 {
            // |A ∩ B| / |A ∪ B| = common / (common + 2 × only) = target exactly.
            let total = 1000
            let common = Int((Double(total) * target).rounded())
            let only = (total - common) / 2
            let shared = (0 ..< common).map { _ in rng.next() }
            let a = shared + (0 ..< only).map { _ in rng.next() }
            let b = shared + (0 ..< only).map { _ in rng.next() }
            let exact = Double(common) / Double(common + 2 * only)
            let estimate = MinHasher.estimatedJaccard(hasher.signature(shingles: a)!, hasher.signature(shingles: b)!)
            errors.append(estimate - exact)
        }
        // 1024 hashes: standard error ≤ 0.016 per pair; the mean of 8 pairs within 0.02, each within 0.07.
        let mean = errors.reduce(0, +) / Double(errors.count)
        #expect(abs(mean) < 0.02, "mean error \(mean), seed \(seed)")
        #expect(errors.allSatisfy { abs($0) < 0.07 }, "errors \(errors), seed \(seed)")
    }

    @Test func bandKeysAgreeExactlyWhenBandsAgree() {
        let hasher = MinHasher(config: MinHashConfig())
        var sig = (0 ..< 112).map { UInt64($0) * 1_000_003 }
        let k1 = hasher.bandKeys(signature: sig)
        sig[8 * 3 + 5] += 1  // change one value of band 3
        let k2 = hasher.bandKeys(signature: sig)
        #expect(zip(k1, k2).enumerated().allSatisfy { i, p in (p.0 == p.1) == (i != 3) })
        #expect(Set(k1).count == 14)
        #expect(hasher.signature(shingles: []) == nil)
    }

    @Test func candidateProbabilityIsTheLSHCurve() {
        let c = MinHashConfig()
        #expect(abs(c.candidateProbability(0.8) - 0.92355) < 1e-4)
        #expect(abs(c.candidateProbability(0.5) - 0.05332) < 1e-4)
    }
}

@Suite struct SpillTests {
    @Test(arguments: [2, 7, 1000, 1 << 20])
    func externalSortEqualsSort(memoryRecords: Int) throws {
        let dir = try makeTemporaryDirectory("dedup-sort")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: UInt64(memoryRecords))
        let records = (0 ..< 5000).map { i in KeyedPosition(rng.next() % 50, rng.next() % 3, UInt64(i)) }
        let sorter = ExternalSorter(directory: dir.path, name: "t", memoryRecords: memoryRecords)
        for r in records { try sorter.append(r) }
        var out: [KeyedPosition] = []
        try sorter.forEachSorted { out.append($0) }
        #expect(out == records.sorted(), "memoryRecords \(memoryRecords)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func signatureFileRoundTripsAndRejectsDamage() throws {
        let dir = try makeTemporaryDirectory("dedup-sig")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = MinHashConfig(ngram: 3, bands: 4, rows: 2, seed: 9, normalizeNumbers: false)
        let path = dir.appendingPathComponent("s.bin").path
        let w = try SignatureFileWriter(path: path, config: config, shard: SignatureShard(index: 1, count: 2), files: 3 ..< 5, fileCount: 7)
        let sigs = [DocumentSignature(position: 1, exact0: 5, exact1: 6, bandKeys: [1, 2, 3, 4]),
                    DocumentSignature(position: 3, exact0: 7, exact1: 8, bandKeys: [])]
        for s in sigs { try w.append(s) }
        try w.commit(documents: 4)
        let r = try SignatureFileReader(path: path)
        #expect(r.info == SignatureFileInfo(config: config, shard: SignatureShard(index: 1, count: 2), files: 3 ..< 5, fileCount: 7, documents: 4, records: 2))
        var back: [DocumentSignature] = []
        try r.forEach { back.append($0) }
        #expect(back == sigs)
        // Truncated by one word: the size check names the file.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.removeLast(8)
        try bytes.write(to: URL(fileURLWithPath: path))
        let e = #expect(throws: DeduplicationError.self) { try SignatureFileReader(path: path) }
        #expect(e?.path == path)
    }

    @Test func unionFindRootsAreTheEarliestPosition() {
        var u = PositionUnionFind()
        u.union(9, 5); u.union(5, 7); u.union(12, 3); u.union(7, 12)
        for x: UInt64 in [9, 5, 7, 12, 3] { #expect(u.find(x) == 3) }
        u.union(20, 21)
        #expect(u.find(21) == 20)
    }
}

/// A corpus with planted duplicates: each base document, an exact copy, a one-word edit, and a
/// half-rewritten version (not a near duplicate at the defaults).
struct PlantedCorpus {
    var lines: [String] = []
    var expected: [Int: (survivor: Int, kind: DuplicateKind)] = [:]

    init(seed: UInt64, bases: Int) {
        var maker = TextMaker(seed: seed)
        var order: [(String, Int?, DuplicateKind?)] = []
        for _ in 0 ..< bases {
            let words = maker.words(300)
            var edited = words
            edited[maker.below(300)] = "changed"
            var rewritten = words
            for i in 0 ..< 300 where i % 2 == 0 { rewritten[i] = maker.words(1)[0] }
            order.append((words.joined(separator: " "), nil, nil))
            let base = order.count - 1
            order.append((words.joined(separator: " "), base, .exact))
            order.append((edited.joined(separator: " "), base, .near))
            order.append((rewritten.joined(separator: " "), nil, nil))
        }
        for (i, (text, base, kind)) in order.enumerated() {
            lines.append(jsonLine(text, id: i))
            if let base, let kind { expected[i] = (base, kind) }
        }
    }

    func write(to path: String) throws { try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: path)) }
}

@Suite struct DedupRunTests {
    func run(_ input: String, dir: URL, tag: String, signatures: [String]? = nil) throws -> (CleaningReport, Data, String) {
        try run([input], dir: dir, tag: tag, signatures: signatures)
    }

    func run(_ inputs: [String], dir: URL, tag: String, signatures: [String]? = nil) throws -> (CleaningReport, Data, String) {
        let out = dir.appendingPathComponent("\(tag).kept.jsonl").path
        let removed = dir.appendingPathComponent("\(tag).removed.jsonl").path
        let work = dir.appendingPathComponent("\(tag).work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var options = CleaningOptions()
        options.threads = 2
        options.sortMemoryBytes = 4096  // many sort runs
        let report = try cleanCorpus(open: { CorpusReader(inputs: inputs, options: ReadOptions(), warn: { _ in }) }, openTest: reader, output: out, removedOutput: removed,
                                     contaminationOutput: nil, signatures: signatures, workDirectory: work.path,
                                     options: options, warn: { _ in })
        return (report, try Data(contentsOf: URL(fileURLWithPath: out)), try String(contentsOfFile: removed, encoding: .utf8))
    }

    @Test func findsPlantedDuplicatesAndKeepsTheFirst() throws {
        let seed: UInt64 = 18
        let dir = try makeTemporaryDirectory("dedup-run")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = PlantedCorpus(seed: seed, bases: 40)
        let input = dir.appendingPathComponent("in.jsonl").path
        try corpus.write(to: input)
        let (report, kept, removedText) = try run(input, dir: dir, tag: "one")
        let d = try #require(report.dedup)
        #expect(report.documents == 160)
        #expect(d.removed.map(\.position) == corpus.expected.keys.sorted(), "seed \(seed)")
        for r in d.removed {
            #expect(r.survivor == corpus.expected[r.position]!.survivor && r.kind == corpus.expected[r.position]!.kind, "\(r), seed \(seed)")
        }
        #expect(d.clusters == 40 && d.exactRemoved == 40 && d.nearRemoved == 40)
        // Clusters are numbered in survivor order, and the kept file is the other records byte for byte.
        #expect(d.removed.filter { $0.kind == .exact }.map(\.cluster) == Array(0 ..< 40))
        let keptLines = corpus.lines.enumerated().filter { corpus.expected[$0.offset] == nil }.map(\.element)
        #expect(kept == Data(keptLines.joined().utf8))
        #expect(removedText.split(separator: "\n").first == "{\"position\":1,\"cluster\":0,\"survivor\":0,\"match\":\"exact\"}")
    }

    /// Templated problems that differ only in their numbers: near duplicates once numbers are "0", apart
    /// with `normalizeNumbers` off.
    @Test(arguments: [true, false])
    func numbersDecideTemplatedProblems(normalize: Bool) throws {
        let dir = try makeTemporaryDirectory("dedup-numbers")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 11)
        let lines = (0 ..< 6).map { i in
            let n = (0 ..< 40).map { _ in String(rng.next() % 100_000) }
            return jsonLine("Let x be \(n[0]). Solve \(n[1])*y + \(n[2]) = \(n[3]) for y. " + (4 ..< 40).map { "Then add \(n[$0]) to it." }.joined(separator: " "), id: i)
        }
        let input = dir.appendingPathComponent("in.jsonl").path
        try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: input))
        var options = CleaningOptions()
        options.minhash.normalizeNumbers = normalize
        var kept: [Int] = []
        let report = try cleanCorpus(open: { reader(input) }, openTest: reader, output: nil, removedOutput: nil, contaminationOutput: nil,
                                     workDirectory: dir.path, options: options, warn: { _ in }, onKept: { doc, position in
                                         #expect(doc.record.map { String(decoding: $0, as: UTF8.self) + "\n" } == lines[position])
                                         kept.append(position)
                                     })
        #expect(report.dedup!.removed.map(\.position) == (normalize ? [1, 2, 3, 4, 5] : []), "seed 11")
        #expect(kept == (normalize ? [0] : Array(0 ..< 6)))
        #expect(report.dedup!.removed.allSatisfy { $0.kind == .near && $0.survivor == 0 })
    }

    /// The planted corpus cut into four files of uneven size (duplicates cross the cuts); three shards of
    /// whole files, each reading only its own, cluster to the single run's output.
    @Test func shardedSignaturesGiveTheSameOutput() throws {
        let dir = try makeTemporaryDirectory("dedup-shards")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = PlantedCorpus(seed: 5, bases: 25)
        let cuts = [0, 10, 45, 52, 100]
        let inputs = (0 ..< 4).map { dir.appendingPathComponent("in\($0).jsonl").path }
        for k in 0 ..< 4 {
            try Data(corpus.lines[cuts[k] ..< cuts[k + 1]].joined().utf8).write(to: URL(fileURLWithPath: inputs[k]))
        }
        let (single, keptSingle, removedSingle) = try run(inputs, dir: dir, tag: "single")
        var files: [String] = [], signedFiles: [Range<Int>] = []
        for i in 0 ..< 3 {
            let shard = SignatureShard(index: i, count: 3)
            let plan = try InputShardPlan(inputs: inputs, index: i, count: 3)
            let path = dir.appendingPathComponent(shard.fileName).path
            let reader = CorpusReader(inputs: inputs, files: plan.files, options: ReadOptions(), warn: { _ in })
            let (docs, signed) = try writeSignatures(documents: PositionedDocuments(reader: reader, warn: { _ in }),
                                                     config: MinHashConfig(), shard: shard, path: path, threads: 2)
            #expect(docs == signed && docs == plan.files.reduce(0) { $0 + cuts[$1 + 1] - cuts[$1] })
            #expect(reader.inputBytesRead == plan.bytes)
            files.append(path)
            signedFiles.append(plan.files)
        }
        #expect(signedFiles.map(\.count).allSatisfy { $0 >= 1 } && signedFiles.last!.upperBound == 4)
        let (sharded, keptSharded, removedSharded) = try run(inputs, dir: dir, tag: "sharded", signatures: files.reversed())
        #expect(keptSharded == keptSingle)
        #expect(removedSharded == removedSingle)
        #expect(sharded.kept == single.kept && single.kept == 50)
        // A missing shard is an error naming the files' directory, not a silent partial run.
        #expect(throws: DeduplicationError.self) { _ = try run(inputs, dir: dir, tag: "missing", signatures: Array(files.prefix(2))) }
    }
}

@Suite struct DecontaminationTests {
    /// Cleans the training documents `training` makes (from the maker and the test document's 100 words)
    /// against one test document of 100 random words, with at most `limit` training documents per n-gram;
    /// `dedup`: exact duplicates removed first.
    private func decontaminate(seed: UInt64, limit: Int?, dedup: Bool = false,
                               training: (inout TextMaker, [String]) -> [String]) throws -> CleaningReport {
        var maker = TextMaker(seed: seed, vocabularySize: 50_000)
        let dir = try makeTemporaryDirectory("decontaminate-\(seed)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let test = maker.words(100)
        let testPath = dir.appendingPathComponent("test.jsonl").path
        try Data(jsonLine(test.joined(separator: " "), id: 0).utf8).write(to: URL(fileURLWithPath: testPath))
        let trainPath = dir.appendingPathComponent("train.jsonl").path
        try Data(training(&maker, test).joined().utf8).write(to: URL(fileURLWithPath: trainPath))
        var options = CleaningOptions()
        options.dedup = dedup
        options.nearDuplicates = false
        options.testFiles = [testPath]
        options.maxTrainingDocumentsPerNGram = limit
        return try cleanCorpus(open: { reader(trainPath) }, openTest: reader, output: nil, removedOutput: nil,
                               contaminationOutput: nil, workDirectory: dir.path, options: options, warn: { _ in })
    }

    /// One test document; 15 training documents share its first 13 words (boilerplate), one its words
    /// 50–62. With at most 10 training documents per n-gram, only the one counts.
    @Test(arguments: [nil, 10] as [Int?])
    func commonNGramsCanBeIgnored(limit: Int?) throws {
        let report = try decontaminate(seed: 21, limit: limit) { maker, test in
            (0 ..< 20).map { i -> String in
                let window = i < 15 ? Array(test[0 ..< 13]) : i == 15 ? Array(test[50 ..< 63]) : []
                return jsonLine((maker.words(40) + window + maker.words(40)).joined(separator: " "), id: i)
            }
        }
        #expect(report.contaminatedTests.map(\.trainingPositions) == [limit == nil ? Array(0 ... 15) : [15]], "seed 21")
        #expect(report.ignoredNGrams == (limit == nil ? 0 : 1))
        #expect(report.kept == (limit == nil ? 4 : 19))
    }

    /// Removed duplicates do not count towards the limit: 11 exact copies of a document holding a test
    /// 13-gram are one kept document, so with at most 10 per n-gram the n-gram counts and the survivor is
    /// contaminated (as when decontaminate reads dedup's output, the demo's way).
    @Test func duplicatesRemovedByDedupDoNotCountTowardsTheLimit() throws {
        let report = try decontaminate(seed: 23, limit: 10, dedup: true) { maker, test in
            let copied = jsonLine((maker.words(30) + test[0 ..< 13] + maker.words(30)).joined(separator: " "), id: 0)
            return Array(repeating: copied, count: 11) + [jsonLine(maker.words(60).joined(separator: " "), id: 1), jsonLine(maker.words(60).joined(separator: " "), id: 2)]
        }
        #expect(report.dedup?.exactRemoved == 10 && report.ignoredNGrams == 0, "seed 23")
        #expect(report.contaminatedTests.map(\.trainingPositions) == [[0]] && report.kept == 2, "seed 23")
    }

    /// A training document that repeats one test 13-gram 11 times holds it once: with at most 10 training
    /// documents per n-gram it is not ignored, and the document is contaminated.
    @Test func aRepeatedNGramCountsOncePerDocument() throws {
        let report = try decontaminate(seed: 22, limit: 10) { maker, test in
            let repeated = (0 ..< 11).flatMap { _ in maker.words(5) + test[20 ..< 33] }
            return [jsonLine(repeated.joined(separator: " "), id: 0), jsonLine(maker.words(50).joined(separator: " "), id: 1)]
        }
        #expect(report.ignoredNGrams == 0, "seed 22")
        #expect(report.contaminatedTests.map(\.trainingPositions) == [[0]], "seed 22")
        #expect(report.contaminatedTraining == 1 && report.kept == 1)
    }

    @Test func ngramSetAgreesWithSet() {
        var rng = SplitMix64(seed: 3)
        var s = NGramSet(capacity: 3000)
        var reference = Set<UInt64>()
        for i in 0 ..< 3000 {
            let v = i == 0 ? 0 : rng.next() % 5000
            #expect(s.insert(v) == reference.insert(v).inserted)
        }
        #expect(s.count == reference.count)
        for v: UInt64 in 0 ..< 6000 { #expect(s.contains(v) == reference.contains(v), "value \(v), seed 3") }
        #expect(NGramSet.slots(forNGrams: 3000) == 4096 && NGramSet.bytes(forNGrams: 3) == 128)
    }

    /// Test documents of random words; training documents that contain a 13-word window of a test
    /// document (changed in case and punctuation), a 12-word window (not enough), or nothing.
    @Test func plantedOverlapsAreFoundExactly() throws {
        let seed: UInt64 = 13
        var maker = TextMaker(seed: seed, vocabularySize: 50_000)
        let dir = try makeTemporaryDirectory("decontaminate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tests = (0 ..< 30).map { _ in maker.words(120) }
        var testLines = tests.enumerated().map { jsonLine($0.element.joined(separator: " "), id: $0.offset) }
        testLines.append(jsonLine("too short to hit", id: 99))
        let testPath = dir.appendingPathComponent("test.jsonl").path
        try Data(testLines.joined().utf8).write(to: URL(fileURLWithPath: testPath))
        var training: [String] = []
        var expected: [Int: Set<Int>] = [:]  // test position → training positions
        for i in 0 ..< 200 {
            var words = maker.words(150)
            let t = maker.below(30)
            let start = maker.below(120 - 13)
            switch i % 4 {
            case 0:  // a full 13-gram, recased and punctuated
                let window = tests[t][start ..< start + 13].enumerated().map { $0.offset == 4 ? $0.element.uppercased() + "," : $0.element }
                words.insert(contentsOf: window, at: maker.below(150))
                expected[t, default: []].insert(i)
            case 1:  // 12 words only
                words.insert(contentsOf: tests[t][start ..< start + 12], at: maker.below(150))
            default: break
            }
            training.append(jsonLine(words.joined(separator: " "), id: i))
        }
        let trainPath = dir.appendingPathComponent("train.jsonl").path
        try Data(training.joined().utf8).write(to: URL(fileURLWithPath: trainPath))
        var options = CleaningOptions()
        options.dedup = false
        options.testFiles = [testPath]
        options.threads = 2
        let out = dir.appendingPathComponent("clean.jsonl").path
        let report = try cleanCorpus(open: { reader(trainPath) }, openTest: reader, output: out, removedOutput: nil,
                                     contaminationOutput: dir.appendingPathComponent("hits.jsonl").path,
                                     workDirectory: dir.path, options: options, warn: { _ in })
        #expect(report.contaminatedTraining == 50 && report.contaminatedRemoved == 50 && report.kept == 150, "seed \(seed)")
        #expect(report.testDocuments == 31 && report.shortTestDocuments == 1)
        let found = Dictionary(uniqueKeysWithValues: report.contaminatedTests.map { ($0.testPosition, Set($0.trainingPositions)) })
        #expect(found == expected, "seed \(seed)")
        let kept = try String(contentsOfFile: out, encoding: .utf8)
        #expect(kept == training.enumerated().filter { $0.offset % 4 != 0 }.map(\.element).joined())
        let hits = try String(contentsOfFile: dir.appendingPathComponent("hits.jsonl").path, encoding: .utf8)
        #expect(hits.split(separator: "\n").count == expected.count)
        #expect(hits.hasPrefix("{\"test_file\":\"\(testPath)\",\"test_position\":\(expected.keys.min()!),\"training_positions\":["))
        // The report names the test file by content: bpb can tell whether its file was covered.
        let testHash = try sha256(ofFile: testPath)
        #expect(report.testFiles == [testPath] && report.testFileHashes == [testHash])
    }
}
