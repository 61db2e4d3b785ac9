// `tokenmill split`: parts whose records concatenated are the input's (several inputs of uneven size,
// compressed and not, a plain-text file), balanced, deterministic, named in order; a failure part way
// leaves no part under its final name; the parts sharded and merged equal one tokenize run.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

@Suite final class SplitCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("split-cli") }
    deinit { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The decompressed bytes of every file in `paths`, concatenated.
    func contents(_ paths: [String]) throws -> Data {
        var out = Data()
        for p in paths {
            let reader = CorpusReader(inputs: [p], options: ReadOptions(), warn: { _ in })
            while let batch = try reader.nextBatch() { out.append(contentsOf: batch.bytes) }
        }
        return out
    }

    func parts(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { directory + "/" + $0 }
    }

    @Test func partsHoldTheInputRecordsInOrderBalancedAndAreDeterministic() throws {
        let lines = try decompressedLines(packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path)
        // Three inputs: 40 lines zstd-compressed, 200 plain (one blank line inside, the last line without
        // its newline), 19 gzip-compressed.
        try Data(lines[0 ..< 40].joined().utf8).write(to: URL(fileURLWithPath: path("a.jsonl")))
        try Data(zstdFrame(Array(try Data(contentsOf: URL(fileURLWithPath: path("a.jsonl")))))).write(to: URL(fileURLWithPath: path("a.jsonl.zst")))
        var plain = lines[40 ..< 240].joined()
        plain.insert(contentsOf: "\n  \n", at: plain.index(plain.startIndex, offsetBy: lines[40].utf8.count))
        try Data(plain.dropLast().utf8).write(to: URL(fileURLWithPath: path("b.jsonl")))
        try Data(lines[240...].joined().utf8).write(to: URL(fileURLWithPath: path("c.jsonl")))
        writeGzip([Array(try Data(contentsOf: URL(fileURLWithPath: path("c.jsonl"))))], to: URL(fileURLWithPath: path("c.jsonl.gz")))
        let inputs = [path("a.jsonl.zst"), path("b.jsonl"), path("c.jsonl.gz")]
        for (name, n) in [("four", 4), ("seven", 7), ("again", 7)] {
            let r = try runTokenmill(["split", "--progress", "none", "--parts", "\(n)", "-o", path(name)] + inputs)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.hasPrefix("split: 259 records (") && r.stderr.contains("from 3 inputs") && r.stderr.contains("→ \(n) parts of "), "\(r.stderr)")
            let files = try parts(path(name))
            #expect(files.map { ($0 as NSString).lastPathComponent } == (0 ..< n).map { String(format: "part-%05d-of-%05d.jsonl.zst", $0, n) })
            #expect(try contents(files) == Data(lines.joined().utf8), "\(name): the parts' records are not the input's")
        }
        // Balanced on one compressed input (one decompression ratio, so the size estimate holds): every
        // part within two of the largest records (12 kB) of the mean. (Inputs compressed at different
        // ratios, as above, make the estimate drift: there the last part took 1.3× the others.)
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let one = try runTokenmill(["split", "--progress", "none", "--parts", "4", "-o", path("balanced"), corpus])
        #expect(one.status == 0, "\(one.stderr)")
        let sizes = try parts(path("balanced")).map { try contents([$0]).count }
        let mean = sizes.reduce(0, +) / 4
        #expect(sizes.allSatisfy { abs($0 - mean) < 2 * 12_000 }, "\(sizes)")
        for (a, b) in zip(try parts(path("seven")), try parts(path("again"))) {
            #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
        }
        // A split of another count into the same directory would mix two splits: refused.
        let mixed = try runTokenmill(["split", "--progress", "none", "--parts", "3", "-o", path("four")] + inputs)
        #expect(mixed.status == 1 && mixed.stderr.contains("a part of another split is in the output directory"), "\(mixed.stderr)")
        // Sharding the parts: each task reads only its parts; merged, the single run over the input.
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        let common = ["tokenize", "--progress", "none", "--tokenizer", tokenizer, "--fim-rate", "0.1", "--seed", "2"]
        var shards: [String] = []
        for i in 0 ..< 3 {
            let r = try runTokenmill(common + ["--shard", "\(i)/3", "-o", path("s\(i)"), path("seven")])
            #expect(r.status == 0, "\(r.stderr)")
            shards.append(path("s\(i)"))
        }
        #expect(try runTokenmill(["merge", "-o", path("merged")] + shards).status == 0)
        #expect(try runTokenmill(common + ["-o", path("oneparts"), path("seven")]).status == 0)
        for ext in [".bin", ".idx", ".json"] {
            #expect(try Data(contentsOf: URL(fileURLWithPath: path("merged" + ext))) == Data(contentsOf: URL(fileURLWithPath: path("oneparts" + ext))), "\(ext)")
        }
        // The parts' records are the input's: without FIM (keyed by input file and line) the ids are the same.
        let fimOff = try runTokenmill(["tokenize", "--progress", "none", "--tokenizer", tokenizer, "-o", path("plain"), path("seven")])
        let fimOffInput = try runTokenmill(["tokenize", "--progress", "none", "--tokenizer", tokenizer, "-o", path("plaininput")] + inputs)
        #expect(fimOff.status == 0 && fimOffInput.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("plain.bin"))) == Data(contentsOf: URL(fileURLWithPath: path("plaininput.bin"))))
    }

    @Test func textDocumentsBecomeJSONAndFewRecordsLeaveEmptyParts() throws {
        try Data("first block\n\nsecond \"block\"\nline two\n".utf8).write(to: URL(fileURLWithPath: path("t.txt")))
        let r = try runTokenmill(["split", "--progress", "none", "--txt-layout", "blocks", "--parts", "3", "-o", path("t"), path("t.txt")])
        #expect(r.status == 0, "\(r.stderr)")
        let files = try parts(path("t"))
        #expect(files.count == 3)
        #expect(try contents(files) == Data("{\"text\":\"first block\"}\n{\"text\":\"second \\\"block\\\"\\nline two\"}\n".utf8))
        #expect(try contents([files[2]]).isEmpty)
    }

    @Test func aFailurePartWayLeavesNoPartUnderItsFinalName() throws {
        let lines = try decompressedLines(packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path)
        try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: path("good.jsonl")))
        // A zstd file cut short: the split fails on it after the first input filled parts.
        let bad = zstdFrame(Array(try Data(contentsOf: URL(fileURLWithPath: path("good.jsonl")))))
        try Data(bad.prefix(bad.count / 2)).write(to: URL(fileURLWithPath: path("bad.jsonl.zst")))
        // What a SIGKILLed split leaves: its hidden staging directory (its pid gone); the next split removes it.
        try FileManager.default.createDirectory(atPath: path("out/.split-999999999-7"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: path("out/.split-999999999-7/part-00000-of-00004.jsonl.zst")))
        let r = try runTokenmill(["split", "--progress", "none", "--parts", "4", "-o", path("out"), path("good.jsonl"), path("bad.jsonl.zst")])
        #expect(r.status == 1 && r.stderr.contains("bad.jsonl.zst"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: path("out")).isEmpty, "parts or the staging directory left behind")
        // Stdin and zero parts are usage errors.
        #expect(try runTokenmill(["split", "--parts", "2", "-o", path("x")], stdin: Data("{\"text\":\"a\"}\n".utf8)).status == 64)
        #expect(try runTokenmill(["split", "--parts", "0", "-o", path("x"), path("good.jsonl")]).status == 64)
    }
}
