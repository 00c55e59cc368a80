import Foundation
import TensorCore

/// A bootstrap confidence interval: the statistic on the data and the percentile interval of its
/// resampled values.
public struct BootstrapInterval: Sendable, Codable, Equatable {
    /// The statistic on the original data (not the mean of the resamples).
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    /// Coverage, e.g. 0.95.
    public var level: Double
    public var resamples: Int
    /// Resamples whose statistic was undefined (e.g. a target never reached), counted as +∞.
    public var undefined: Int

    public init(estimate: Double, lower: Double, upper: Double, level: Double, resamples: Int, undefined: Int = 0) {
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
        self.level = level
        self.resamples = resamples
        self.undefined = undefined
    }

    enum CodingKeys: String, CodingKey {
        case estimate, lower, upper, level, resamples, undefined
    }

    // An end may be ±∞ (a target some resamples never reach): written as the strings "inf",
    // "-inf" and "nan", as results.json writes non-finite figures, so every JSON encoder accepts it.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        for (key, value) in [(CodingKeys.estimate, estimate), (.lower, lower), (.upper, upper)] {
            if value.isFinite {
                try c.encode(value, forKey: key)
            } else {
                try c.encode(value.isNaN ? "nan" : value > 0 ? "inf" : "-inf", forKey: key)
            }
        }
        try c.encode(level, forKey: .level)
        try c.encode(resamples, forKey: .resamples)
        try c.encode(undefined, forKey: .undefined)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func number(_ key: CodingKeys) throws -> Double {
            if let value = try? c.decode(Double.self, forKey: key) { return value }
            switch try c.decode(String.self, forKey: key) {
            case "inf": return .infinity
            case "-inf": return -.infinity
            default: return .nan
            }
        }
        self.init(
            estimate: try number(.estimate), lower: try number(.lower), upper: try number(.upper),
            level: try c.decode(Double.self, forKey: .level), resamples: try c.decode(Int.self, forKey: .resamples),
            undefined: try c.decode(Int.self, forKey: .undefined))
    }

    /// Whether the interval excludes `value` (e.g. 0 for a difference).
    public func excludes(_ value: Double) -> Bool { lower > value || upper < value }

    /// "0.653 [0.621, 0.684]".
    public func formatted(_ format: String = "%.3f") -> String {
        func f(_ x: Double) -> String { x.isFinite ? String(format: format, x) : (x > 0 ? "∞" : "−∞") }
        return "\(f(estimate)) [\(f(lower)), \(f(upper))]"
    }
}

/// Seeded, deterministic bootstrap (Efron & Tibshirani 1993, percentile intervals).
///
/// Resample indices come from one SplitMix64 stream: index = next() mod n, drawn resample by
/// resample. `scripts/fixtures/make_statistics_fixtures.py` reimplements that stream, so the tests
/// check the indices and the intervals numpy computes from them.
///
/// Two designs:
/// - flat: one sample of units (evaluation examples), resampled with replacement;
/// - hierarchical (two-stage, Davison & Hinkley 1997 §3.8): resample the seeds (training,
///   pruning or re-alignment runs) with replacement, then the evaluation examples with replacement.
///   Every run is scored on the same evaluation set, so one example resample is shared by all the
///   runs of a resample: the crossed design keeps the correlation between runs that share an
///   example, and the interval then covers both seed variance and evaluation-set noise.
///
/// Paired differences (two models on the same examples, or two strategies on the same seeds) use
/// the same indices for both sides.
public enum Bootstrap {
    public static let defaultResamples = 2000
    public static let defaultSeed: UInt64 = 0x5EED

    /// `resamples` index vectors of `count` indices in 0..<count.
    public static func indices(count: Int, resamples: Int, seed: UInt64) -> [[Int]] {
        precondition(count >= 1 && resamples >= 1, "at least one unit and one resample")
        var rng = SplitMix64(seed: seed)
        return (0..<resamples).map { _ in (0..<count).map { _ in Int(rng.next() % UInt64(count)) } }
    }

    /// Two-stage indices: per resample `seeds` seed indices, then `examples` example indices, from
    /// one stream in that order.
    public static func hierarchicalIndices(seeds: Int, examples: Int, resamples: Int, seed: UInt64)
        -> [(seeds: [Int], examples: [Int])]
    {
        precondition(seeds >= 1 && examples >= 1 && resamples >= 1, "at least one seed, example and resample")
        var rng = SplitMix64(seed: seed)
        return (0..<resamples).map { _ in
            let s = (0..<seeds).map { _ in Int(rng.next() % UInt64(seeds)) }
            let e = (0..<examples).map { _ in Int(rng.next() % UInt64(examples)) }
            return (s, e)
        }
    }

    /// The q-quantile (q in [0, 1]) with linear interpolation between order statistics, numpy's
    /// default (`method='linear'`, Hyndman & Fan type 7). +∞ values sort last.
    public static func quantile(sorted values: [Double], _ q: Double) -> Double {
        precondition(!values.isEmpty && q >= 0 && q <= 1, "a non-empty sample and q in [0, 1]")
        let h = Double(values.count - 1) * q
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, values.count - 1)
        let t = h - Double(lo)
        if t == 0 || values[lo] == values[hi] { return values[lo] }
        if !values[hi].isFinite || !values[lo].isFinite { return values[hi] }
        return values[lo] + t * (values[hi] - values[lo])
    }

    /// The percentile interval of resampled statistics (nil entries count as +∞ and in `undefined`).
    public static func interval(estimate: Double, replicates: [Double?], level: Double) -> BootstrapInterval {
        let values = replicates.map { $0 ?? .infinity }.sorted()
        let alpha = (1 - level) / 2
        return BootstrapInterval(
            estimate: estimate, lower: quantile(sorted: values, alpha), upper: quantile(sorted: values, 1 - alpha),
            level: level, resamples: values.count, undefined: replicates.filter { $0 == nil }.count)
    }

    /// Flat bootstrap of any statistic of a sample given as the indices it uses.
    public static func interval(
        count: Int, level: Double = 0.95, resamples: Int = defaultResamples, seed: UInt64 = defaultSeed,
        statistic: ([Int]) -> Double?
    ) -> BootstrapInterval {
        let replicates = indices(count: count, resamples: resamples, seed: seed).map(statistic)
        return interval(estimate: statistic(Array(0..<count)) ?? .infinity, replicates: replicates, level: level)
    }

    /// The mean of `values` with its percentile interval.
    public static func mean(
        _ values: [Double], level: Double = 0.95, resamples: Int = defaultResamples, seed: UInt64 = defaultSeed
    ) -> BootstrapInterval {
        interval(count: values.count, level: level, resamples: resamples, seed: seed) { idx in
            idx.reduce(0) { $0 + values[$1] } / Double(idx.count)
        }
    }

    /// mean(a) − mean(b) over the same units (paired: one index vector resamples both).
    public static func pairedDifference(
        _ a: [Double], _ b: [Double], level: Double = 0.95, resamples: Int = defaultResamples,
        seed: UInt64 = defaultSeed
    ) -> BootstrapInterval {
        precondition(a.count == b.count, "a paired difference needs the same units on both sides")
        return interval(count: a.count, level: level, resamples: resamples, seed: seed) { idx in
            idx.reduce(0) { $0 + a[$1] - b[$1] } / Double(idx.count)
        }
    }

    /// Two-stage bootstrap of a statistic of (seed indices, example indices).
    public static func hierarchical(
        seeds: Int, examples: Int, level: Double = 0.95, resamples: Int = defaultResamples,
        seed: UInt64 = defaultSeed, statistic: (_ seeds: [Int], _ examples: [Int]) -> Double?
    ) -> BootstrapInterval {
        let replicates = hierarchicalIndices(seeds: seeds, examples: examples, resamples: resamples, seed: seed)
            .map { statistic($0.seeds, $0.examples) }
        let estimate = statistic(Array(0..<seeds), Array(0..<examples)) ?? .infinity
        return interval(estimate: estimate, replicates: replicates, level: level)
    }

    /// Mean over seeds of the mean over examples of `values[seed][example]` (e.g. correctness as
    /// 0/1), two-stage: the interval combines seed variance and evaluation-set noise.
    public static func hierarchicalMean(
        _ values: [[Double]], level: Double = 0.95, resamples: Int = defaultResamples, seed: UInt64 = defaultSeed
    ) -> BootstrapInterval {
        precondition(!values.isEmpty && values.allSatisfy { $0.count == values[0].count }, "same examples per seed")
        return hierarchical(
            seeds: values.count, examples: values[0].count, level: level, resamples: resamples, seed: seed
        ) { s, e in
            s.reduce(0) { total, i in total + e.reduce(0) { $0 + values[i][$1] } / Double(e.count) } / Double(s.count)
        }
    }
}
