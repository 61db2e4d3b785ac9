// Counts are 64-bit: `tokenmill train-tokenizer --counts` on word-count files whose counts and pair sums
// pass 2³² (and 2³¹, where Hugging Face's i32 pair counts wrap) learns the merges that exact 64-bit
// arithmetic gives, checked against a brute-force BPE in this file; the same counts truncated to 32 bits
// give another merge order, so the check can tell. The files are written here from the documented format
// (WordCountsFile.swift), not with the library. Cost: two small CLI runs.
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct TrainTokenizerCountsCLITests {
    /// A word-count file: "TMWORDS\0", u32 version 1, u64 N, then N × (u32 length, bytes, u64 count).
    static func countsFile(_ words: [(String, UInt64)]) -> Data {
        var out = Data("TMWORDS\0".utf8)
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        le(UInt32(1))
        le(UInt64(words.count))
        for (w, c) in words { le(UInt32(w.utf8.count)); out.append(contentsOf: Array(w.utf8)); le(c) }
        return out
    }

    /// GPT-2's byte-level id order (HF's initial alphabet sorted by code point): printable ASCII, then
    /// Latin-1 ¡…¬ and ®…ÿ, then the remaining bytes in byte order.
    static let byteRank: [UInt8: Int] = {
        let printable = Array(33 ... 126) + Array(161 ... 172) + Array(174 ... 255)
        let rest = (0 ... 255).filter { !printable.contains($0) }
        return Dictionary(uniqueKeysWithValues: (printable + rest).enumerated().map { (UInt8($0.element), $0.offset) })
    }()

    /// Plain BPE: recount every pair with UInt64 each step, take the largest count (ties: the smaller
    /// (left id, right id)), merge left to right without overlaps; a result that is already a token
    /// keeps its id. `counts` are applied as given (the caller truncates them to model 32 bits).
    static func referenceMerges(_ words: [(String, UInt64)]) -> [[String]] {
        var tokens: [[UInt8]] = (0 ..< 256).map { _ in [] }
        for (b, r) in byteRank { tokens[r] = [b] }
        var idOf = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($0.element, $0.offset) })
        var list = words.map { w in (w.0.utf8.map { byteRank[$0]! }, w.1) }
        var merges: [[String]] = []
        while true {
            var pairs: [[Int]: UInt64] = [:]
            for (s, c) in list where s.count > 1 { for k in 0 ..< s.count - 1 { pairs[[s[k], s[k + 1]], default: 0] += c } }
            guard let best = pairs.filter({ $0.value > 0 }).max(by: { $0.value != $1.value ? $0.value < $1.value : $1.key.lexicographicallyPrecedes($0.key) })
            else { return merges }
            let (a, b) = (best.key[0], best.key[1])
            let bytes = tokens[a] + tokens[b]
            let new = idOf[bytes] ?? tokens.count
            if new == tokens.count { tokens.append(bytes); idOf[bytes] = new }
            merges.append([String(decoding: tokens[a], as: UTF8.self), String(decoding: tokens[b], as: UTF8.self)])
            for w in list.indices {
                var r: [Int] = [], i = 0
                let s = list[w].0
                while i < s.count {
                    if i + 1 < s.count && s[i] == a && s[i + 1] == b { r.append(new); i += 2 } else { r.append(s[i]); i += 1 }
                }
                list[w].0 = r
            }
        }
    }

    @Test func countsPast32BitsTrainTheExact64BitMerges() throws {
        let dir = try makeTemporaryDirectory("counts64")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Letters distinct within each word (no overlapping-pair corner cases). Pair (a,b) sums to 6e9
        // (mod 2³²: 1.7e9), (f,g) is 2³² + 7 (mod 2³²: 7), (k,l) sums 4.5e9 + 4.5e9 over the two files
        // (each 4.5e9 alone is past 2³² too); (d,e) and (p,q) stay below 2³².
        let first: [(String, UInt64)] = [("ab", 3_000_000_000), ("abc", 3_000_000_000), ("de", 4_000_000_000),
                                         ("fgh", (1 << 32) + 7), ("klm", 4_500_000_000), ("pq", 2_000_000_000), ("xyz", 1000)]
        let second: [(String, UInt64)] = [("klm", 4_500_000_000), ("pq", 1_000), ("dex", 70_000)]
        var summed: [String: UInt64] = [:]
        for (w, c) in first + second { summed[w, default: 0] += c }
        let total = summed.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let expected = Self.referenceMerges(total)
        let truncated = Self.referenceMerges(total.map { ($0.0, $0.1 & 0xFFFF_FFFF) })
        #expect(expected != truncated, "the counts must tell 64-bit from 32-bit arithmetic")
        #expect(expected.prefix(3) == [["k", "l"], ["kl", "m"], ["a", "b"]])

        let a = dir.appendingPathComponent("a.counts"), b = dir.appendingPathComponent("b.counts")
        try Self.countsFile(first).write(to: a)
        try Self.countsFile(second).write(to: b)
        let out = dir.appendingPathComponent("tokenizer.json")
        let r = try runTokenmill(["train-tokenizer", "--vocab-size", "400", "--counts", a.path, "--counts", b.path,
                                  "--progress", "none", "-o", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        // 2 × 4.5e9 + 2 × 3e9 + 4e9 + (2³² + 7) + 2e9 + 1000 + 1000 + 70000 pre-tokens, printed with separators.
        #expect(r.stderr.contains("25,295,039,303 pre-tokens"), "\(r.stderr)")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [String: Any]
        let merges = (root["model"] as! [String: Any])["merges"] as! [[String]]
        #expect(merges == expected, "got \(merges)\nexpected \(expected)")
    }
}
