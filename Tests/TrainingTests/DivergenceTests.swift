// Divergence diagnostics: the first non-finite tensor of a gradient (or parameter) buffer, in
// parameter order, and which loss went non-finite.
import Foundation
import Testing
@testable import Training

@Suite struct DivergenceTests {
    static let specs = parameterSizes(TrainerTests.config().model)

    /// A finite buffer laid out by `specs`, with `value` planted at `index` of the tensors named `names`.
    static func buffer(planting value: Float, in names: [String], index: (ParameterSpec) -> Int = { $0.count / 2 }) -> [Float] {
        var values = (0..<specs.totalCount).map { Float($0 % 7) * 0.25 - 0.5 }
        for name in names {
            let s = specs.first { $0.name == name }!
            values[s.offset + index(s)] = value
        }
        return values
    }

    @Test func findsThePlantedTensor() {
        let name = "model.layers.1.self_attn.kv_b_proj.weight"
        #expect(Self.specs.contains { $0.name == name })
        for value in [Float.infinity, -Float.infinity, Float.nan] {
            // Its first, middle and last element: the scan covers each tensor's whole range.
            for index in [{ (_: ParameterSpec) in 0 }, { $0.count / 2 }, { $0.count - 1 }] {
                let g = Self.buffer(planting: value, in: [name], index: index)
                #expect(g.withUnsafeBufferPointer { firstNonFiniteTensor($0.baseAddress!, specs: Self.specs) } == name)
            }
        }
    }

    @Test func namesTheFirstInParameterOrderAndNilWhenFinite() {
        let finite = Self.buffer(planting: 1, in: [])
        #expect(finite.withUnsafeBufferPointer { firstNonFiniteTensor($0.baseAddress!, specs: Self.specs) } == nil)
        let g = Self.buffer(planting: .infinity, in: ["lm_head.weight", "model.layers.0.input_layernorm.weight"])
        #expect(g.withUnsafeBufferPointer { firstNonFiniteTensor($0.baseAddress!, specs: Self.specs) } == "model.layers.0.input_layernorm.weight")
    }

    @Test func skipsTensorsWithoutGradientsOnlyWhenAsked() {
        guard let bias = Self.specs.first(where: { !$0.trainable }) else { Issue.record("no frozen tensor in the test config"); return }
        let g = Self.buffer(planting: .nan, in: [bias.name, "lm_head.weight"])
        #expect(g.withUnsafeBufferPointer { firstNonFiniteTensor($0.baseAddress!, specs: Self.specs, trainableOnly: true) } == "lm_head.weight")
        #expect(g.withUnsafeBufferPointer { firstNonFiniteTensor($0.baseAddress!, specs: Self.specs) } == bias.name)
    }

    @Test func namesTheNonFiniteLoss() {
        var l = LossParts(main: 2, mtp: [1, .infinity], balance: 0.1, total: .infinity)
        #expect(nonFiniteLossName(l).name == "MTP loss 2")
        #expect(nonFiniteLossName(l).value == .infinity)
        l.main = .nan
        #expect(nonFiniteLossName(l).name == "loss")
        #expect(nonFiniteLossName(l).value.isNaN)
        l = LossParts(main: 2, mtp: [1], balance: -.infinity, total: -.infinity)
        #expect(nonFiniteLossName(l).name == "balance loss")
    }
}
