// Content hashes end to end: datasets (tokenize, pack, merge) record the SHA-256 of their .bin/.idx in
// PREFIX.json and checkpoints (train, import-hf) of their files in state.json; one flipped bit is then a
// one-line error naming the file (exit 1) from train, merge and inspect (datasets; --no-verify skips the
// check and says so) and from train --resume, export-hf and bpb (checkpoints). Unchanged files pass;
// files written before hashes were recorded load with a warning.
import CorpusIO
import Foundation
import Testing
import TokenMillTestSupport

/// A 300-id tokenizer, the test split tokenized with it (once; twice over, whole and as two shards), packed with a
/// validation split, and a one-step run on the tokens: made once for the suite.
private let fixture: URL = {
    let dir = makeOneStepRunFixture("content-hash")
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
    // The input twice over (two input files), so each shard gets a batch.
    runTokenmillForFixture(["tokenize", "--tokenizer", path("tok.json"), "-o", path("twice"), corpus, corpus])
    for i in 0 ..< 2 {
        runTokenmillForFixture(["tokenize", "--tokenizer", path("tok.json"), "--shard", "\(i)/2", "-o", path("part\(i)"), corpus, corpus])
    }
    runTokenmillForFixture(["pack", "--seq-len", "16", "--valid-fraction", "0.1", "-o", path("packed"), path("src")])
    return dir
}()

private func path(_ name: String) -> String { fixture.appendingPathComponent(name).path }
private func object(_ path: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
}

/// The error of a failed command: exit 1 and exactly one line naming `file`.
private func failsNaming(_ r: CommandResult, _ file: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(r.status == 1, "\(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stderr.hasPrefix("error: \(file): SHA-256 ") && r.stderr.hasSuffix("\n") && r.stderr.dropLast().firstIndex(of: "\n") == nil,
            "\(r.stderr)", sourceLocation: sourceLocation)
}

/// Copies `files` of the fixture (names relative to it) under `name`-prefixed names; returns the new prefix.
private func copy(_ prefix: String, as name: String, suffixes: [String]) throws -> String {
    for s in suffixes {
        try? FileManager.default.removeItem(atPath: path(name + s))
        try FileManager.default.copyItem(atPath: path(prefix + s), toPath: path(name + s))
    }
    return path(name)
}

/// Flips the lowest bit of byte `offset` (from the end when negative) of `file`. On a uint16 .bin of
/// 300 ids, bit 0 of a low byte keeps every id below 300.
private func flipBit(_ file: String, at offset: Int) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: file))
    let i = offset >= 0 ? offset : data.count + offset
    data[i] ^= 1
    try data.write(to: URL(fileURLWithPath: file))
}

@Suite(.serialized) struct ContentHashCLITests {
    @Test func manifestsRecordTheHashesOfTheirFiles() throws {
        for (prefix, suffixes) in [("src", [".bin", ".idx"]), ("part0", [".bin", ".idx"]), ("packed", [".bin", ".idx", "_valid.bin", "_valid.idx"])] {
            let recorded = try object(path(prefix + ".json"))["sha256"] as? [String: String]
            #expect(recorded?.keys.sorted() == suffixes.sorted(), "\(prefix)")
            for s in suffixes { #expect(recorded?[s] == (try sha256(ofFile: path(prefix + s))), "\(prefix)\(s)") }
        }
        // merge writes the same manifest a single run does (hashes included), and verifies its inputs.
        let merged = try runTokenmill(["merge", "-o", path("merged"), path("part1"), path("part0")])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("merged.json"))) == Data(contentsOf: URL(fileURLWithPath: path("twice.json"))))
        let inspect = try runTokenmill(["inspect", path("packed_valid")])
        #expect(inspect.status == 0 && inspect.stderr.isEmpty, "\(inspect.stderr)")
    }

    @Test func aFlippedBitInADatasetIsAnErrorNamingTheFile() throws {
        for suffix in [".bin", ".idx"] {
            let name = "flip" + (suffix == ".bin" ? "bin" : "idx")
            let prefix = try copy("src", as: name, suffixes: [".bin", ".idx", ".json"])
            try flipBit(prefix + suffix, at: suffix == ".bin" ? 0 : -1)
            failsNaming(try runTokenmill(["inspect", prefix]), prefix + suffix)
            failsNaming(try runTokenmill(["train", "--config", path("c.json"), "--data", prefix, "--steps", "1"]), prefix + suffix)
            failsNaming(try runTokenmill(["pack", "--seq-len", "64", "-o", path(name + "-packed"), prefix]), prefix + suffix)
            #expect(!FileManager.default.fileExists(atPath: path(name + "-packed.bin")))
            let skipped = try runTokenmill(["inspect", "--no-verify", prefix])
            #expect(skipped.stderr.hasPrefix("inspect: --no-verify: \(prefix).bin/.idx are not checked"), "\(skipped.stderr)")
            #expect(!skipped.stderr.contains(" differs from "), "\(skipped.stderr)")
            // Bit 0 of the last .idx byte is in the document index: the structure check refuses it.
            #expect(skipped.status == (suffix == ".bin" ? 0 : 1), "\(skipped.stderr)")
            // merge: the same flip in a shard.
            let shard = try copy("part1", as: name + "-part1", suffixes: [".bin", ".idx", ".json"])
            try flipBit(shard + suffix, at: suffix == ".bin" ? 0 : -1)
            failsNaming(try runTokenmill(["merge", "-o", path(name + "-merged"), path("part0"), shard]), shard + suffix)
            #expect(!FileManager.default.fileExists(atPath: path(name + "-merged.bin")))
            let unverified = try runTokenmill(["merge", "--no-verify", "-o", path(name + "-merged"), path("part0"), shard])
            #expect(unverified.stderr.hasPrefix("merge: --no-verify: "), "\(unverified.stderr)")
            #expect(!unverified.stderr.contains(" differs from "), "\(unverified.stderr)")
            if suffix == ".bin" { #expect(unverified.status == 0, "\(unverified.stderr)") }
        }
        // train --no-verify proceeds on the changed .bin (the ids stay in the vocabulary).
        let trained = try runTokenmill(["train", "--config", path("c.json"), "--data", path("flipbin"), "--steps", "1", "--no-verify"])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stderr.hasPrefix("train: --no-verify: "), "\(trained.stderr)")
        let packedAnyway = try runTokenmill(["pack", "--no-verify", "--seq-len", "64", "-o", path("flipbin-packed"), path("flipbin")])
        #expect(packedAnyway.status == 0 && packedAnyway.stderr.hasPrefix("pack: --no-verify: "), "\(packedAnyway.stderr)")
        // A packed dataset's validation split is covered by the pack's manifest.
        let packed = try copy("packed", as: "flipvalid", suffixes: [".bin", ".idx", ".json", "_valid.bin", "_valid.idx"])
        try flipBit(packed + "_valid.bin", at: 0)
        failsNaming(try runTokenmill(["train", "--config", path("c.json"), "--data", packed, "--steps", "1"]), packed + "_valid.bin")
        failsNaming(try runTokenmill(["inspect", packed + "_valid"]), packed + "_valid.bin")
        #expect(try runTokenmill(["inspect", packed]).status == 0)
    }

    @Test func aManifestWithoutHashesLoadsWithAWarning() throws {
        let prefix = try copy("src", as: "old", suffixes: [".bin", ".idx", ".json"])
        var manifest = try object(prefix + ".json")
        manifest["sha256"] = nil
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: prefix + ".json"))
        let r = try runTokenmill(["inspect", prefix])
        #expect(r.status == 0)
        #expect(r.stderr == "warning: \(prefix).json records no SHA-256 of \(prefix).bin/.idx (written before TokenMill recorded them); not verified\n")
    }

    @Test func aFlippedBitInACheckpointIsAnErrorNamingTheFile() throws {
        let state = try object(path("run/checkpoint/state.json"))
        let files = state["files"] as? [String: String]
        #expect(files?.keys.sorted() == ["config.json", "data.json", "model.safetensors", "optimizer.safetensors", "tokenmill.json"])
        for (name, hash) in files ?? [:] { #expect(hash == (try sha256(ofFile: path("run/checkpoint/" + name))), "\(name)") }
        // Unchanged: every reader passes.
        let exported = try runTokenmill(["export-hf", path("run"), "-o", path("hf")])
        #expect(exported.status == 0 && !exported.stderr.contains("warning"), "\(exported.stderr)")
        // One flipped bit in the weights (the last byte: a tensor's data).
        let run = path("run-flipped")
        try? FileManager.default.removeItem(atPath: run)
        try FileManager.default.copyItem(atPath: path("run"), toPath: run)
        let weights = run + "/checkpoint/model.safetensors"
        try flipBit(weights, at: -1)
        failsNaming(try runTokenmill(["train", "--config", run + "/checkpoint/tokenmill.json", "--data", path("src"), "--out", run, "--resume", "--steps", "2"]), weights)
        failsNaming(try runTokenmill(["export-hf", run, "-o", path("hf-flipped")]), weights)
        #expect(!FileManager.default.fileExists(atPath: path("hf-flipped")))
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        failsNaming(try runTokenmill(["bpb", "--run", run, "--max-docs", "2", corpus]), weights)
        failsNaming(try runTokenmill(["bpb", "--checkpoint", run + "/checkpoint", "--tokenizer", path("tok.json"), "--max-docs", "2", corpus]), weights)
        // A checkpoint saved before hashes were recorded loads with a warning.
        let old = path("run-old")
        try? FileManager.default.removeItem(atPath: old)
        try FileManager.default.copyItem(atPath: path("run"), toPath: old)
        var oldState = try object(old + "/checkpoint/state.json")
        oldState["files"] = nil
        try JSONSerialization.data(withJSONObject: oldState).write(to: URL(fileURLWithPath: old + "/checkpoint/state.json"))
        let resumed = try runTokenmill(["train", "--config", old + "/checkpoint/tokenmill.json", "--data", path("src"), "--out", old, "--resume", "--steps", "2"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.hasPrefix("warning: \(old)/checkpoint records no SHA-256 of its files"), "\(resumed.stderr)")
        // …and the checkpoint it saves records them again.
        #expect(try object(old + "/checkpoint/state.json")["files"] is [String: String])
        // import-hf writes a run with hashes, and they verify.
        let imported = path("run-imported")
        try? FileManager.default.removeItem(atPath: imported)
        let r = try runTokenmill(["import-hf", path("hf"), "-o", imported, "--sequence-length", "16"])
        #expect(r.status == 0, "\(r.stderr)")
        let importedFiles = try object(imported + "/checkpoint/state.json")["files"] as? [String: String]
        #expect(importedFiles?["model.safetensors"] == (try sha256(ofFile: imported + "/checkpoint/model.safetensors")))
        let reexported = try runTokenmill(["export-hf", imported, "-o", path("hf-again"), "--no-tokenizer"])
        #expect(reexported.status == 0 && !reexported.stderr.contains("warning"), "\(reexported.stderr)")
    }
}
