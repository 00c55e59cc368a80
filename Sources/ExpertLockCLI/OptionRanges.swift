import ArgumentParser
import Foundation
import MoEModels

/// The valid range of a numeric option, declared with the option:
/// `@Option(parsing: .unconditional, help: …, transform: OptionRange.int(atLeast: 1)) var limit: Int?`.
///
/// `.unconditional` makes `--limit -5` reach the range check: ArgumentParser otherwise takes "-5"
/// for an option name and reports "Missing value for '--limit <limit>'". A value out of range is
/// a `ValidationError`, which ArgumentParser reports with the option's name and the value, and
/// which exits with code 2 as every bad argument.
enum OptionRange {
    static func int(atLeast minimum: Int) -> @Sendable (String) throws -> Int {
        { text in
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("'\(text)' is not an integer")
            }
            guard value >= minimum else {
                throw ValidationError("\(value) is out of range: must be at least \(minimum)")
            }
            return value
        }
    }

    static func double(_ range: ClosedRange<Double>, why: String = "") -> @Sendable (String) throws -> Double {
        { text in
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw ValidationError("'\(text)' is not a finite number")
            }
            guard range.contains(value) else {
                throw ValidationError(
                    "\(value) is out of range: must be from \(range.lowerBound) to \(range.upperBound)\(why)")
            }
            return value
        }
    }

    /// A comma-separated list whose every entry is in `range` (`sweep --thresholds`).
    static func doubles(
        _ list: String, option: String, in range: ClosedRange<Double>, why: String = ""
    ) throws -> [Double] {
        try list.split(separator: ",").map { part in
            guard let value = Double(part.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw ArgumentInputError("\(option): '\(part)' is not a number")
            }
            guard range.contains(value) else {
                throw ArgumentInputError(
                    "\(option): \(value) is out of range: must be from \(range.lowerBound) to "
                        + "\(range.upperBound)\(why)")
            }
            return value
        }
    }
}

/// `--context` (attribute, eval, sweep) against the model's `max_position_embeddings`, and `--allow-long-context`.
///
/// Positions past `max_position_embeddings` were never seen in training: rotary embeddings
/// extrapolate there and the scores mean little (a perplexity of a 100,000-token window on a
/// 2,048-position model is not the model's perplexity), and attention cost grows with the square of
/// the window (90× slower in the report that led here). So a `--context` above it is refused
/// (exit 2) unless `--allow-long-context` says the user knows the model extrapolates (rope
/// scaling, a config that understates its range). A default context above it is lowered to it,
/// with a note: the user asked for nothing the model cannot do.
struct ContextOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: """
            Tokens per sequence, the window for perplexity (default 512; eval summarize 1024; sweep 256), at most \
            the model's max_position_embeddings.
            """,
        transform: OptionRange.int(atLeast: 2))
    var context: Int?
    @Flag(help: "Allow --context above the model's max_position_embeddings (positions it was never trained on).")
    var allowLongContext = false

    /// The context to use: `--context` when given and allowed, else `defaultValue` capped at the model's limit.
    func resolved(default defaultValue: Int, model: String) throws -> Int {
        let requested = context
        let configURL = URL(fileURLWithPath: model).appendingPathComponent("config.json")
        guard let limit = (try? ModelConfig.load(from: configURL))?.maxPositionEmbeddings, limit > 0 else {
            return requested ?? defaultValue
        }
        if let requested {
            if requested > limit && !allowLongContext {
                throw ArgumentInputError(
                    "--context \(requested): \(configURL.path) has max_position_embeddings \(limit); positions "
                        + "beyond it were never trained (scores there are not the model's, and cost grows with the "
                        + "square of the window). Use --context \(limit) or less, or pass --allow-long-context if the "
                        + "model extrapolates")
            }
            return requested
        }
        if defaultValue > limit {
            Console.progress(
                "note: context \(limit) (the model's max_position_embeddings) instead of the default \(defaultValue)")
            return limit
        }
        return defaultValue
    }
}
