import CorpusIO
import Evaluation
import Foundation
import Testing
import TokenMillTestSupport
import Training

/// A tiny model (vocabulary V, context T) for B rows; zero weights unless `seed` is given.
private func tinyModel(V: Int, T: Int, B: Int, seed: UInt64? = nil) -> Model<Float> {
    var c = ModelConfig.tiny
    c.vocabSize = V
    c.maxPositionEmbeddings = max(T, 8)
    let m = Model<Float>(config: c, B: B, T: T)
    if let seed { m.initialize(seed: seed) }
    return m
}

private func randomDocuments(_ lengths: [Int], V: Int, seed: UInt64) -> [[Int32]] {
    var rng = SplitMix64(seed: seed)
    return lengths.map { n in (0..<n).map { _ in Int32(1 + rng.next() % UInt64(V - 1)) } }
}

@Suite struct ScorerTests {
    /// All-zero weights give zero logits, so every token costs ln V: BPB = tokens · log2(V) / bytes,
    /// per subset and overall, whatever the stride; with score_eod one more token and one more byte.
    @Test(arguments: [8, 3, 1])
    func uniformModelGivesTheClosedForm(stride: Int) {
        let V = 64, T = 8
        let scorer = BPBScorer(model: tinyModel(V: V, T: T, B: 3), eod: 0, stride: stride)
        let lengths = [1, 7, 8, 9, 20, 0, 3, 16, 17]
        let docs = randomDocuments(lengths, V: V, seed: 5)
        let scores = scorer.score(docs)
        #expect(scores.map(\.id) == Array(docs.indices))
        #expect(scores.map(\.tokens) == lengths)
        let subsets = ["b", "a", "b", "c", "a", "a", "b", "c", "a"]
        let bytes = [3, 20, 31, 25, 77, 0, 9, 40, 51]
        let acc = BPBAccumulator()
        for s in scores {
            #expect(abs(s.nll - Double(s.tokens) * log(Double(V))) <= 1e-12 * max(1, s.nll))
            if s.tokens == 0 { acc.addEmpty(subset: subsets[s.id]) } else { acc.add(subset: subsets[s.id], bytes: bytes[s.id], tokens: s.tokens, nll: s.nll) }
        }
        let (rows, overall) = acc.summarize(resamples: 200, seed: 1)
        #expect(rows.map(\.name) == ["a", "b", "c"])
        for r in rows + [overall] {
            let expected = Double(r.tokens) * log2(Double(V)) / Double(r.bytes)
            #expect(abs(r.bpb - expected) <= 1e-12 * expected, "\(r.name)")
            #expect(abs(r.bytePerplexity - pow(2, expected)) <= 1e-9 * pow(2, expected))
            // Bits, not nats: 2^BPB is the byte perplexity e^(nats per byte).
            #expect(abs(r.bytePerplexity - exp(r.nll / Double(r.bytes))) <= 1e-9 * r.bytePerplexity)
        }
        #expect(rows[0].emptyDocuments == 1 && overall.emptyDocuments == 1 && overall.documents == 8)
        #expect(overall.tokens == lengths.reduce(0, +) && overall.bytes == bytes.reduce(0, +))
    }

    @Test func scoringTheEndOfTextAddsOneTokenPerDocument() {
        let V = 32, T = 4
        let scorer = BPBScorer(model: tinyModel(V: V, T: T, B: 2), eod: 0, stride: T, scoreEOD: true)
        let scores = scorer.score(randomDocuments([3, 4, 0, 9], V: V, seed: 2))
        #expect(scores.map(\.tokens) == [4, 5, 0, 10])   // an empty document scores nothing, not even EOD
        for s in scores { #expect(abs(s.nll - Double(s.tokens) * log(Double(V))) <= 1e-12 * max(1, s.nll)) }
        #expect(bpbDenominatorBytes(textBytes: 10, scoreEOD: true) == 11)
        #expect(bpbDenominatorBytes(textBytes: 10, scoreEOD: false) == 10)
    }

    /// Batched scoring (several windows per forward, short windows padded) gives the per-document
    /// NLLs of one window per forward, and those equal log-softmax of the model's full logits.
    @Test(arguments: [5, 2])
    func batchedEqualsOneWindowAtATimeAndTheFullLogits(stride: Int) {
        let V = 40, T = 6
        let batched = tinyModel(V: V, T: T, B: 4, seed: 11), single = tinyModel(V: V, T: T, B: 1)
        single.params.update(from: batched.params, count: batched.parameterCount)
        let docs = randomDocuments([1, 13, 6, 0, 7, 2, 25, 5], V: V, seed: 9)
        let a = BPBScorer(model: batched, eod: 0, stride: stride).score(docs)
        let b = BPBScorer(model: single, eod: 0, stride: stride).score(docs)
        #expect(a.map(\.tokens) == b.map(\.tokens))
        for (x, y) in zip(a, b) { #expect(abs(x.nll - y.nll) <= 1e-5 * max(1, abs(y.nll)), "document \(x.id)") }
        // Reference: each window through `logits(into:)` (the full head), log-softmax in Double.
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: T * V)
        defer { logits.deallocate() }
        for (d, doc) in docs.enumerated() {
            let e: [Int32] = [0] + doc
            var nll = 0.0
            for w in rollingWindows(tokenCount: doc.count, context: T, stride: stride) {
                for t in 0..<T { single.tokens[t] = t < w.length ? e[w.start + t] : 0 }
                single.logits(into: logits)
                for p in w.scoredFrom..<w.length {
                    let row = (0..<V).map { Double(logits[p * V + $0]) }
                    let mx = row.max()!
                    nll += mx + log(row.reduce(0) { $0 + exp($1 - mx) }) - row[Int(e[w.start + p + 1])]
                }
            }
            #expect(abs(a[d].nll - nll) <= 1e-5 * max(1, nll), "document \(d)")
        }
    }

    /// The bootstrap is seeded (same seed, same interval) and brackets the point estimate.
    @Test func bootstrapIsSeededAndBracketsTheEstimate() {
        func run(_ seed: UInt64) -> (SubsetReport, SubsetReport) {
            let acc = BPBAccumulator()
            var rng = SplitMix64(seed: 4)
            for i in 0..<200 {
                let bytes = 100 + Int(rng.next() % 900)
                acc.add(subset: i % 3 == 0 ? "x" : "y", bytes: bytes, tokens: bytes / 3, nll: Double(bytes) * (0.5 + Double(rng.next() % 100) / 100))
            }
            let (rows, overall) = acc.summarize(resamples: 500, seed: seed)
            return (rows[0], overall)
        }
        let (x1, o1) = run(7), (x2, o2) = run(7), (_, o3) = run(8)
        #expect(x1.ci95 == x2.ci95 && o1.ci95 == o2.ci95)
        #expect(o1.ci95 != o3.ci95)
        for r in [x1, o1] { #expect(r.ci95.0 < r.bpb && r.bpb < r.ci95.1) }
        #expect(o1.ci95.1 - o1.ci95.0 < x1.ci95.1 - x1.ci95.0)   // more documents, narrower
    }
}

@Suite struct BaselineTests {
    /// In-process zstd gives the size of the `zstd` command's output (same level, checksum, pledged size).
    @Test func zstdSizeMatchesTheCommandLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpb-zstd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.txt").path
        var rng = SplitMix64(seed: 3)
        let words = ["alpha", "beta", "gamma", "delta", "ε", "ζῆτα", "\n"]
        let text = (0..<20000).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        for long in [false, true] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["zstd", "-q", "-19"] + (long ? ["--long"] : []) + ["-c", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            #expect(try zstdSize(path, bytes: text.utf8.count, long: long) == out.count, "long: \(long)")
        }
    }

    /// In-process liblzma gives exactly the size of `xz -9 -T1` / `xz -9e -T1` (the command line's own
    /// encoder), on text and on the bundled corpus's test split, which spans several input chunks.
    @Test func xzSizeMatchesTheCommandLine() throws {
        let dir = try makeTemporaryDirectory("bpb-xz")
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = dir.appendingPathComponent("t.txt").path
        var rng = SplitMix64(seed: 5)
        let words = ["alpha", "beta", "gamma", "delta", "ε", "ζῆτα", "\n"]
        try Data((0..<20000).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ").utf8)
            .write(to: URL(fileURLWithPath: small))
        let corpus = dir.appendingPathComponent("test.jsonl").path   // 2.1 MB: three 1 MiB reads
        try Data(contentsOf: packageRoot.appendingPathComponent("corpora/test.jsonl.zst")).write(to: URL(fileURLWithPath: corpus + ".zst"))
        let unzstd = Process()
        unzstd.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        unzstd.arguments = ["zstd", "-q", "-d", "-f", corpus + ".zst", "-o", corpus]
        try unzstd.run()
        unzstd.waitUntilExit()
        #expect(unzstd.terminationStatus == 0)
        for path in [small, corpus] {
            for extreme in [false, true] {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                p.arguments = ["xz", extreme ? "-9e" : "-9", "-T1", "-c", path]
                let pipe = Pipe()
                p.standardOutput = pipe
                try p.run()
                let out = pipe.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                #expect(try xzSize(path, preset: 9, extreme: extreme) == out.count, "\(path) extreme: \(extreme)")
            }
        }
    }
}
