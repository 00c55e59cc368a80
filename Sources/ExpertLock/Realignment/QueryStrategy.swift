import Foundation
import TensorCore

/// How the active-learning loop picks the next examples to label (Settles 2009; Sener & Savarese
/// 2018 for core-set; Ash et al. 2020 for BADGE).
///
/// Uncertainty strategies rank the unlabeled pool by a score computed with the current model and
/// take the top b, ties broken by pool index; `random` is the baseline. Every random choice is a
/// pure function of (seed, round), so a resumed run repeats the choices of an uninterrupted one
/// without saving a generator state.
public enum QueryStrategy: String, Sendable, Codable, CaseIterable {
    /// Uniformly at random (the paper's baseline).
    case random
    /// Classification: entropy −Σ p log p of the class probabilities. Language modelling and
    /// summarization: mean entropy of the next-token distribution over the example's tokens.
    case entropy
    /// Classification: smallest gap between the two most probable classes.
    case margin
    /// Classification: smallest probability of the predicted class (1 − max p).
    case leastConfidence = "least-confidence"
    /// Language modelling and summarization: mean negative log-likelihood per token of the
    /// example's (unlabeled) text.
    case nll
    /// Core-set (k-center greedy) on the final hidden states mean-pooled over the prompt: label the
    /// examples farthest from everything labeled so far.
    case coreset
    /// Classification: BADGE, k-means++ seeding on gradient embeddings (p − onehot(ŷ)) ⊗ h, with h
    /// the mean-pooled final hidden state (uncertain and diverse).
    case badge

    /// Whether the strategy ranks by a per-example uncertainty.
    public var isUncertainty: Bool { [.entropy, .margin, .leastConfidence, .nll].contains(self) }

    /// Whether it needs the model's class probabilities or token statistics of the pool.
    var needsPredictions: Bool { isUncertainty || self == .badge }

    /// Whether it needs the pool's pooled hidden states.
    var needsEmbeddings: Bool { self == .coreset || self == .badge }

    /// Whether the strategy applies to classification (class probabilities) or to language
    /// modelling and summarization (token statistics).
    public func applies(toClassification classification: Bool) -> Bool {
        switch self {
        case .random, .entropy, .coreset: true
        case .margin, .leastConfidence, .badge: classification
        case .nll: !classification
        }
    }

    /// The uncertainty of one pool example (larger: asked sooner); nil when the strategy does not
    /// rank by uncertainty or the score lacks what it needs.
    public func uncertainty(_ score: PoolScore) -> Double? {
        switch self {
        case .entropy: score.probabilities.map(Self.entropy) ?? score.meanTokenEntropy
        case .margin: score.probabilities.map { -Self.margin($0) }
        case .leastConfidence: score.probabilities.map(Self.leastConfidence)
        case .nll: score.meanNLL
        case .random, .coreset, .badge: nil
        }
    }

    /// −Σ p log p (nats); terms with p = 0 contribute 0.
    public static func entropy(_ p: [Double]) -> Double {
        -p.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
    }

    /// p(1) − p(2), the gap between the two largest probabilities (1 with a single class).
    public static func margin(_ p: [Double]) -> Double {
        let sorted = p.sorted(by: >)
        return sorted.count < 2 ? 1 : sorted[0] - sorted[1]
    }

    /// 1 − max p.
    public static func leastConfidence(_ p: [Double]) -> Double { 1 - (p.max() ?? 1) }

    /// The `count` candidates of largest uncertainty, largest first; equal (or NaN, ranked last)
    /// uncertainties in ascending pool index.
    public static func topUncertain(_ candidates: [(index: Int, uncertainty: Double)], count: Int) -> [Int] {
        func key(_ u: Double) -> Double { u.isNaN ? -.infinity : u }
        let sorted = candidates.sorted { a, b in
            key(a.uncertainty) != key(b.uncertainty) ? key(a.uncertainty) > key(b.uncertainty) : a.index < b.index
        }
        return sorted.prefix(max(0, count)).map(\.index)
    }

    /// `count` of `candidates` uniformly at random, a pure function of (seed, purpose, round) and of
    /// the candidate list (partial Fisher–Yates over SplitMix64).
    public static func randomSample(_ candidates: [Int], count: Int, seed: UInt64, round: Int, purpose: UInt64 = 1)
        -> [Int]
    {
        var rng = SplitMix64(seed: derivedSeed(seed, purpose: purpose, round: round))
        var items = candidates
        let n = min(max(0, count), items.count)
        for i in 0..<n {
            let j = i + Int(rng.next() % UInt64(items.count - i))
            items.swapAt(i, j)
        }
        return Array(items.prefix(n))
    }

    /// A seed for one purpose and round, decorrelated from nearby seeds through SplitMix64.
    static func derivedSeed(_ seed: UInt64, purpose: UInt64, round: Int) -> UInt64 {
        var mixer = SplitMix64(
            seed: seed ^ (purpose &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(round + 1) &* 0xD1B5_4A32_D192_ED03))
        return mixer.next()
    }

    /// Picks `count` of `candidates` (pool indices, ascending) given their scores (same order).
    /// `labeledEmbeddings` are the pooled hidden states of the examples labeled so far (core-set).
    public func select(
        count: Int, candidates: [Int], scores: [PoolScore], labeledEmbeddings: [[Float]], seed: UInt64, round: Int
    ) throws -> [Int] {
        precondition(scores.isEmpty || scores.count == candidates.count, "one score per candidate")
        let n = min(count, candidates.count)
        switch self {
        case .random:
            return Self.randomSample(candidates, count: n, seed: seed, round: round)
        case .entropy, .margin, .leastConfidence, .nll:
            let ranked = try zip(candidates, scores).map { index, score -> (index: Int, uncertainty: Double) in
                guard let u = uncertainty(score) else {
                    throw RealignmentError.strategyNotApplicable(strategy: rawValue)
                }
                return (index, u)
            }
            return Self.topUncertain(ranked, count: n)
        case .coreset:
            let points = try scores.map { s -> [Float] in
                guard let e = s.embedding else { throw RealignmentError.strategyNotApplicable(strategy: rawValue) }
                return e
            }
            return CoreSet.kCenterGreedy(points: points, centers: labeledEmbeddings, count: n).map { candidates[$0] }
        case .badge:
            let pairs = try scores.map { s -> ([Double], [Float]) in
                guard let p = s.probabilities, let e = s.embedding else {
                    throw RealignmentError.strategyNotApplicable(strategy: rawValue)
                }
                return (p, e)
            }
            let picks = CoreSet.badge(
                probabilities: pairs.map(\.0), embeddings: pairs.map(\.1), count: n,
                seed: Self.derivedSeed(seed, purpose: 3, round: round))
            return picks.map { candidates[$0] }
        }
    }

    /// Index of the largest value; the first among equals.
    static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    /// softmax in Double, shifted by the maximum.
    static func softmax(_ scores: [Double]) -> [Double] {
        guard let m = scores.max() else { return [] }
        let e = scores.map { exp($0 - m) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }
}

/// What the current model says about one pool example: the class probabilities (classification)
/// or the token statistics of its text (language modelling, summarization), and its pooled final
/// hidden state when a representation-based strategy asks for it.
public struct PoolScore: Sendable, Codable, Equatable {
    public var probabilities: [Double]?
    /// Mean entropy (nats) of the next-token distribution over the example's tokens.
    public var meanTokenEntropy: Double?
    /// Mean negative log-likelihood per token of the example's text.
    public var meanNLL: Double?
    /// Final hidden state mean-pooled over the prompt.
    public var embedding: [Float]?

    public init(
        probabilities: [Double]? = nil, meanTokenEntropy: Double? = nil, meanNLL: Double? = nil,
        embedding: [Float]? = nil
    ) {
        self.probabilities = probabilities
        self.meanTokenEntropy = meanTokenEntropy
        self.meanNLL = meanNLL
        self.embedding = embedding
    }
}
