// `tokenmill megatron-args`: the Megatron-LM arguments for the tiny and small presets (text and --json),
// the data arguments and --prepare's row index for a packed dataset of the test corpus, and the exit codes
// of bad usage (64) and bad configs or data (1).
import Foundation
import Packing
import Testing
import TokenMillTestSupport

@Suite struct MegatronArgsCLITests {
    /// The JSON object `megatron-args --json ARGS` prints.
    func json(_ args: [String]) throws -> [String: Any] {
        let r = try runTokenmill(["megatron-args", "--json"] + args)
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
    }

    @Test func presetsGiveTheirSizes() throws {
        let tiny = try json(["--config", "tiny"])
        #expect(tiny["num_layers"] as? Int == 2 && tiny["hidden_size"] as? Int == 32 && tiny["padded_vocab_size"] as? Int == 256)
        #expect(tiny["kv_lora_rank"] as? Int == 16 && tiny["qk_head_dim"] as? Int == 8 && tiny["qk_pos_emb_head_dim"] as? Int == 8)
        #expect(tiny["q_lora_rank"] is NSNull && tiny["num_experts"] as? Int == 4 && tiny["moe_router_topk"] as? Int == 2)
        #expect(tiny["moe_layer_freq"] as? [Int] == [0, 1] && tiny["seq_length"] as? Int == 32)
        #expect(tiny["mtp_num_layers"] as? Int == 1 && tiny["mtp_loss_scaling_factor"] as? Double == 0.3)

        let small = try json(["--config", "small"])
        let want: [String: Int] = ["num_layers": 4, "hidden_size": 256, "ffn_hidden_size": 1024, "num_attention_heads": 4,
                                   "padded_vocab_size": 32768, "max_position_embeddings": 512, "seq_length": 512,
                                   "kv_lora_rank": 128, "qk_head_dim": 64, "qk_pos_emb_head_dim": 32, "v_head_dim": 64,
                                   "num_experts": 16, "moe_router_topk": 4, "moe_ffn_hidden_size": 256,
                                   "moe_shared_expert_intermediate_size": 256, "rotary_base": 10000]
        for (key, value) in want { #expect(small[key] as? Int == value, "\(key): \(String(describing: small[key]))") }
        #expect(small["moe_layer_freq"] as? [Int] == [0, 1, 1, 1])
        #expect(small["moe_router_bias_update_rate"] as? Double == 0.01 && small["moe_aux_loss_coeff"] as? Double == 0.03)
        #expect(small["moe_router_topk_scaling_factor"] as? Double == 2.5 && small["norm_epsilon"] as? Double == 1e-6)
        #expect(small["moe_router_score_function"] as? String == "sigmoid" && small["normalization"] as? String == "RMSNorm")
        #expect(small["multi_latent_attention"] as? Bool == true && small["add_bias_linear"] as? Bool == false)
        #expect(small["apply_rope_fusion"] as? Bool == false && small["rope_type"] as? String == "rope")

        // The text form: one argument per line, continued with " \", the store-true flags bare.
        let r = try runTokenmill(["megatron-args", "--config", "small"])
        #expect(r.status == 0, "\(r.stderr)")
        let text = String(decoding: r.stdout, as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("--moe-layer-freq '([0]*1+[1]*3)' \\") && lines.contains("--multi-latent-attention \\"))
        #expect(lines.contains("--moe-router-score-function sigmoid \\") && lines.contains("--moe-router-enable-expert-bias \\"))
        #expect(!text.contains("--q-lora-rank") && lines.last == "--mtp-loss-scaling-factor 0.3")
        #expect(lines.dropLast().allSatisfy { $0.hasSuffix(" \\") } && lines.count == small.count - 1)
    }

    @Test func packedDataAndPrepare() throws {
        let dir = try makeTemporaryDirectory("megatron-args")
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let source = dir.appendingPathComponent("src").path, packed = dir.appendingPathComponent("packed").path
        #expect(try runTokenmill(["tokenize", "--tokenizer", try tokenizerFixture("pythia/tokenizer.json"), "-o", source, corpus]).status == 0)
        #expect(try runTokenmill(["pack", "--seq-len", "512", "-o", packed, source]).status == 0)
        let prepared = dir.appendingPathComponent("megatron").path
        let a = try json(["--config", "small", "--vocab-size", "50277", "--data", packed, "--prepare", prepared])
        #expect(a["data_path"] as? [String] == [prepared + "/rows"] && a["seq_length"] as? Int == 512)
        #expect(a["tokenizer_type"] as? String == "HuggingFaceTokenizer" && a["tokenizer_model"] as? String == prepared + "/tokenizer")
        #expect(a["reset_position_ids"] as? Bool == true && a["eod_mask_loss"] as? Bool == true && a["padded_vocab_size"] as? Int == 50277)
        // rows.idx: one sequence of 512 per row (the pack's rows), rows.bin links to the pack's .bin.
        let idx = try Data(contentsOf: URL(fileURLWithPath: prepared + "/rows.idx"))
        let count = idx.subdata(in: 18..<26).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let packManifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: packed + ".json"))) as? [String: Any])
        let rows = try #require((packManifest["report"] as? [String: Any])?["rows"] as? Int)
        #expect(Int(count) == rows && idx.count == 34 + 12 * rows + 8 * (rows + 1))
        #expect(idx.subdata(in: 34..<38).withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } == 512)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: prepared + "/rows.bin").hasSuffix("packed.bin"))
        // Read back as Megatron would (every pointer and the linked .bin's size checked): row r is the pack's row r.
        let rowsSet = try IndexedDatasetReader(prefix: prepared + "/rows"), pack = try IndexedDatasetReader(prefix: packed)
        #expect(rowsSet.sequenceCount == rows && rowsSet.documentCount == rows)
        #expect((0 ..< rows).allSatisfy { rowsSet.sequence($0) == pack.document($0) })
        let config = try String(contentsOfFile: prepared + "/tokenizer/tokenizer_config.json", encoding: .utf8)
        #expect(config.contains("\"eos_token\" : \"<|endoftext|>\""), "\(config)")
        // Without --prepare: the pack itself, and a note that Megatron would sample its pieces.
        let plain = try runTokenmill(["megatron-args", "--config", "small", "--vocab-size", "50277", "--data", packed])
        #expect(plain.status == 0 && String(decoding: plain.stdout, as: UTF8.self).hasPrefix("--data-path \(packed) \\\n") && plain.stderr.contains("--prepare DIR"), "\(plain.stderr)")
        // A prefix relative to the working directory, without a directory part (this crashed in Foundation's
        // deletingLastPathComponent before the packed dataset was read through Pipeline).
        let relative = try runTokenmill(["megatron-args", "--config", "small", "--vocab-size", "50277", "--data", "packed", "--json"], currentDirectory: dir)
        #expect(relative.status == 0, "\(relative.stderr)")
        let r = try #require(try JSONSerialization.jsonObject(with: relative.stdout) as? [String: Any])
        #expect(r["data_path"] as? [String] == ["packed"] && r["seq_length"] as? Int == 512)

        // Bad data or config: one line naming the file, exit 1.
        let vocab = try runTokenmill(["megatron-args", "--config", "small", "--data", packed])
        #expect(vocab.status == 1 && vocab.stderr.contains("\(packed).json: the tokenizer's 50277 ids do not fit model.vocab_size 32768"), "\(vocab.stderr)")
        let long = try runTokenmill(["megatron-args", "--config", "tiny", "--vocab-size", "50277", "--data", packed])
        #expect(long.status == 1 && long.stderr.contains("rows of 512 tokens exceed model.max_position_embeddings 64"), "\(long.stderr)")
        let notPacked = try runTokenmill(["megatron-args", "--config", "small", "--vocab-size", "50277", "--data", source])
        #expect(notPacked.status == 1 && notPacked.stderr.contains("\(source).json: not a packed dataset manifest"), "\(notPacked.stderr)")
        let bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"model": {"hidden_sise": 8}}"#.utf8).write(to: bad)
        let badConfig = try runTokenmill(["megatron-args", "--config", bad.path])
        #expect(badConfig.status == 1 && badConfig.stderr.contains("\(bad.path): config field 'model.hidden_sise': unknown field"), "\(badConfig.stderr)")
        let noRun = try runTokenmill(["megatron-args", "--run", dir.path])
        #expect(noRun.status == 1 && noRun.stderr.contains("\(dir.path)/checkpoint/state.json: no checkpoint"), "\(noRun.stderr)")
    }

    @Test func badUsageExits64() throws {
        for args in [[], ["--config", "tiny", "--run", "r"], ["--config", "tiny", "--vocab-size", "1"], ["--config", "tiny", "--prepare", "d"]] {
            let r = try runTokenmill(["megatron-args"] + args)
            #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
        }
    }
}
