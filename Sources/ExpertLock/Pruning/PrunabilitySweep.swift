import Foundation
import MoEModels
import TensorCore

/// One measured point of a prunability curve.
public struct CurvePoint: Sendable, Codable, Equatable {
    /// Experts kept per layer (nil for threshold points, which may differ per layer).
    public var k: Int?
    /// Threshold τ for threshold points.
    public var tau: Double?
    /// "soft", "frequency", "reap", "ablation" (attribution-ranked) or "random".
    public var strategy: String
    public var seed: UInt64?
    /// Mean experts kept per sparse layer.
    public var expertsKept: Double
    public var metric: Double
}

/// Quality against experts kept: the prunability curve, and how resistant the model is.
public struct PrunabilityCurve: Sendable, Codable, Equatable {
    public var metricName: String
    public var higherIsBetter: Bool
    public var expertsPerLayer: Int
    /// The unpruned model's metric.
    public var full: Double
    public var points: [CurvePoint]
    /// The metric of guessing (accuracy 1 / classes) when the task has one: quality is then
    /// retained only above it (`retention`).
    public var chanceLevel: Double? = nil

    /// The share of the full model's quality a metric keeps, corrected for chance when the task has
    /// a chance level: (metric − chance) / (full − chance), so a pruned model at chance keeps 0%
    /// (a plain ratio would say an accuracy of 0.50 against 0.68 "retains 74%"); otherwise
    /// `normalized`. Nil when the full model itself is not above chance.
    public func retention(_ metric: Double) -> Double? {
        guard let chance = chanceLevel, higherIsBetter else { return normalized(metric) }
        guard full > chance, metric.isFinite else { return nil }
        return (metric - chance) / (full - chance)
    }

    /// Quality relative to the full model in (0, 1]-ish: metric/full when higher is better,
    /// full/metric for perplexity-like metrics.
    public func normalized(_ metric: Double) -> Double {
        guard metric.isFinite, full.isFinite, full != 0, metric != 0 else { return 0 }
        return higherIsBetter ? metric / full : full / metric
    }

    /// Mean over seeds of the points of one strategy at each k, ascending k: (k, mean, std).
    public func series(_ strategy: String) -> [(k: Int, mean: Double, std: Double)] {
        let byK = Dictionary(grouping: points.filter { $0.strategy == strategy && $0.k != nil }, by: { $0.k! })
        return byK.keys.sorted().map { k in
            let values = byK[k]!.map(\.metric)
            let mean = values.reduce(0, +) / Double(values.count)
            let variance =
                values.count > 1 ? values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1) : 0
            return (k, mean, variance.squareRoot())
        }
    }

    /// Prunability-resistance as the area under the normalised quality curve over the fraction of
    /// experts kept (trapezoids from the smallest k measured up to all experts, where quality is 1),
    /// divided by that x-range: 1 = pruning costs nothing; lower = steeper fall = more resistant.
    public func normalizedArea(_ strategy: String) -> Double? {
        var xy = series(strategy).map { (Double($0.k) / Double(expertsPerLayer), normalized($0.mean)) }
        guard let first = xy.first else { return nil }
        if xy.last!.0 < 1 { xy.append((1, 1)) }
        guard xy.count > 1, xy.last!.0 > first.0 else { return nil }
        var area = 0.0
        for i in 1..<xy.count { area += (xy[i].0 - xy[i - 1].0) * (xy[i].1 + xy[i - 1].1) / 2 }
        return area / (xy.last!.0 - first.0)
    }

    /// 1 − normalised quality at k experts per layer (the drop at fixed k).
    public func drop(at k: Int, strategy: String) -> Double? {
        series(strategy).first { $0.k == k }.map { 1 - normalized($0.mean) }
    }
}

/// Measures prunability curves: for each k (and τ), prune by each attribution criterion and by
/// random choice (several seeds), evaluate the task metric. Pruning is applied by masking, which
/// gives the same logits as removal (tested) without copying weights.
public enum PrunabilitySweep {
    public struct Parameters: Sendable {
        public var keeps: [Int]
        public var thresholds: [Double] = []
        public var criteria: [AttributionCriterion] = [.soft]
        public var randomSeeds: Int = 3
        /// Seed of the first random subset (the others follow it): pass one per model and task, so two
        /// sweeps do not share their random baselines by construction.
        public var firstRandomSeed: UInt64 = 0
        public var scope: PruningPlan.Scope = .layer
        /// Merging methods measured at the same k as removal (strategy "merge <method>"; needs a calibration).
        public var merges: [ExpertMerging.Method] = []
        public init(
            keeps: [Int], thresholds: [Double] = [], criteria: [AttributionCriterion] = [.soft], randomSeeds: Int = 3,
            firstRandomSeed: UInt64 = 0, scope: PruningPlan.Scope = .layer, merges: [ExpertMerging.Method] = []
        ) {
            self.merges = merges
            self.keeps = keeps
            self.thresholds = thresholds
            self.criteria = criteria
            self.randomSeeds = randomSeeds
            self.firstRandomSeed = firstRandomSeed
            self.scope = scope
        }
    }

    /// What a sweep has measured so far: enough to continue it after a kill. Every plan is a pure
    /// function of the parameters and the attribution, and evaluation keeps no state between
    /// calls, so skipping the points already measured gives the uninterrupted curve.
    public struct Progress: Sendable, Codable, Equatable {
        /// The unpruned model's metric, once measured.
        public var full: Double?
        /// Points measured, in plan order.
        public var points: [CurvePoint]
        public init(full: Double? = nil, points: [CurvePoint] = []) {
            self.full = full
            self.points = points
        }
    }

    /// `evaluate` returns the task metric of the model as currently masked.
    /// `progress` receives (evaluations done, total) and may return false to stop.
    /// `resume` skips what an interrupted sweep measured (its points must be a prefix of this
    /// sweep's plans); `save` receives the progress after every evaluation. Merge points (after every
    /// removal point) evaluate the merged model, built from `calibration`, at each k.
    public static func run(
        model: MoEModel, attribution: ExpertAttribution, metricName: String, higherIsBetter: Bool,
        parameters: Parameters, evaluate: (MoEModel) throws -> Double, progress: ((Int, Int) -> Bool)? = nil,
        resume: Progress? = nil, save: ((Progress) throws -> Void)? = nil, calibration: MergeCalibration? = nil
    ) throws -> PrunabilityCurve {
        try withoutActuallyEscaping(evaluate) { evaluate in
            try run(
                signature: ModelSignature(model: model), attribution: attribution, metricName: metricName,
                higherIsBetter: higherIsBetter, parameters: parameters, evaluate: { try evaluate(model.masked($0)) },
                progress: progress, resume: resume, save: save,
                evaluateMerge: calibration.map { calibration in
                    { method, k in
                        let plan = try ExpertMerging.plan(model: model, calibration: calibration, method: method, k: k)
                        return try evaluate(try ExpertMerging.apply(plan, to: model))
                    }
                })
        }
    }

    /// The same for any model that can mask experts (an encoder-decoder too): `evaluate(flags)` measures the model
    /// keeping `flags[l][e]` of sparse layer l (nil: every expert).
    public static func run(
        signature: ModelSignature, attribution: ExpertAttribution, metricName: String,
        higherIsBetter: Bool, parameters: Parameters, evaluate: ([[Bool]]?) throws -> Double,
        progress: ((Int, Int) -> Bool)? = nil, resume: Progress? = nil, save: ((Progress) throws -> Void)? = nil,
        evaluateMerge: ((ExpertMerging.Method, Int) throws -> Double)? = nil
    ) throws -> PrunabilityCurve {
        let counts = attribution.signature.expertsPerLayer
        guard attribution.signature == signature else {
            throw AttributionError.mismatch(file: attribution.model, reason: "made on another model")
        }
        let n = counts.max() ?? 0
        let keeps = parameters.keeps.filter { $0 >= 1 }
        for k in keeps where k > (counts.min() ?? 0) {
            throw PruningError.badKeep(k: k, layer: 0, experts: counts.min() ?? 0, minimum: 1)
        }
        var plans: [(CurvePoint, PruningPlan)] = []
        for k in keeps {
            for c in parameters.criteria {
                let plan = try PruningPlan.topK(
                    attribution, k: k, scope: parameters.scope, criterion: c, minimumPerLayer: 1)
                plans.append(
                    (
                        CurvePoint(k: k, tau: nil, strategy: c.rawValue, seed: nil, expertsKept: Double(k), metric: 0),
                        plan
                    ))
            }
            for s in 0..<UInt64(parameters.randomSeeds) {
                let seed = parameters.firstRandomSeed &+ s
                let plan = try PruningPlan.random(expertsPerLayer: counts, k: k, seed: seed, minimumPerLayer: 1)
                plans.append(
                    (
                        CurvePoint(k: k, tau: nil, strategy: "random", seed: seed, expertsKept: Double(k), metric: 0),
                        plan
                    ))
            }
        }
        for tau in parameters.thresholds {
            for c in parameters.criteria {
                let plan = try PruningPlan.threshold(attribution, tau: tau, criterion: c, minimumPerLayer: 1)
                let mean = Double(plan.kept.map(\.count).reduce(0, +)) / Double(max(plan.kept.count, 1))
                plans.append(
                    (CurvePoint(k: nil, tau: tau, strategy: c.rawValue, seed: nil, expertsKept: mean, metric: 0), plan))
            }
        }
        enum Action {
            case mask(PruningPlan)
            case merge(ExpertMerging.Method, Int)
        }
        var actions = plans.map { ($0.0, Action.mask($0.1)) }
        if !parameters.merges.isEmpty && evaluateMerge == nil {
            throw PruningError.planMismatch("merge points need a calibration pass")
        }
        for k in keeps {
            for method in parameters.merges {
                let point = CurvePoint(
                    k: k, tau: nil, strategy: "merge \(method.rawValue)", seed: nil, expertsKept: Double(k), metric: 0)
                actions.append((point, .merge(method, k)))
            }
        }
        var points = resume?.points ?? []
        guard points.count <= actions.count,
            zip(points, actions).allSatisfy({ saved, plan in
                var planned = plan.0
                planned.metric = saved.metric
                return planned == saved
            })
        else { throw PruningError.resumeMismatch(reason: "its points are not those of this sweep's plans") }
        let full: Double
        if let saved = resume?.full {
            full = saved
        } else {
            full = try evaluate(nil)
            try save?(Progress(full: full, points: points))
        }
        for (i, (point, action)) in actions.enumerated().dropFirst(points.count) {
            var p = point
            switch action {
            case .mask(let plan): p.metric = try evaluate(plan.keepFlags)
            case .merge(let method, let k): p.metric = try evaluateMerge!(method, k)
            }
            points.append(p)
            try save?(Progress(full: full, points: points))
            if let progress, !progress(i + 1, actions.count) { break }
        }
        return PrunabilityCurve(
            metricName: metricName, higherIsBetter: higherIsBetter, expertsPerLayer: n, full: full, points: points)
    }
}
