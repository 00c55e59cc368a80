import Foundation

extension Generator {
    /// The tokens transformers' `generate` stops at for a model folder, read as `from_pretrained` sets its
    /// generation config: `eos_token_id` of generation_config.json when that file exists (Hub checkpoints such as
    /// gpt-oss list several there while config.json names one), else of config.json, or of its `text_config`
    /// when the language model is nested (Qwen3.5-MoE). An id or a list of ids; absent or null: none.
    public static func stopTokens(modelDirectory: URL) throws -> Set<Int> {
        let generation = modelDirectory.appendingPathComponent("generation_config.json")
        if FileManager.default.fileExists(atPath: generation.path) {
            return try eosTokens(in: generation, nested: false)
        }
        return try eosTokens(in: modelDirectory.appendingPathComponent("config.json"), nested: true)
    }

    /// `eos_token_id` of the JSON object in `file` (with `nested`, `text_config`'s when the top level has none).
    static func eosTokens(in file: URL, nested: Bool) throws -> Set<Int> {
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
        guard let value, !(value is NSNull) else { return [] }
        if let list = value as? [Any] { return Set(try list.map(id)) }
        return [try id(value)]
    }
}
