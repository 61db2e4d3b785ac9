// The demo's stage cache in process: a stage is reused when nothing it depends on changed, and redone
// when a corpus input's bytes, an argument, its settings or the tool version change, when an output was
// touched, or when an earlier stage it reads produced different bytes; a stamp records what `record` hashed.
import CorpusIO
import Foundation
import Pipeline
import Testing
import TokenMillTestSupport

@Suite struct StageCacheTests {
    /// A temporary OUT and corpus directory, with one corpus file.
    struct Fixture {
        let root: URL
        var out: String { root.appendingPathComponent("out").path }
        var corpus: String { root.appendingPathComponent("corpus").path }
        var input: String { corpus + "/train.txt" }

        init() throws {
            root = try makeTemporaryDirectory("stage-cache")
            for d in [out, corpus] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            try Data("the corpus\n".utf8).write(to: URL(fileURLWithPath: input))
        }

        func cache(version: String = "1.0") -> StageCache { StageCache(out: out, corpus: corpus, version: version, stamps: ".stages") }

        /// The first stage: reads the corpus file, writes OUT/a.txt.
        func first(args: [String] = ["normalize", "--form", "nfkc"]) -> CachedStage {
            CachedStage(name: "first", args: args + ["-o", out + "/a.txt", input], corpusInputs: [input], outputs: [out + "/a.txt"])
        }

        /// The second stage: reads the first's output, writes OUT/b.txt.
        var second: CachedStage { CachedStage(name: "second", args: ["stats", out + "/a.txt"], after: ["first"], outputs: [out + "/b.txt"]) }

        /// Runs `stage` through `cache` as the demo does, writing `content` to its outputs when it is redone;
        /// returns whether it was reused.
        @discardableResult
        func run(_ stage: CachedStage, _ cache: StageCache, content: String = "output") throws -> Bool {
            switch try cache.lookup(stage) {
            case .reuse: return true
            case .redo(let keyText):
                try cache.forget(stage)
                for o in stage.outputs { try Data(content.utf8).write(to: URL(fileURLWithPath: o)) }
                try cache.record(stage, keyText: keyText, seconds: 1.5, summary: "did \(stage.name)")
                return false
            }
        }
    }

    @Test func reusesAnUnchangedStageFromItsStamp() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.root) }
        let stage = f.first(args: ["normalize", "--threads", "2", "--form", "nfkc"])
        #expect(try !f.run(stage, f.cache()))
        let stampPath = f.out + "/.stages/first.json"
        let stamp = try #require(try DemoStageStamp.read(path: stampPath))
        // The key: tool version, arguments less --threads with OUT and the corpus symbolic, the input's size and hash.
        #expect(stamp.keyText == "tokenmill 1.0\nstage first\nargs normalize --form nfkc -o $OUT/a.txt $CORPUS/train.txt\n"
                + "input $CORPUS/train.txt 11 \(try sha256(ofFile: f.input))\n")
        #expect(stamp.key == StageCache.hash(stamp.keyText) && stamp.seconds == 1.5 && stamp.summary == "did first")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: f.out + "/a.txt")[.size] as? Int)
        #expect(stamp.outputs.map(\.path) == ["$OUT/a.txt"] && stamp.outputs[0].size == size && size == 6)
        let digest = SHA256()
        digest.update(Array("$OUT/a.txt \(try sha256(ofFile: f.out + "/a.txt"))\n".utf8))
        #expect(stamp.digest == digest.hexDigest())
        #expect(FileManager.default.contents(atPath: stampPath) == stamp.encoded)

        // A new cache (a later run) reuses it, with a different --threads too, and leaves the stamp alone.
        let later = f.cache()
        guard case .reuse(let found) = try later.lookup(f.first(args: ["normalize", "--threads", "7", "--form", "nfkc"])) else {
            Issue.record("an unchanged stage was not reused"); return
        }
        #expect(found == stamp && later.digests["first"] == stamp.digest)
        #expect(f.cache().reusesAll([stage]))
    }

    @Test func redoesWhenAnInputsBytesChange() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.root) }
        #expect(try !f.run(f.first(), f.cache()))
        // Same size, one byte different.
        try Data("the Corpus\n".utf8).write(to: URL(fileURLWithPath: f.input))
        #expect(try !f.run(f.first(), f.cache()))
        #expect(try f.run(f.first(), f.cache()))
    }

    @Test func redoesWhenAnOptionSettingsOrTheVersionChange() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.root) }
        #expect(try !f.run(f.first(), f.cache()))
        #expect(try f.run(f.first(), f.cache()))
        #expect(try !f.run(f.first(args: ["normalize", "--form", "nfc"]), f.cache()))
        #expect(try f.run(f.first(args: ["normalize", "--form", "nfc"]), f.cache()))
        #expect(try !f.run(f.first(args: ["normalize", "--form", "nfc"]), f.cache(version: "1.1")))
        #expect(try f.run(f.first(args: ["normalize", "--form", "nfc"]), f.cache(version: "1.1")))
        var withSettings = f.first(args: ["normalize", "--form", "nfc"])
        withSettings.settings = "{\"hidden_size\":32}"
        #expect(try !f.run(withSettings, f.cache(version: "1.1")))
        #expect(try DemoStageStamp.read(path: f.out + "/.stages/first.json")?.keyText.contains("settings {\"hidden_size\":32}\n") == true)
        #expect(try f.run(withSettings, f.cache(version: "1.1")))
    }

    @Test func redoesWhenAnOutputWasTouchedOrRemoved() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.root) }
        #expect(try !f.run(f.first(), f.cache()))
        // A different size, then a different mtime with the same bytes.
        try Data("output, edited".utf8).write(to: URL(fileURLWithPath: f.out + "/a.txt"))
        #expect(try !f.run(f.first(), f.cache()))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: f.out + "/a.txt")
        #expect(!f.cache().reusesAll([f.first()]))
        #expect(try !f.run(f.first(), f.cache()))
        try FileManager.default.removeItem(atPath: f.out + "/a.txt")
        #expect(try !f.run(f.first(), f.cache()))
        // An unreadable stamp: the stage is redone, not an error.
        try Data("{".utf8).write(to: URL(fileURLWithPath: f.out + "/.stages/first.json"))
        #expect(try !f.run(f.first(), f.cache()))
        #expect(try f.run(f.first(), f.cache()))
    }

    @Test func aRedoneStageWithNewBytesInvalidatesTheStagesAfterIt() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.root) }
        var cache = f.cache()
        #expect(try !f.run(f.first(), cache) && !f.run(f.second, cache))
        cache = f.cache()
        #expect(try f.run(f.first(), cache) && f.run(f.second, cache))
        #expect(f.cache().reusesAll([f.first(), f.second]))
        // The first stage redone with the same bytes: its digest is unchanged, so the second is reused.
        cache = f.cache()
        #expect(try !f.run(f.first(args: ["normalize", "--form", "nfc"]), cache, content: "output"))
        #expect(try f.run(f.second, cache))
        // Redone with other bytes: the second stage is redone.
        cache = f.cache()
        #expect(try !f.run(f.first(), cache, content: "other output"))
        #expect(!f.cache().reusesAll([f.first(), f.second]))
        #expect(try !f.run(f.second, cache))
        let after = try #require(try DemoStageStamp.read(path: f.out + "/.stages/second.json"))
        #expect(after.keyText.hasSuffix("after first \(cache.digests["first"]!)\n"))
        // Without the first stage's digest (not run before it), the second's key differs: redone.
        #expect(try f.cache().lookup(f.second).isRedo)
    }

    @Test func errorsNameTheFile() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.root) }
        let missing = CachedStage(name: "x", args: ["x"], corpusInputs: [f.corpus + "/absent.txt"], outputs: [])
        #expect { try f.cache().lookup(missing) } throws: { ($0 as? StageCacheError)?.path == f.corpus + "/absent.txt" }
        let stage = f.first()
        guard case .redo(let keyText) = try f.cache().lookup(stage) else { Issue.record("no stamp yet, yet reused"); return }
        #expect { try f.cache().record(stage, keyText: keyText, seconds: 0, summary: "") } throws: {
            ($0 as? StageCacheError)?.path == f.out + "/a.txt"
        }
        #expect(!FileManager.default.fileExists(atPath: f.out + "/.stages/first.json"))
    }
}

extension StageCache.Decision {
    var isRedo: Bool { if case .redo = self { true } else { false } }
}
