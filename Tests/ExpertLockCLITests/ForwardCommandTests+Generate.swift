import Foundation
import Testing

/// `expertlock forward --generate N` on decoder-only checkpoints: the tokens transformers' `generate(do_sample=
/// False)` gave (recorded by the fixture scripts), the stop at `eos_token_id`, and a bad generation config.
extension ForwardCommandTests {
    static func family(_ name: String) -> URL {
        CLIRunner.packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/families/\(name)")
    }

    /// The prompt and the tokens `generate` chose, as the two fixture scripts record them.
    static func recordedGeneration(_ model: URL) throws -> (prompt: [Int], tokens: [Int]) {
        let data = try Data(contentsOf: model.appendingPathComponent("expected.json"))
        let expected = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        if let generate = expected["generate"] as? [String: Any] {
            return (try #require(generate["prompt"] as? [Int]), try #require(generate["tokens"] as? [Int]))
        }
        return (try #require(expected["prompt"] as? [Int]), try #require(expected["generated"] as? [Int]))
    }

    static func generate(_ model: URL, prompt: [Int], count: Int) throws -> (CLIRunner.Run, [String: Any]) {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try CLIRunner.run([
            "forward", "--model", model.path, "--ids", try idsFile(prompt, in: dir), "--generate", "\(count)", "--json",
        ])
        let json = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any]
        return (run, json ?? [:])
    }

    /// Sinks with windows (gpt-oss, MXFP4), chunked NoPE attention (Llama-4), the linear-attention state cache
    /// (Qwen3-Next, Qwen3.5-MoE).
    @Test(arguments: [
        "gpt_oss_mxfp4_window4", "llama4_text_f32_chunk4_nope_qknorm", "qwen3_next_bf16_noshared_conv3",
        "qwen3_5_moe_f32_gva_conv2",
    ])
    func generatesTheTokensOfTransformersGenerate(_ name: String) throws {
        let model = Self.family(name)
        let recorded = try Self.recordedGeneration(model)
        let (run, json) = try Self.generate(model, prompt: recorded.prompt, count: recorded.tokens.count)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(json["generated"] as? [Int] == recorded.tokens)
        #expect((json["generated_logits"] as? [[Double]])?.count == recorded.tokens.count)
        #expect(json["stop_reason"] as? String == "maxTokens")
    }

    /// generation_config.json's eos_token_id (a list, as on the Hub) ends decoding after that token, which is kept.
    @Test func stopsAfterAnEosTokenOfTheGenerationConfig() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Self.family("gpt_oss_mxfp4_window4"), to: model)
        let recorded = try Self.recordedGeneration(model)
        let stop = recorded.tokens[3]
        let first = try #require(recorded.tokens.firstIndex(of: stop))
        let file = model.appendingPathComponent("generation_config.json")
        try Data("{\"eos_token_id\": [\(stop), 100000]}".utf8).write(to: file)
        let (run, json) = try Self.generate(model, prompt: recorded.prompt, count: recorded.tokens.count)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(json["generated"] as? [Int] == Array(recorded.tokens.prefix(first + 1)))
        #expect(json["stop_reason"] as? String == "stopToken")

        try Data("{\"eos_token_id\": \"end\"}".utf8).write(to: file)
        let (bad, _) = try Self.generate(model, prompt: recorded.prompt, count: 3)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("generation_config.json") && bad.stderr.contains("eos_token_id"))
        let (zero, _) = try Self.generate(model, prompt: recorded.prompt, count: 0)
        #expect(zero.status == 2 && zero.stderr.contains("--generate"))
    }
}
