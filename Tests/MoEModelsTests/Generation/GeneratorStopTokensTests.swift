import Foundation
import Testing

@testable import MoEModels

/// Where `generate` stops, read from a model folder as transformers' `from_pretrained` does.
struct GeneratorStopTokensTests {
    /// A config whose family default is eos 2 (as Llama-4's, Mixtral's): used only when the files name none.
    static let defaults = ModelConfig(
        modelType: "mixtral", vocabSize: 8, hiddenSize: 4, intermediateSize: 4, numHiddenLayers: 1,
        numAttentionHeads: 1, eosTokenId: 2)

    static func stopTokens(config: String, generation: String? = nil) throws -> Set<Int> {
        try TestSupport.withTemporaryDirectory { dir in
            try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
            if let generation {
                try Data(generation.utf8).write(to: dir.appendingPathComponent("generation_config.json"))
            }
            return try Generator.stopTokens(modelDirectory: dir, config: defaults)
        }
    }

    @Test func readsTheGenerationConfigFirstThenTheModelConfig() throws {
        #expect(try Self.stopTokens(config: #"{"eos_token_id": 7}"#) == [7])
        #expect(try Self.stopTokens(config: #"{"eos_token_id": [0, 7]}"#) == [0, 7])
        // gpt-oss on the Hub: config.json names one id, generation_config.json the three `generate` stops at.
        #expect(
            try Self.stopTokens(
                config: #"{"eos_token_id": 200002}"#, generation: #"{"eos_token_id": [200002, 199999, 200012]}"#)
                == [200002, 199999, 200012])
        #expect(try Self.stopTokens(config: #"{"eos_token_id": 7}"#, generation: #"{"do_sample": false}"#) == [])
        // Qwen3.5-MoE nests the language model's ids in text_config.
        #expect(try Self.stopTokens(config: #"{"text_config": {"eos_token_id": 5}}"#) == [5])
        #expect(try Self.stopTokens(config: #"{"eos_token_id": null, "text_config": {"eos_token_id": 5}}"#) == [])
        // No key anywhere: the config class's default, as transformers builds the config object.
        #expect(try Self.stopTokens(config: #"{"model_type": "mixtral"}"#) == [2])
    }

    @Test func refusesAnEosThatIsNotATokenId() {
        for (config, generation) in [
            (#"{"eos_token_id": "</s>"}"#, nil), (#"{"eos_token_id": 1.5}"#, nil), (#"{"eos_token_id": [1, -2]}"#, nil),
            ("{}", #"[1, 2]"#),
        ] as [(String, String?)] {
            #expect(throws: GenerationError.self) { try Self.stopTokens(config: config, generation: generation) }
        }
    }
}
