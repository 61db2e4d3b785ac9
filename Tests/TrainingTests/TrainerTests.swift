// The training loop end to end on a synthetic token file: resume is bit-identical, checkpoints
// round-trip, bad inputs fail clearly.
import CorpusIO
import Foundation
import Packing
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
        let straight = try Trainer(config: Self.config(), data: data, run: dir.appendingPathComponent("a").path, resume: false, layout: .flat, log: { _ in })
        try straight.train(until: StopCondition(steps: 10))
        let half = try Trainer(config: Self.config(), data: data, run: dir.appendingPathComponent("b").path, resume: false, layout: .flat, log: { _ in })
        try half.train(until: StopCondition(steps: 5))
        let resumed = try Trainer(config: Self.config(), data: data, run: dir.appendingPathComponent("b").path, resume: true, layout: .flat, log: { _ in })
        #expect(resumed.state.step == 5)
        try resumed.train(until: StopCondition(steps: 10))
        let P = straight.model.parameterCount
        let same = memcmp(straight.model.params, resumed.model.params, P * 4) == 0
        #expect(same, "parameters differ after resume")
        #expect(memcmp(straight.optimizer.v!, resumed.optimizer.v!, P * 4) == 0)
        // The checkpoint on disk holds the same weights.
        let file = try SafetensorsFile(path: dir.appendingPathComponent("b/checkpoint/model.safetensors").path)
        #expect(file.tensors["lm_head.weight"]?.shape == [32, 32])
        #expect(file.metadata["step"] == "10")
        let lines = try String(contentsOfFile: dir.appendingPathComponent("b/metrics.jsonl").path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 4)
        // Every MoE layer's entry lists the tokens each expert got over the log window (5 steps of
        // 2 micro-batches of 2 rows of 16 positions, K = 2 picks each) and the last step's max/min.
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        let layers = first["expert_load"] as! [[String: Any]]
        #expect(layers.count == 2)   // layer 1 and the MTP layer
        for l in layers {
            let loads = l["loads"] as! [Int]
            #expect(loads.count == 4 && loads.reduce(0, +) == 5 * 2 * 2 * 16 * 2)
            #expect(loads.max() == l["max"] as? Int && loads.min() == l["min"] as? Int)
            #expect((l["step_max_over_min"] as? Double ?? 0) >= 1)
        }
        // The validation line carries the load of its batches (1 batch of 2 rows of 16, K = 2) per layer.
        let eval = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect(eval["val_loss"] is Double)
        let valLayers = eval["val_expert_load"] as! [[String: Any]]
        #expect(valLayers.count == 2)
        #expect((valLayers[0]["loads"] as! [Int]).reduce(0, +) == 2 * 16 * 2)
        #expect(resumed.lastValidationLoads.count == 2)
    }

    @Test func scheduleFollowsTheBudget() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try Trainer(config: Self.config(), data: try Self.tokenFile(dir), run: nil, resume: false, layout: .flat, log: { _ in })
        #expect(trainer.tokensPerStep == 64)
        #expect(trainer.plannedSteps(StopCondition(steps: 4), elapsed: 0, stepsThisRun: 0) == 10)   // training.steps
        #expect(trainer.plannedSteps(StopCondition(tokens: 640), elapsed: 0, stepsThisRun: 0) == 10)
        #expect(trainer.plannedSteps(StopCondition(tokens: 650), elapsed: 0, stepsThisRun: 0) == 11)
        // 2 minutes, 30 s for 10 steps so far: 90 s left at 3 s a step → 30 more.
        #expect(trainer.plannedSteps(StopCondition(minutes: 2), elapsed: 30, stepsThisRun: 10) == 30)
    }

    /// The learning-rate scales reach the optimizer by tensor name: the embedding, the head, and the
    /// router of every MoE layer, the MTP module's included; the dense layers' FFNs keep 1.
    @Test func learningRateScalesNameTheirTensors() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = Self.config()
        c.model.numHiddenLayers = 3; c.model.firstKDenseReplace = 1
        c.training.embeddingLRScale = 2; c.training.headLRScale = 3; c.training.routerLRScale = 0.25
        let trainer = try Trainer(config: c, data: try Self.tokenFile(dir), run: nil, resume: false, layout: .flat, log: { _ in })
        var expected = ["model.embed_tokens.weight": 2.0, "lm_head.weight": 3.0]
        for layer in 1...3 { expected["model.layers.\(layer).mlp.gate.weight"] = 0.25 }   // layers 1, 2 and the MTP layer 3
        #expect(trainer.optimizer.lrScales == expected)
        #expect(trainer.model.specs.contains { $0.name == "model.layers.0.mlp.gate_proj.weight" })
    }

    @Test func rejectsOutOfVocabularyData() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.tokenFile(dir, vocab: 200)
        #expect(throws: DataError.self) {
            _ = try Trainer(config: Self.config(), data: data, run: nil, resume: false, layout: .flat, log: { _ in })
        }
    }

    @Test func rejectsUnknownConfigField() throws {
        let json = Data(#"{"model": {"hidden_size": 64, "hiden_layers": 3}}"#.utf8)
        #expect {
            _ = try RunConfig.decode(json)
        } throws: { ($0 as? ConfigError)?.field == "model.hiden_layers" }
        #expect {
            _ = try RunConfig.decode(Data(#"{"training": {"embedding_lr_scale": 0}}"#.utf8))
        } throws: { ($0 as? ConfigError)?.field == "training.embedding_lr_scale" }
        #expect {
            _ = try RunConfig.decode(Data(#"{"training": {"head_lr_scale": -1}}"#.utf8))
        } throws: { ($0 as? ConfigError)?.field == "training.head_lr_scale" }
        #expect {
            _ = try RunConfig.decode(Data(#"{"training": {"router_lr_scale": 0}}"#.utf8))
        } throws: { ($0 as? ConfigError)?.field == "training.router_lr_scale" }
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

    @Test func nonFiniteLossStopsAndKeepsTheCheckpoint() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.tokenFile(dir), run = dir.appendingPathComponent("r").path
        let trainer = try Trainer(config: Self.config(), data: data, run: run, resume: false, layout: .flat, log: { _ in })
        try trainer.train(until: StopCondition(steps: 4))
        let saved = try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint/model.safetensors"))
        // A weight gone bad (as a diverging run would produce): the next step's loss is NaN, and the
        // message names the tensor (the embedding comes first in parameter order).
        trainer.model.params[5] = .nan
        #expect {
            try trainer.train(until: StopCondition(steps: 8))
        } throws: { "\($0)" == "loss is NaN at step 5 (first non-finite parameter model.embed_tokens.weight); stopping (the last checkpoint is kept). Try a lower learning_rate." }
        #expect(throws: TrainingError.self) { try trainer.saveCheckpoint() }
        #expect(try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint/model.safetensors")) == saved)
        let resumed = try Trainer(config: Self.config(), data: data, run: run, resume: true, layout: .flat, log: { _ in })
        #expect(resumed.state.step == 4)
    }

    @Test func fullDiskKeepsThePreviousCheckpoint() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.tokenFile(dir), run = dir.appendingPathComponent("r").path
        let trainer = try Trainer(config: Self.config(), data: data, run: run, resume: false, layout: .flat, log: { _ in })
        try trainer.train(until: StopCondition(steps: 3))
        let files = ["model.safetensors", "optimizer.safetensors", "state.json", "config.json", "tokenmill.json"]
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint/" + $0)) }
        // Room for part of the weights only, then for all but the last JSON file.
        for room in [5_000, before[0].count + before[1].count + 10] {
            trainer.simulatedDisk = SimulatedDisk(directory: run, bytes: room)
            #expect {
                try trainer.train(until: StopCondition(steps: 5))
            } throws: { "\($0)".contains("No space left on device; the previous checkpoint is kept") }
            trainer.simulatedDisk = nil
            let after = try files.map { try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint/" + $0)) }
            #expect(after == before)
            #expect(!FileManager.default.fileExists(atPath: run + "/checkpoint.tmp"))
        }
        let resumed = try Trainer(config: Self.config(), data: data, run: run, resume: true, layout: .flat, log: { _ in })
        #expect(resumed.state.step == 3)
    }

    @Test func checkpointFromAnotherConfigIsRefused() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.tokenFile(dir), run = dir.appendingPathComponent("r").path
        try Trainer(config: Self.config(), data: data, run: run, resume: false, layout: .flat, log: { _ in }).train(until: StopCondition(steps: 2))
        var other = Self.config()
        other.model.hiddenSize = 48
        #expect {
            _ = try Trainer(config: other, data: data, run: run, resume: true, layout: .flat, log: { _ in })
        } throws: { "\($0)".contains("checkpoint is from another model config") }
        // Without --resume an existing checkpoint is never overwritten.
        #expect {
            _ = try Trainer(config: Self.config(), data: data, run: run, resume: false, layout: .flat, log: { _ in })
        } throws: { "\($0)".contains("already holds a checkpoint") }
    }

    /// A packed dataset as `tokenmill pack` lays it out (rows of 8; pieces, then padding), EOD = pad = 0.
    static func packedDataset(_ prefix: String, rows: [[[Int32]]]) throws {
        let w = try IndexedDatasetWriter(prefix: prefix, dtype: .uint16)
        for pieces in rows {
            for p in pieces { try w.addSequence(p) }
            try w.addSequence([Int32](repeating: 0, count: 8 - pieces.reduce(0) { $0 + $1.count }))
            w.endDocument()
        }
        try w.finish()
    }

    @Test func packedRowsAreWindowedAndSegmented() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("p").path
        // Row 0: a document [5 6 EOD], a truncated chunk [7 8 9], padding [0 0]; row 1: one chunk, no padding.
        try Self.packedDataset(prefix, rows: [[[5, 6, 0], [7, 8, 9]], [[1, 2, 3, 4, 5, 6, 7, 0]]])
        try Self.packedDataset(prefix + "_valid", rows: [[[3, 3, 0]]])
        let layout = DatasetLayout(packed: true, eod: 0, eodSource: "the test")
        let data = try TrainingData.open(path: prefix, vocabSize: 16, T: 4, rowLength: 6, validationFraction: 0.5, layout: layout)
        #expect(data.packedLength == 8 && data.eod == 0 && data.train.windowCount == 4)
        #expect(data.valid?.windowCount == 2, "PREFIX_valid is the validation split (no rows held out)")
        var config = ModelConfig.tiny
        config.vocabSize = 16
        let model = Model<Double>(config: config, B: 1, T: 4)
        func window(_ w: Int) -> ([Int32], [Int32], [Int32]) {
            data.train.fill(w, into: model, row: 0)
            return (Array(UnsafeBufferPointer(start: model.tokens, count: 6)),
                    Array(UnsafeBufferPointer(start: model.segmentStart, count: 4)),
                    Array(UnsafeBufferPointer(start: model.targetLimit, count: 4)))
        }
        // Window 0: the chunk [7 8 9] follows an EOD, so only the EOD at 2 starts a segment.
        #expect(window(0) == ([5, 6, 0, 7, 8, 9], [0, 0, 2, 2], [2, 2, 5, 5]))
        // Window 1: [8 9] then padding: the target after 9 is padding, padding inputs count nothing.
        #expect(window(1) == ([8, 9, 0, 0, 0, 0], [0, 0, 2, 2], [1, 1, -1, -1]))
        #expect(window(2) == ([1, 2, 3, 4, 5, 6], [0, 0, 0, 0], [5, 5, 5, 5]))
        // Window 3: [5 6 7 EOD], past the row's end: the EOD's target is masked.
        #expect(window(3) == ([5, 6, 7, 0, 0, 0], [0, 0, 0, 3], [3, 3, 3, 3]))
        #expect(throws: DataError.self) {
            _ = try TrainingData.open(path: prefix, vocabSize: 16, T: 16, rowLength: 18, validationFraction: 0, layout: layout)
        }
    }

    func makeDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tm-trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A run config written as TOML decodes to the same `RunConfig` as its JSON, with the same checks.
@Suite struct RunConfigTOMLTests {
    @Test func tomlAndJSONGiveTheSameConfig() throws {
        let json = #"{"model": {"hidden_size": 48, "n_routed_experts": 8, "routed_scaling_factor": 2}, "training": {"steps": 7, "learning_rate": 0.001, "seed": 9}}"#
        let toml = """
        [model]
        hidden_size = 48
        n_routed_experts = 8
        routed_scaling_factor = 2
        [training]
        steps = 7
        learning_rate = 1e-3
        seed = 9
        """
        let fromJSON = try RunConfig.decode(Data(json.utf8), source: "run.json")
        let fromTOML = try RunConfig.decode(Data(toml.utf8), source: "run.toml")
        #expect(fromTOML == fromJSON)
        #expect(fromTOML.model.hiddenSize == 48 && fromTOML.training.steps == 7 && fromTOML.training.seed == 9)
        #expect(fromTOML != RunConfig(model: ModelConfig(), training: TrainingConfig()))
    }

    @Test func tomlErrorsNameTheFieldOrTheLine() {
        #expect {
            _ = try RunConfig.decode(Data("[training]\nstep = 7\n".utf8), source: "run.toml")
        } throws: { "\($0)" == "config field 'training.step': unknown field" }
        #expect {
            _ = try RunConfig.decode(Data("[training]\nsteps = 0\n".utf8), source: "run.toml")
        } throws: { "\($0)" == "config field 'training.steps': must be positive" }
        #expect {
            _ = try RunConfig.decode(Data("[model]\n\nhidden_size = 4 8\n".utf8), source: "run.toml")
        } throws: { "\($0)".hasPrefix("run.toml:3: ") }
    }
}
