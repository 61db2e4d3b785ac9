// BPETrainer gives exactly HF BpeTrainer's merges (fixture from tools/make-tokenizer-fixtures), equals
// a plain recount-every-step BPE, and what it saves loads back.
import Foundation
import Testing
@testable import Tokenization

struct TrainCase: Sendable, CustomStringConvertible {
    var preset: PreTokenizerPreset
    var merges: [[String]]
    var description: String { preset.rawValue }
}

private let trainFixture: (texts: [String], vocab: Int, specials: [String], cases: [TrainCase]) = {
    let root = try! Fixtures.json("train.json")
    let texts = try! root.required("text").array.map { try $0.string }
    let cases = try! root.required("presets").members.map { name, c in
        TrainCase(preset: PreTokenizerPreset(rawValue: name)!, merges: try c.required("merges").array.map { try $0.array.map { try $0.string } })
    }
    return (texts, try! root.required("vocab_size").int, try! root.required("special_tokens").array.map { try $0.string }, cases)
}()

private func count(_ texts: [String], preset: PreTokenizerPreset, specials: [String] = []) throws -> WordCounts {
    var config = BPETrainerConfig()
    config.preset = preset
    config.specialTokens = specials
    let counter = try WordCounter(config: config)
    for t in texts { try counter.add(t) }
    return counter.take()
}

@Test(arguments: trainFixture.cases)
func mergesEqualHuggingFace(_ c: TrainCase) throws {
    let words = try count(trainFixture.texts, preset: c.preset, specials: trainFixture.specials)
    let result = try BPETrainer.train(words, vocabSize: trainFixture.vocab, specialTokens: trainFixture.specials)
    let got = result.merges.map { [ByteLevel.encode(result.tokens[Int($0.0)]), ByteLevel.encode(result.tokens[Int($0.1)])] }
    #expect(got.count == c.merges.count)
    let firstDiff = zip(got, c.merges).enumerated().first { $0.element.0 != $0.element.1 }
    #expect(firstDiff == nil, "first differing merge: \(String(describing: firstDiff))")
}

/// The plain algorithm: recount all pairs each step, take the largest count (ties: smallest ids),
/// merge left to right without overlaps.
private func basicBPE(_ words: [([UInt32], Int64)], merges: Int, firstNewID: UInt32) -> [(UInt32, UInt32)] {
    var words = words
    var out: [(UInt32, UInt32)] = []
    var next = firstNewID
    for _ in 0 ..< merges {
        var counts: [UInt64: Int64] = [:]
        for (s, c) in words where s.count > 1 { for k in 0 ..< s.count - 1 { counts[UInt64(s[k]) << 32 | UInt64(s[k + 1]), default: 0] += c } }
        guard let best = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }), best.value > 0 else { break }
        let a = UInt32(best.key >> 32), b = UInt32(best.key & 0xFFFF_FFFF)
        out.append((a, b))
        for w in words.indices {
            var s = words[w].0, i = 0, r: [UInt32] = []
            while i < s.count {
                if i + 1 < s.count && s[i] == a && s[i + 1] == b { r.append(next); i += 2 } else { r.append(s[i]); i += 1 }
            }
            s = r
            words[w].0 = s
        }
        next += 1
    }
    return out
}

@Test(arguments: [1, 2, 3])
func trainerEqualsBasicBPE(seed: UInt64) throws {
    var rng = SeededGenerator(seed: seed)
    let alphabet = ["a", "b", "c", "ab", " ", "é", "x"]
    let texts = (0 ..< 200).map { _ in (0 ..< Int.random(in: 1 ... 12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined() }
    let words = try count(texts, preset: .gpt2)
    let result = try BPETrainer.train(words, vocabSize: 256 + 40, specialTokens: [])
    var byteID = [UInt32](repeating: 0, count: 256)
    for (k, b) in ByteLevel.alphabetOrder.enumerated() { byteID[Int(b)] = UInt32(k) }
    var list: [([UInt32], Int64)] = []
    words.forEach { bytes, c in list.append((bytes.map { byteID[Int($0)] }, Int64(c))) }
    // The plain algorithm assigns a new id per merge; so does the trainer while no result repeats.
    let plain = basicBPE(list, merges: result.merges.count, firstNewID: 256)
    #expect(result.merges.map { [$0.0, $0.1] } == plain.map { [Int32($0.0), Int32($0.1)] })
}

/// minbpe's worked example: "aaabdaaabac" → (a,a)=Z: "ZabdZabac" → (Z,a)... In HF order the first
/// merge is (a,a) with count 4; then ab, Za tie at 2 and the smaller ids win ((Z,a)? no: a < Z, so (a,b)).
@Test func workedExample() throws {
    var words = WordCounts()
    let text = Array("aaabdaaabac".utf8)
    text.withUnsafeBufferPointer { words.add($0.baseAddress!, $0.count) }
    let r = try BPETrainer.train(words, vocabSize: 259, specialTokens: [])
    let names = r.merges.map { String(decoding: r.tokens[Int($0.2)], as: UTF8.self) }
    #expect(names == ["aa", "ab", "aaab"])
}

@Test func vocabularyBelowBytesIsAnError() throws {
    #expect(throws: TokenizerError.self) { try BPETrainer.train(WordCounts(), vocabSize: 257, specialTokens: ["<a>", "<b>"]) }
}

@Test func savedFilesLoadBackAndEncodeAlike() throws {
    let words = try count(trainFixture.texts, preset: .cl100k, specials: ["<|endoftext|>"])
    let result = try BPETrainer.train(words, vocabSize: 500, specialTokens: ["<|endoftext|>"])
    let tok = try result.tokenizer(vocabSize: 500, preset: .cl100k, normalization: .none)
    let json = tok.huggingFaceJSON()
    let back = try Tokenizer.fromHuggingFaceJSON(json)
    #expect(back.preTokenizer.name == "cl100k")
    let dir = FileManager.default.temporaryDirectory.path + "/tokenmill-test-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try tok.tiktokenText().write(toFile: dir + "/t.tiktoken", atomically: true, encoding: .utf8)
    let tk = try Tokenizer.loadTiktoken(path: dir + "/t.tiktoken", preset: .cl100k, specials: ["<|endoftext|>": 0])
    for t in trainFixture.texts.prefix(80) {
        let ids = try tok.encode(t)
        #expect(try back.encode(t) == ids)
        #expect(try tk.encode(t) == ids)
        #expect(try tok.decode(ids) == t)
    }
    // A smaller size from the same run is a prefix.
    let small = try result.tokenizer(vocabSize: 300, preset: .cl100k, normalization: .none)
    #expect(small.vocabularySize == 300)
    #expect(Array(small.model.merges) .elementsEqual(tok.model.merges.prefix(small.model.merges.count), by: { $0 == $1 }))
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
}

@Test func shardedCountsTrainTheSameMerges() throws {
    let texts = trainFixture.texts
    let whole = try count(texts, preset: .gpt2)
    let half = texts.count / 2
    let a = try WordCounts.fromSerialized(count(Array(texts[..<half]), preset: .gpt2).serialized())
    let b = try WordCounts.fromSerialized(count(Array(texts[half...]), preset: .gpt2).serialized())
    var merged = b
    merged.merge(a)
    #expect(merged.total == whole.total && merged.distinct == whole.distinct)
    let r1 = try BPETrainer.train(whole, vocabSize: 700, specialTokens: [])
    let r2 = try BPETrainer.train(merged, vocabSize: 700, specialTokens: [])
    #expect(r1.merges.map { [$0.0, $0.1, $0.2] } == r2.merges.map { [$0.0, $0.1, $0.2] })
    var bad = whole.serialized()
    bad.removeLast()
    #expect(throws: TokenizerError.self) { try WordCounts.fromSerialized(bad) }
}

@Test func spilledRunsMergeToTheSameCounts() throws {
    let texts = trainFixture.texts
    let whole = try count(texts, preset: .cl100k)
    let dir = FileManager.default.temporaryDirectory.path + "/tokenmill-runs-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var paths: [String] = []
    for (k, part) in [texts.prefix(100), texts.dropFirst(100).prefix(300), texts.dropFirst(400)].enumerated() {
        let p = dir + "/\(k).run"
        FileManager.default.createFile(atPath: p, contents: Data(try count(Array(part), preset: .cl100k).sortedSerialized()))
        paths.append(p)
    }
    var merged = WordCounts()
    try mergeSortedRuns(paths) { merged.add($0, count: $1) }
    #expect(merged.distinct == whole.distinct && merged.total == whole.total)
    var streamed: [UInt8] = []
    try mergeSortedRuns(paths, write: { streamed += $0 })
    let back = try WordCounts.fromSerialized(streamed)
    #expect(back.distinct == whole.distinct && back.total == whole.total)
    var expected: [[UInt8]: UInt64] = [:]
    whole.forEach { expected[$0] = $1 }
    var same = true
    back.forEach { if expected[$0] != $1 { same = false } }
    #expect(same)
}

/// A reduction (`PreTokenHistogram`'s rule: set aside the pre-tokens counted fewer than T times) against
/// the exact run on the same real text. What is guaranteed: while the merges agree, the kept words are
/// segmented alike and every pair count of the reduced run is the exact one minus δ, what the set-aside
/// words contribute (δ ≥ 0). So the reduced run makes the exact run's next merge p* whenever δ(p*) = 0 or
/// δ(p*) is below p*'s lead over the runner-up in the exact counts. The test finds the first merge k
/// where that fails (recounting every step, as `basicBPE` does) and checks the first k merges agree.
@Test func reducedRunAgreesWhileTheSetAsideWordsCannotChangeTheWinner() throws {
    let words = try count(trainFixture.texts, preset: .cl100k)
    let histogram = PreTokenHistogram(words, vocabSize: 600)
    // The budget that holds exactly the words counted twice or more gives threshold 2.
    let threshold = try #require(histogram.threshold(budget: histogram.kept(threshold: 2).cost))
    #expect(threshold == 2)
    #expect(histogram.threshold(budget: histogram.kept(threshold: 1).cost) == 1)
    let aside = histogram.setAside(threshold: threshold)
    #expect(aside.words > 0 && aside.corpusBytes > 0 && aside.corpusBytes < histogram.corpusBytes)
    let kept = TrainingWords()
    words.forEachWord { w, c in if c >= threshold { kept.append(w, count: c) } }
    #expect(kept.count == histogram.kept(threshold: threshold).words)

    let exact = try BPETrainer.train(words, vocabSize: 600, specialTokens: [])
    let reduced = try BPETrainer.train(kept, vocabSize: 600, specialTokens: [])

    // Replay the exact merges on every word, recounting pairs in all words and in the set-aside ones.
    var byteID = [UInt32](repeating: 0, count: 256)
    for (k, b) in ByteLevel.alphabetOrder.enumerated() { byteID[Int(b)] = UInt32(k) }
    var list: [(symbols: [UInt32], count: Int64, setAside: Bool)] = []
    words.forEach { bytes, c in list.append((bytes.map { byteID[Int($0)] }, Int64(c), c < threshold)) }
    var guaranteed = exact.merges.count
    for (i, m) in exact.merges.enumerated() {
        var all: [UInt64: Int64] = [:], delta: [UInt64: Int64] = [:]
        for w in list where w.symbols.count > 1 {
            for k in 0 ..< w.symbols.count - 1 {
                let p = UInt64(w.symbols[k]) << 32 | UInt64(w.symbols[k + 1])
                all[p, default: 0] += w.count
                if w.setAside { delta[p, default: 0] += w.count }
            }
        }
        let winner = UInt64(UInt32(m.0)) << 32 | UInt64(UInt32(m.1))
        let best = try #require(all[winner])
        let runnerUp = all.filter { $0.key != winner }.map(\.value).max() ?? 0
        #expect(best >= runnerUp, "merge \(i): the exact run's merge is not the most frequent pair")
        let d = delta[winner] ?? 0
        if d > 0 && d >= best - runnerUp { guaranteed = i; break }
        for w in list.indices {
            var s = list[w].symbols, r: [UInt32] = [], k = 0
            while k < s.count {
                if k + 1 < s.count && s[k] == UInt32(m.0) && s[k + 1] == UInt32(m.1) { r.append(UInt32(m.2)); k += 2 } else { r.append(s[k]); k += 1 }
            }
            s = r
            list[w].symbols = s
        }
    }
    let agree = zip(exact.merges, reduced.merges).prefix { $0.0 == $0.1 }.count
    #expect(guaranteed > 0, "the guarantee covers no merge on this corpus")
    #expect(agree >= guaranteed, "the reduced run left the exact merges at \(agree), before \(guaranteed)")
    print("reduction below count \(threshold): \(aside.words) of \(histogram.distinct) distinct set aside; the first \(agree) of \(exact.merges.count) merges agree (\(guaranteed) guaranteed)")
}
