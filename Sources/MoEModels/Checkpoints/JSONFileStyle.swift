import Foundation

/// The one key style of every JSON file ExpertLock writes: snake_case, as Hugging Face's files
/// (`config.json`, `trainer_state.json`) and ExpertLock's attribution files spell their keys.
/// Types keep Swift's camelCase property names; the encoder converts them on the way out.
///
/// Files written by older builds spelled some keys in camelCase (`curve.json`'s `metricName`,
/// `pruning_plan.json`'s `originalCounts`); `decode` reads both: snake_case keys are converted to
/// the property names, and a camelCase key has no underscore, so it is left as it is and matches.
/// Types whose `CodingKeys` already spell snake_case are read by a second attempt without
/// conversion.
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
            guard let value = try? plain.decode(type, from: data) else { throw first }
            return value
        }
    }
}
