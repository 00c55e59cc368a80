import Foundation

/// The binomial distribution in log space, exact enough for the tests a report runs on evaluation
/// sets (n up to ~10⁶): log-PMF through `lgamma`, tails summed from their largest term down, so a
/// p-value of 1e-300 is not rounded to 0 by adding small terms to 1.
public enum Binomial {
    /// log P(X = k) for X ~ Binomial(n, p).
    public static func logPMF(_ k: Int, n: Int, p: Double) -> Double {
        precondition(n >= 0 && k >= 0 && k <= n, "0 ≤ k ≤ n")
        if p == 0 { return k == 0 ? 0 : -.infinity }
        if p == 1 { return k == n ? 0 : -.infinity }
        let logChoose = lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
        return logChoose + Double(k) * log(p) + Double(n - k) * log1p(-p)
    }

    public static func pmf(_ k: Int, n: Int, p: Double) -> Double { exp(logPMF(k, n: n, p: p)) }

    /// P(X ≤ k), summed in log space (log-sum-exp over the terms).
    public static func cdf(_ k: Int, n: Int, p: Double) -> Double {
        if k < 0 { return 0 }
        if k >= n { return 1 }
        return min(1, exp(logSumExp((0...k).map { logPMF($0, n: n, p: p) })))
    }

    static func logSumExp(_ values: [Double]) -> Double {
        guard let m = values.max(), m > -.infinity else { return -.infinity }
        return m + log(values.reduce(0) { $0 + exp($1 - m) })
    }
}

/// McNemar's test for two classifiers scored on the same examples (the paired design: full vs
/// pruned model, or two strategies' final models). Only the discordant pairs carry information:
/// b = examples the first gets right and the second wrong, c = the reverse. Under H0 (equal
/// accuracy) b ~ Binomial(b + c, ½).
///
/// `exactP` is the two-sided exact (conditional binomial) p-value, as `scipy.stats.binomtest(b,
/// b + c, 0.5).pvalue`: min(1, 2 · P(X ≤ min(b, c))). `midP` subtracts half the probability of the
/// observed table from each tail, 2 · P(X ≤ min(b, c)) − P(X = min(b, c)) (Fagerland et al. 2013), which
/// is less conservative and keeps its size close to nominal.
public struct McNemarTest: Sendable, Codable, Equatable {
    /// First right, second wrong.
    public var b: Int
    /// First wrong, second right.
    public var c: Int
    public var exactP: Double
    public var midP: Double

    enum CodingKeys: String, CodingKey {
        case b, c
        case exactP = "exact_p"
        case midP = "mid_p"
    }

    public init(b: Int, c: Int) {
        precondition(b >= 0 && c >= 0, "counts are non-negative")
        self.b = b
        self.c = c
        let n = b + c
        if n == 0 {
            exactP = 1
            midP = 1
            return
        }
        let low = min(b, c)
        exactP = min(1, 2 * Binomial.cdf(low, n: n, p: 0.5))
        // 2 · [P(X ≤ low) − ½ P(X = low)] = P(X ≤ low) + P(X ≤ low − 1), which is at most 1 (1 when b = c).
        midP = min(1, Binomial.cdf(low, n: n, p: 0.5) + Binomial.cdf(low - 1, n: n, p: 0.5))
    }

    /// The test from two per-example correctness vectors of the same examples in the same order.
    public init(first: [Bool], second: [Bool]) {
        precondition(first.count == second.count, "the paired design needs the same examples")
        var b = 0
        var c = 0
        for (x, y) in zip(first, second) where x != y {
            if x { b += 1 } else { c += 1 }
        }
        self.init(b: b, c: c)
    }
}

/// A proportion's confidence interval.
public struct ProportionInterval: Sendable, Codable, Equatable {
    public var successes: Int
    public var trials: Int
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    public var level: Double

    /// The Wilson score interval (Wilson 1927), as `scipy.stats.binomtest(k, n).proportion_ci(level,
    /// method='wilson')`: unlike the normal (Wald) interval it stays inside [0, 1] and keeps its
    /// coverage near 0 and 1, where pruned classifiers that answer one class live.
    public static func wilson(successes k: Int, trials n: Int, level: Double = 0.95) -> ProportionInterval {
        precondition(n > 0 && k >= 0 && k <= n, "0 ≤ k ≤ n, n > 0")
        let z = NormalDistribution.quantile(1 - (1 - level) / 2)
        let nd = Double(n)
        let p = Double(k) / nd
        let denominator = 1 + z * z / nd
        let center = (p + z * z / (2 * nd)) / denominator
        let half = z / denominator * (p * (1 - p) / nd + z * z / (4 * nd * nd)).squareRoot()
        // The interval must contain the estimate; rounding must not push an end past it at k = 0 or n.
        return ProportionInterval(
            successes: k, trials: n, estimate: p, lower: k == 0 ? 0 : max(0, center - half),
            upper: k == n ? 1 : min(1, center + half), level: level)
    }
}

/// The standard normal distribution's quantile and CDF.
public enum NormalDistribution {
    /// Φ(x) through `erfc`, accurate in both tails.
    public static func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Φ⁻¹(p): Acklam's rational approximation (relative error 1.2e-9) refined by one Halley step
    /// on Φ, which brings it to double precision.
    public static func quantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "p in (0, 1)")
        // The upper half by symmetry: 1 − p is exact there (Sterbenz), Φ(x) − p near 1 is not.
        if p > 0.5 { return -quantile(1 - p) }
        let a = [
            -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00,
        ]
        let b = [
            -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01,
        ]
        let c = [
            -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00,
        ]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x =
                (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5
            let r = q * q
            x =
                (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log1p(-p)).squareRoot()
            x =
                -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = cdf(x) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}
