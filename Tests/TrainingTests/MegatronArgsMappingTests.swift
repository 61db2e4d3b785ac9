// The ModelConfig → Megatron-LM argument mapping in process: sizes, the MoE layer pattern, optional
// arguments (q_lora_rank, MTP, data), the text form (shell quoting, ` \` continuations) and the JSON form.
import Foundation
import Testing
import Training

@Suite struct MegatronArgsMappingTests {
    func byKey(_ arguments: [MegatronArgument]) -> [String: MegatronArgument] {
        Dictionary(uniqueKeysWithValues: arguments.map { ($0.key, $0) })
    }

    @Test func smallPresetMapsItsSizes() throws {
        let config = try #require(RunConfig.preset("small"))
        let m = config.model
        let a = byKey(MegatronArgument.arguments(config, data: nil))
        let sizes: [String: Int] = ["num_layers": m.numHiddenLayers, "hidden_size": m.hiddenSize, "ffn_hidden_size": m.intermediateSize,
                                    "num_attention_heads": m.numAttentionHeads, "padded_vocab_size": m.vocabSize,
                                    "kv_lora_rank": m.kvLoraRank, "qk_head_dim": m.qkNopeHeadDim, "qk_pos_emb_head_dim": m.qkRopeHeadDim,
                                    "v_head_dim": m.vHeadDim, "num_experts": m.nRoutedExperts, "moe_router_topk": m.numExpertsPerTok,
                                    "moe_shared_expert_intermediate_size": m.nSharedExperts * m.moeIntermediateSize,
                                    "seq_length": config.training.sequenceLength]
        for (key, value) in sizes {
            #expect(a[key]?.value as? Int == value && a[key]?.form == .value(String(value)), "\(key)")
        }
        #expect(m.numHiddenLayers == 4 && m.firstKDenseReplace == 1)
        #expect(a["moe_layer_freq"]?.value as? [Int] == [0, 1, 1, 1] && a["moe_layer_freq"]?.form == .value("([0]*1+[1]*3)"))
        #expect(a["rotary_base"]?.form == .value("10000") && a["norm_epsilon"]?.form == .value("1e-06"))
        #expect(a["q_lora_rank"]?.form == .absent && a["q_lora_rank"]?.value is NSNull)
        #expect(a["add_bias_linear"]?.form == .storeFalse && a["add_bias_linear"]?.value as? Bool == false)
        #expect(a["data_path"] == nil && a["tokenizer_model"] == nil && a["eod_mask_loss"] == nil)
    }

    @Test func optionalArgumentsFollowTheConfig() throws {
        var config = try #require(RunConfig.preset("tiny"))
        config.model.qLoraRank = 24
        config.model.firstKDenseReplace = 0
        config.model.numNextnPredictLayers = 0
        let a = byKey(MegatronArgument.arguments(config, data: nil))
        #expect(a["q_lora_rank"]?.form == .value("24"))
        #expect(a["moe_layer_freq"]?.value as? [Int] == [1, 1] && a["moe_layer_freq"]?.form == .value("([1]*2)"))
        #expect(a["mtp_num_layers"]?.form == .absent && a["mtp_loss_scaling_factor"] == nil)

        let data = MegatronData(prefix: "/data/it's here/rows", rowLength: 64, tokenizerDirectory: "/data/tok")
        let args = MegatronArgument.arguments(config, data: data)
        let d = byKey(args)
        #expect(d["data_path"]?.value as? [String] == ["/data/it's here/rows"] && d["seq_length"]?.value as? Int == 64)
        #expect(d["tokenizer_type"]?.value as? String == "HuggingFaceTokenizer" && d["tokenizer_model"]?.value as? String == "/data/tok")
        #expect(args.prefix(3).map(\.key) == ["data_path", "split", "seq_length"])
        let noTokenizer = byKey(MegatronArgument.arguments(config, data: MegatronData(prefix: "p", rowLength: 8, tokenizerDirectory: nil)))
        #expect(noTokenizer["tokenizer_model"] == nil && noTokenizer["reset_attention_mask"]?.form == .storeTrue)

        // The text form: quoted where the shell needs it, every line but the last continued.
        let lines = MegatronArgument.commandLine(args).split(separator: "\n").map(String.init)
        #expect(lines.first == "--data-path '/data/it'\\''s here/rows' \\")
        #expect(lines.contains("--q-lora-rank 24 \\") && lines.contains("--qk-layernorm \\") && !lines.contains { $0.hasPrefix("--mtp") })
        #expect(lines.dropLast().allSatisfy { $0.hasSuffix(" \\") } && !lines.last!.hasSuffix("\\"))
        #expect(lines.count == args.filter { $0.form != .absent }.count)
    }

    @Test func jsonHoldsEveryDestination() throws {
        let config = try #require(RunConfig.preset("tiny"))
        let args = MegatronArgument.arguments(config, data: MegatronData(prefix: "/d/rows", rowLength: 32, tokenizerDirectory: "/d/tok"))
        let text = try MegatronArgument.json(args)
        #expect(text.contains("\"data_path\" : [\n    \"/d/rows\"\n  ]"))   // slashes unescaped, Foundation's pretty layout
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Set(args.map(\.key)) && object["q_lora_rank"] is NSNull)
        #expect(object["mtp_loss_scaling_factor"] as? Double == config.model.mtpLossWeight)
        let keys = object.keys.sorted()
        #expect(text.components(separatedBy: "\n").compactMap { line in keys.first { line.hasPrefix("  \"\($0)\" :") } } == keys)

        var bad = config
        bad.model.ropeTheta = .infinity
        #expect { try MegatronArgument.json(MegatronArgument.arguments(bad, data: nil)) } throws: { ($0 as? ConfigError)?.field == "rotary_base" }
    }

    @Test func shellQuoting() {
        #expect(shellQuoted("a/b-c_1.2:x,y=z+@%") == "a/b-c_1.2:x,y=z+@%")
        #expect(shellQuoted("") == "''" && shellQuoted("a b") == "'a b'" && shellQuoted("([0]*1)") == "'([0]*1)'")
        #expect(shellQuoted("it's") == "'it'\\''s'")
    }
}
