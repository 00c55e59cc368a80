import Foundation
import MoEModels
import Testing

/// `train --trainable experts|lora` and `realign` on DeepSeek-V3 checkpoints (MLA, sigmoid grouped router,
/// shared experts, dense first layer; and the FP8 one): each runs, changes only what it trains, and writes a
/// folder ExpertLock loads back (the trained folders also load in transformers 5.25 without missing or
/// unexpected keys: checked by hand, see docs in the issue note).
@Suite(.enabled(if: CLIRunner.isAvailable)) struct FamilyTrainingCommandTests {
    static func fixture(_ name: String) -> URL {
        CLIRunner.packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/families/\(name)")
    }

    /// A copy of a fixture with a word-level tokenizer inside its vocabulary, token ids, and LM pool/dev files.
    static func workspace(_ name: String) throws -> URL {
        let dir = try CLIRunner.temporaryDirectory()
        let model = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        for file in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(
                at: fixture(name).appendingPathComponent(file), to: model.appendingPathComponent(file))
        }
        let words = ["good", "great", "fine", "bad", "awful", "poor", "the", "movie", "was", "a", "story", "very"]
        var vocab: [String: Int] = ["[UNK]": 0]
        for w in words { vocab[w] = vocab.count }
        let tokenizer: [String: Any] = [
            "version": "1.0", "added_tokens": [], "pre_tokenizer": ["type": "WhitespaceSplit"],
            "model": ["type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"],
        ]
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: model.appendingPathComponent("tokenizer.json"))
        var state: UInt64 = 11
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        for (file, lines) in [("pool.jsonl", 24), ("dev.jsonl", 6)] {
            let text =
                (0..<lines).map { _ in
                    let sentence = (0..<8).map { _ in words[next(words.count)] }.joined(separator: " ")
                    return String(
                        decoding: try! JSONSerialization.data(withJSONObject: ["text": sentence]), as: UTF8.self)
                }.joined(separator: "\n") + "\n"
            try Data(text.utf8).write(to: dir.appendingPathComponent(file))
        }
        let ids = (0..<300).map { _ in next(40) }
        try JSONSerialization.data(withJSONObject: ids).write(to: dir.appendingPathComponent("ids.json"))
        return dir
    }

    static func train(_ dir: URL, trainable: String, out: String) throws -> CLIRunner.Run {
        try CLIRunner.run([
            "train", "--model", dir.appendingPathComponent("model").path, "--task", "lm", "--ids",
            dir.appendingPathComponent("ids.json").path, "--trainable", trainable, "--steps", "3", "--batch", "2",
            "--seq", "16", "--lr", "0.01", "--out", dir.appendingPathComponent(out).path, "--json",
        ])
    }

    /// Tensor bytes of a folder, by name.
    static func tensors(_ dir: URL) throws -> [String: Data] {
        let checkpoint = try SafeTensorsCheckpoint(directory: dir)
        var out: [String: Data] = [:]
        for name in checkpoint.tensorNames {
            out[name] = try checkpoint.file(containing: name)!.storedTensor(name).bytes
        }
        return out
    }

    @Test(arguments: ["deepseek_v3_f32_qlora_groups", "deepseek_v3_fp8_block32_groups_yarn"])
    func trainExpertsChangesOnlyTheExperts(_ name: String) throws {
        let dir = try Self.workspace(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.train(dir, trainable: "experts", out: "trained")
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((result["final_loss"] as? Double)?.isFinite == true)
        let trained = dir.appendingPathComponent("trained")
        _ = try ModelLoader.load(directory: trained)
        let before = try SafeTensorsCheckpoint(directory: dir.appendingPathComponent("model"))
        let after = try SafeTensorsCheckpoint(directory: trained)
        var changedExperts = 0
        for tensor in after.tensorNames where tensor.contains(".weight") && !tensor.hasSuffix("_scale_inv") {
            let a = try before.tensor(tensorOrDequantized: tensor)
            let b = try after.tensor(tensorOrDequantized: tensor)
            if tensor.contains(".experts.") {
                if a != b { changedExperts += 1 }
            } else {
                #expect(a == b, "\(tensor) is not an expert weight and changed")
            }
            // FP8 stays FP8 (a changed expert is quantized again; the rest keeps its bytes).
            #expect((before.info(tensor)?.dtype == .f8e4m3) == (after.info(tensor)?.dtype == .f8e4m3), "\(tensor)")
        }
        #expect(changedExperts > 0)
    }

    @Test func trainLoRAWritesAnAdapterAndKeepsTheBase() throws {
        let dir = try Self.workspace("deepseek_v3_f32_qlora_groups")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Self.train(dir, trainable: "lora", out: "lora")
        #expect(run.status == 0, "\(run.stderr)")
        let out = dir.appendingPathComponent("lora")
        let adapter = try SafeTensorsFile(url: out.appendingPathComponent("adapter_model.safetensors"))
        // MLA's projections are LoRA targets.
        #expect(adapter.tensorNames.contains { $0.contains("kv_a_proj_with_mqa") || $0.contains("q_a_proj") })
        #expect(try Self.tensors(out) == Self.tensors(dir.appendingPathComponent("model")))
        let model = try ModelLoader.load(directory: out)
        #expect(!model.loraAdapters.isEmpty)
    }

    @Test func realignRunsOnDeepseekV3() throws {
        let dir = try Self.workspace("deepseek_v3_f32_qlora_groups")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try CLIRunner.run([
            "realign", "--model", dir.appendingPathComponent("model").path, "--task", "perplexity", "--pool",
            dir.appendingPathComponent("pool.jsonl").path, "--eval-data", dir.appendingPathComponent("dev.jsonl").path,
            "--validation", "4", "--budget", "8", "--batch", "4", "--initial", "4", "--steps", "2", "--train-batch",
            "2", "--seq", "10",
            "--lr", "0.01", "--strategy", "nll", "--seed", "1", "--out", dir.appendingPathComponent("ra").path,
            "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let curve = try #require(result["curve"] as? [[String: Any]])
        #expect(curve.map { $0["labeled"] as? Int } == [0, 4, 8])
        #expect(curve.allSatisfy { ($0["metric"] as? Double).map { $0.isFinite && $0 > 1 } == true })
        _ = try ModelLoader.load(directory: dir.appendingPathComponent("ra/nll-seed1/model"))
    }
}

private extension SafeTensorsCheckpoint {
    /// A weight as Float32 values, FP8 ones through their scales (what the model computes with).
    func tensor(tensorOrDequantized name: String) throws -> [Float] {
        guard info(name)?.dtype == .f8e4m3 else { return try tensor(name).data }
        let scales = try tensor(name + "_scale_inv")
        let shape = info(name)!.shape
        let block = [
            (shape[0] + scales.shape[0] - 1) / scales.shape[0], (shape[1] + scales.shape[1] - 1) / scales.shape[1],
        ]
        return try file(containing: name)!.withRawBytes(name) { bytes, _ in
            FP8Quantization(blockSize: block).dequantize(bytes, rows: 0..<shape[0], columns: shape[1], scales: scales)
                .data
        }
    }
}
