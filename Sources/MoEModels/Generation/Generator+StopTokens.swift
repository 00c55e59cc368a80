import Foundation

extension Generator {
    /// The tokens transformers' `generate` stops at for a model folder, read as `from_pretrained` sets its
    /// generation config: `eos_token_id` of generation_config.json when that file exists (Hub checkpoints such as
    /// gpt-oss list several there while config.json names one), else of config.json, or of its `text_config`
    /// when the language model is nested (Qwen3.5-MoE), else the family's default (`config.eosTokenId`, as
    /// transformers' config class has it). An id or a list of ids; null: none.
    public static func stopTokens(modelDirectory: URL, config: ModelConfig) throws -> Set<Int> {
        let generation = modelDirectory.appendingPathComponent("generation_config.json")
        if FileManager.default.fileExists(atPath: generation.path) {
            return try eosTokens(in: generation, nested: false) ?? []
        }
        let declared = try eosTokens(in: modelDirectory.appendingPathComponent("config.json"), nested: true)
        return declared ?? Set([config.eosTokenId].compactMap { $0 })
    }

    /// `eos_token_id` of the JSON object in `file` (with `nested`, `text_config`'s when the top level has none);
    /// nil when neither has the key.
    static func eosTokens(in file: URL, nested: Bool) throws -> Set<Int>? {
        let expected = "eos_token_id must be a token id or a list of token ids"
        func bad(_ reason: String) -> GenerationError { .badGenerationFile(file: file.path, reason: reason) }
        func id(_ value: Any) throws -> Int {
            guard let n = value as? NSNumber, n.intValue >= 0, Double(n.intValue) == n.doubleValue else {
                throw bad(expected)
            }
            return n.intValue
        }
        let data: Data
        do { data = try Data(contentsOf: file) } catch { throw bad("cannot be read") }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw bad("is not a JSON object")
        }
        var value = root["eos_token_id"]
        if value == nil, nested, let text = root["text_config"] as? [String: Any] { value = text["eos_token_id"] }
        guard let value else { return nil }
        if value is NSNull { return [] }
        if let list = value as? [Any] { return Set(try list.map(id)) }
        return [try id(value)]
    }
}
