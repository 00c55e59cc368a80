import Foundation

/// The one key style of every JSON file ExpertLock writes: snake_case, as Hugging Face's files
/// (`config.json`, `trainer_state.json`) and ExpertLock's attribution files spell their keys.
/// Types keep Swift's camelCase property names; the encoder converts them on the way out.
///
/// Files written by older builds spelled some keys in camelCase (`curve.json`'s `metricName`,
/// `pruning_plan.json`'s `originalCounts`); `decode` reads both: snake_case keys are converted to
/// the property names, and a camelCase key has no underscore, so it is left as it is and matches.
/// Types whose `CodingKeys` already spell snake_case are read by a second attempt without
/// conversion, and a file mixing the two (a camelCase type holding one with snake_case
/// `CodingKeys`, as `results.json` holds a provenance report) by a third, in which every key is
/// offered both as written and converted to camelCase.
public enum JSONFileStyle {
    /// An encoder writing snake_case keys, sorted (files compare byte for byte between runs).
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return encoder
    }

    /// Decodes a file in the current (snake_case) or an older (camelCase) key style; on failure
    /// throws the error of the snake_case attempt. `configure` adjusts both decoders.
    public static func decode<T: Decodable>(
        _ type: T.Type, from data: Data, configure: (JSONDecoder) -> Void = { _ in }
    ) throws -> T {
        let snake = JSONDecoder()
        snake.keyDecodingStrategy = .convertFromSnakeCase
        configure(snake)
        do {
            return try snake.decode(type, from: data)
        } catch let first {
            let plain = JSONDecoder()
            configure(plain)
            if let value = try? plain.decode(type, from: data) { return value }
            guard let tree = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
                JSONSerialization.isValidJSONObject(tree),
                let both = try? JSONSerialization.data(withJSONObject: bothKeyStyles(tree)),
                let value = try? plain.decode(type, from: both)
            else { throw first }
            return value
        }
    }

    /// `value` with every object key also under its camelCase form (as `convertFromSnakeCase`
    /// spells it), where that differs and is not taken.
    static func bothKeyStyles(_ value: Any) -> Any {
        if let array = value as? [Any] { return array.map(bothKeyStyles) }
        guard let object = value as? [String: Any] else { return value }
        var out: [String: Any] = [:]
        for (key, item) in object { out[key] = bothKeyStyles(item) }
        for (key, item) in object {
            let camel = camelCase(key)
            if camel != key && out[camel] == nil { out[camel] = bothKeyStyles(item) }
        }
        return out
    }

    /// "metric_name" → "metricName", as `JSONDecoder.KeyDecodingStrategy.convertFromSnakeCase`.
    static func camelCase(_ key: String) -> String {
        let parts = key.split(separator: "_")
        guard parts.count > 1, !key.hasPrefix("_"), !key.hasSuffix("_") else { return key }
        let rest = parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
        return parts[0].lowercased() + rest.joined()
    }
}
