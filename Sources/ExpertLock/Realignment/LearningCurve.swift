import Foundation

/// One point of a learning curve: the metric after `labeled` labels, and the per-example outcomes
/// it is the mean of, when the task reports them (classification: 1 correct, 0 wrong), so that a
/// report can resample the evaluation set.
///
/// With the gated schedule a point also holds the held-out split's metric of the round's candidate
/// (`validation`) and whether its update was kept; a rejected round's point repeats the kept model's
/// metric and outcomes, which are its model's.
public struct LearningCurvePoint: Sendable, Codable, Equatable {
    public var labeled: Int
    public var metric: Double
    public var outcomes: [Double]?
    /// The held-out split's metric of the round's fine-tuned weights (nil: not gated).
    public var validation: Double?
    /// Whether those weights were kept (nil: not gated; the pruned model's point is kept).
    public var kept: Bool?

    public init(
        labeled: Int, metric: Double, outcomes: [Double]? = nil, validation: Double? = nil, kept: Bool? = nil
    ) {
        self.labeled = labeled
        self.metric = metric
        self.outcomes = outcomes
        self.validation = validation
        self.kept = kept
    }
}

/// The mean of several runs' curves at one label count, with the sample standard deviation
/// (0 for a single run).
public struct MeanCurvePoint: Sendable, Codable, Equatable {
    public var labeled: Int
    public var mean: Double
    public var std: Double
    public var runs: Int
}

/// Learning-curve arithmetic: means over seeds and the labels needed to reach a target.
public enum LearningCurve {
    /// Labels at which `curve` first reaches `target` (≥ when higher is better, ≤ otherwise),
    /// interpolating linearly between the two points around the crossing; nil if it never does.
    public static func labelsToReach(_ target: Double, in curve: [LearningCurvePoint], higherIsBetter: Bool) -> Double?
    {
        func reached(_ y: Double) -> Bool { higherIsBetter ? y >= target : y <= target }
        guard let first = curve.first else { return nil }
        if reached(first.metric) { return Double(first.labeled) }
        for (a, b) in zip(curve, curve.dropFirst()) where !reached(a.metric) && reached(b.metric) {
            let t = (target - a.metric) / (b.metric - a.metric)
            return Double(a.labeled) + t * Double(b.labeled - a.labeled)
        }
        return nil
    }

    /// Mean and sample standard deviation at each label count present in every curve.
    public static func mean(_ curves: [[LearningCurvePoint]]) -> [MeanCurvePoint] {
        guard let first = curves.first else { return [] }
        let shared = curves.dropFirst().reduce(Set(first.map(\.labeled))) { $0.intersection($1.map(\.labeled)) }
        return shared.sorted().map { x in
            let values = curves.compactMap { curve in curve.first { $0.labeled == x }?.metric }
            let (mean, std) = meanAndStd(values)
            return MeanCurvePoint(labeled: x, mean: mean, std: std, runs: values.count)
        }
    }

    /// Mean and sample standard deviation (n − 1; 0 for one value).
    public static func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
        guard !values.isEmpty else { return (.nan, .nan) }
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return (mean, 0) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        return (mean, variance.squareRoot())
    }
}
