import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

@Suite struct WriterTests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("writer") }

    func hiddenTemporaries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
    }

    @Test(arguments: ["out.jsonl", "out.jsonl.zst"])
    func writtenFilesReadBack(name: String) throws {
        let path = dir.appendingPathComponent(name).path
        let texts = (0 ..< 3000).map { "line \($0): \"quoted\", tab\t, newline\n, é中😀" }
        let out = try OutputFile(path: path)
        for chunk in stride(from: 0, to: texts.count, by: 100) {
            var bytes: [UInt8] = []
            for t in texts[chunk ..< min(chunk + 100, texts.count)] {
                Document(text: t, location: SourceLocation(path: "-")).appendJSONLine(to: &bytes, textPath: ["text"])
            }
            try out.write(bytes)
        }
        #expect(!FileManager.default.fileExists(atPath: path))  // not before commit
        try out.commit()
        var read: [String] = []
        try CorpusReader(inputs: [path], options: ReadOptions(), warn: { _ in }).forEachDocument { read.append($0.text) }
        #expect(read == texts)
        #expect(try hiddenTemporaries().isEmpty)
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).readData(ofLength: 4)
        #expect((head == Data([0x28, 0xB5, 0x2F, 0xFD])) == name.hasSuffix(".zst"))
    }

    @Test func framesCompressedElsewhereAppendToOneStream() throws {
        let path = dir.appendingPathComponent("frames.jsonl.zst").path
        let encoder = ZstdFrameEncoder()
        let out = try OutputFile(path: path)
        #expect(out.isZstd)
        try out.write(Array("{\"text\":\"streamed\"}\n".utf8))
        try out.writeFrames(try encoder.frame(Array("{\"text\":\"framed 1\"}\n".utf8)), bytes: 20)
        try out.writeFrames(try encoder.frame(Array("{\"text\":\"framed 2\"}\n".utf8)), bytes: 20)
        try out.commit()
        var read: [String] = []
        try CorpusReader(inputs: [path], options: ReadOptions(), warn: { _ in }).forEachDocument { read.append($0.text) }
        #expect(read == ["streamed", "framed 1", "framed 2"])
    }

    @Test func anEmptyZstdOutputIsOneValidEmptyFrame() throws {
        let path = dir.appendingPathComponent("empty.jsonl.zst").path
        try OutputFile(path: path).commit()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(data.prefix(4) == Data([0x28, 0xB5, 0x2F, 0xFD]))
        var warnings: [String] = []
        let reader = CorpusReader(inputs: [path], options: ReadOptions(), warn: { warnings.append($0) })
        #expect(try reader.nextBatch() == nil)
        #expect(warnings.count == 1)
    }

    @Test func abandonedOutputLeavesNothingAndKeepsTheOldFile() throws {
        let path = dir.appendingPathComponent("keep.jsonl").path
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: path))
        let out = try OutputFile(path: path)
        try out.write(Array("partial".utf8))
        #expect(try hiddenTemporaries().sorted() == [".keep.jsonl.lock", ".keep.jsonl.tmp-\(getpid())"])  // the lock and the bytes
        out.abandon()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
        #expect(try hiddenTemporaries().isEmpty)
    }

    @Test func nestedTextFieldForPlainTextInputs() {
        var bytes: [UInt8] = []
        Document(text: "x", location: SourceLocation(path: "-")).appendJSONLine(to: &bytes, textPath: ["a", "b"])
        #expect(String(decoding: bytes, as: UTF8.self) == "{\"a\":{\"b\":\"x\"}}\n")
    }
}

@Suite struct PipelineTests {
    @Test(arguments: [1, 2, 4])
    func orderedParallelMapKeepsOrder(threads: Int) throws {
        var i = 0
        var seen: [Int] = []
        try orderedParallelMap(threads: threads, next: { () -> Int? in
            defer { i += 1 }
            return i < 500 ? i : nil
        }, transform: { (x: Int) -> Int in
            if x % 7 == 0 { usleep(200) }
            return x * x
        }, consume: { seen.append($0) })
        #expect(seen == (0 ..< 500).map { $0 * $0 })
    }

    struct Boom: Error {}

    @Test func errorsSurfaceInOrderAfterEarlierResults() {
        var i = 0
        var seen: [Int] = []
        #expect(throws: Boom.self) {
            try orderedParallelMap(threads: 2, next: { () -> Int? in
                defer { i += 1 }
                return i < 100 ? i : nil
            }, transform: { (x: Int) throws -> Int in
                if x == 40 { throw Boom() }
                return x
            }, consume: { seen.append($0) })
        }
        #expect(seen == Array(0 ..< 40))
    }
}

@Suite struct StatsTests {
    @Test func quantilesAreWithinTheStatedError() {
        let seed: UInt64 = 20_261_206
        var rng = SplitMix64(seed: seed)
        var stats = CorpusStats()
        var values: [Int] = []
        for _ in 0 ..< 20000 {
            let v = Int(exp(Double.random(in: 0 ..< 14, using: &rng)))
            values.append(v)
            stats.add(bytes: v, characters: v)
        }
        values.sort()
        for q in [0.1, 0.5, 0.9, 0.99] {
            let exact = values[Int((q * Double(values.count)).rounded(.up)) - 1]
            let approx = stats.quantile(q)
            #expect(abs(Double(approx - exact)) <= max(1, 0.016 * Double(exact)), "q=\(q) exact \(exact) approx \(approx) (seed \(seed))")
        }
        #expect(stats.quantile(0) == values.first && stats.quantile(1) == values.last, "seed \(seed)")
    }

    @Test func mergingEqualsCountingTogether() {
        var a = CorpusStats(), b = CorpusStats(), all = CorpusStats()
        for (i, t) in ["a", "héllo", "中文字", "", "😀😀"].enumerated() {
            if i % 2 == 0 { a.add(t) } else { b.add(t) }
            all.add(t)
        }
        a.merge(b)
        #expect(a == all)
        #expect(all.documents == 5 && all.bytes == 1 + 6 + 9 + 0 + 8 && all.characters == 1 + 5 + 3 + 0 + 2)
    }
}

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownDigests(input: String, digest: String) {
        let h = SHA256()
        h.update(Array(input.utf8))
        #expect(h.hexDigest() == digest)
    }

    @Test func incrementalEqualsOneShot() {
        let data = (0 ..< 1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let one = SHA256(), parts = SHA256()
        one.update(data)
        for chunk in stride(from: 0, to: data.count, by: 77) { parts.update(data[chunk ..< min(chunk + 77, data.count)]) }
        #expect(one.hexDigest() == parts.hexDigest())
    }

    /// A file's hash streams through the 1 MiB buffer: sizes around the buffer and a block boundary, checked
    /// against coreutils' sha256sum (an independent implementation).
    @Test(arguments: [0, 55, 64, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17])
    func fileHashEqualsSha256sum(size: Int) throws {
        let dir = try makeTemporaryDirectory("sha256")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("f").path
        var rng = SplitMix64(seed: UInt64(size))
        try Data((0 ..< size).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(try sha256(ofFile: path) == String(output.prefix(64)))
    }

    @Test func digestResetsTheHash() {
        let h = SHA256()
        h.update(Array("abc".utf8))
        _ = h.hexDigest()
        #expect(h.hexDigest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
