// The training loop end to end on a synthetic token file: resume is bit-identical, checkpoints
// round-trip, bad inputs fail clearly.
import Foundation
import Testing
@testable import Training

@Suite struct TrainerTests {
    /// A repetitive uint16 token file with a little noise, in a fresh directory.
    static func tokenFile(_ dir: URL, count: Int = 4000, vocab: Int = 32) throws -> String {
        var rng = SplitMix64(seed: 5)
        var ids = [UInt16]()
        for i in 0..<count { ids.append(UInt16(rng.next() % 10 == 0 ? Int(rng.next() % UInt64(vocab)) : (i * 7) % 13)) }
        let path = dir.appendingPathComponent("tokens.u16").path
        try ids.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
        return path
    }

    static func config() -> RunConfig {
        var c = RunConfig.preset("tiny")!
        c.model.vocabSize = 32
        c.training.sequenceLength = 16; c.training.microBatchSize = 2; c.training.gradientAccumulation = 2
        c.training.steps = 10; c.training.warmupSteps = 3; c.training.logEvery = 5; c.training.evalEvery = 5
        c.training.checkpointEvery = 100; c.training.evalBatches = 1; c.training.validationFraction = 0.1
        return c
    }

    @Test func resumeIsBitIdentical() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.tokenFile(dir)
        let straight = try Trainer(config: Self.config(), data: data, run: dir.appendingPathComponent("a").path, resume: false, log: { _ in })
        try straight.train(until: StopCondition(steps: 10))
        let half = try Trainer(config: Self.config(), data: data, run: dir.appendingPathComponent("b").path, resume: false, log: { _ in })
        try half.train(until: StopCondition(steps: 5))
        let resumed = try Trainer(config: Self.config(), data: data, run: dir.appendingPathComponent("b").path, resume: true, log: { _ in })
        #expect(resumed.state.step == 5)
        try resumed.train(until: StopCondition(steps: 10))
        let P = straight.model.parameterCount
        let same = memcmp(straight.model.params, resumed.model.params, P * 4) == 0
        #expect(same, "parameters differ after resume")
        #expect(memcmp(straight.optimizer.v, resumed.optimizer.v, P * 4) == 0)
        // The checkpoint on disk holds the same weights.
        let file = try SafetensorsFile(path: dir.appendingPathComponent("b/checkpoint/model.safetensors").path)
        #expect(file.tensors["lm_head.weight"]?.shape == [32, 32])
        #expect(file.metadata["step"] == "10")
        let lines = try String(contentsOfFile: dir.appendingPathComponent("b/metrics.jsonl").path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 4)
    }

    @Test func rejectsOutOfVocabularyData() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.tokenFile(dir, vocab: 200)
        #expect(throws: DataError.self) {
            _ = try Trainer(config: Self.config(), data: data, run: nil, resume: false, log: { _ in })
        }
    }

    @Test func rejectsUnknownConfigField() throws {
        let json = Data(#"{"model": {"hidden_size": 64, "hiden_layers": 3}}"#.utf8)
        #expect {
            _ = try RunConfig.decode(json)
        } throws: { ($0 as? ConfigError)?.field == "model.hiden_layers" }
        let bad = Data(#"{"model": {"num_experts_per_tok": 9}}"#.utf8)
        #expect {
            _ = try RunConfig.decode(bad)
        } throws: { ($0 as? ConfigError)?.field == "num_experts_per_tok" }
    }

    @Test func megatronDatasetIsRead() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The hexdump example of REFERENCE.md §1: uint16 docs [10,11,12,0] [20,21,0] [30,0].
        let ids: [UInt16] = [10, 11, 12, 0, 20, 21, 0, 30, 0]
        try ids.withUnsafeBytes { Data($0) }.write(to: dir.appendingPathComponent("d.bin"))
        var idx = Data("MMIDIDX".utf8) + Data([0, 0])
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { idx.append(contentsOf: $0) } }
        u64(1); idx.append(8); u64(3); u64(4)
        for l: Int32 in [4, 3, 2] { withUnsafeBytes(of: l.littleEndian) { idx.append(contentsOf: $0) } }
        for p: UInt64 in [0, 8, 14] { u64(p) }
        for d: UInt64 in [0, 1, 2, 3] { u64(d) }
        try idx.write(to: dir.appendingPathComponent("d.idx"))
        let s = try TokenStream(path: dir.appendingPathComponent("d").path, vocabSize: 64, validationFraction: 0)
        #expect(s.count == 9)
        var out = [Int32](repeating: 0, count: 9)
        s.read(0, 9, into: &out)
        #expect(out == ids.map(Int32.init))
    }

    func makeDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tm-trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
