import Foundation

/// Whether an active-learning strategy needs fewer labels than random sampling, measured the way a
/// reviewer can check: labels-to-target per seed, the area under each learning curve, and
/// two-stage bootstrap intervals (seeds, then evaluation examples) of their means and of the paired
/// differences.
///
/// The design is paired twice: strategy and random run with the same seeds (hence the same random
/// seed set in round 0, the same training batches) and are scored on the same evaluation examples,
/// so one resample draws one set of seed indices and one set of example indices for both sides.
///
/// When the seed set every strategy shares is already enough to reach the target (in any seed; with
/// no seed set, when the pruned model reaches it before any label),
/// the two strategies are identical up to that point by construction and the comparison says
/// nothing about label efficiency: the verdict is "not resolvable at this round size" and no ratio
/// is given. A smaller seed set (`--initial`) or a higher target resolves it.
public struct LabelEfficiency: Sendable, Codable, Equatable {
    public struct StrategyFigures: Sendable, Codable, Equatable {
        public var strategy: QueryStrategy
        /// Labels at which each seed's curve reaches the target (nil: not within the budget).
        public var labelsToTarget: [Double?]
        /// Mean over seeds (an unreached seed makes it +∞).
        public var meanLabelsToTarget: BootstrapInterval
        /// Mean metric over the label range (area under the learning curve ÷ budget), per seed.
        public var area: [Double]
        public var meanArea: BootstrapInterval
        public var final: BootstrapInterval

        enum CodingKeys: String, CodingKey {
            case strategy, area, final
            case labelsToTarget = "labels_to_target"
            case meanLabelsToTarget = "mean_labels_to_target"
            case meanArea = "mean_area"
        }
    }

    public enum Verdict: String, Sendable, Codable {
        case fewerLabels = "fewer labels"
        case moreLabels = "more labels"
        case notResolved = "no difference resolved"
        case notResolvable = "not resolvable at this round size"
        case notReached = "target not reached"
    }

    public struct Comparison: Sendable, Codable, Equatable {
        public var strategy: QueryStrategy
        public var verdict: Verdict
        /// One sentence with the figures that decide the verdict.
        public var statement: String
        /// Random's mean labels-to-target minus the strategy's (nil when not resolvable).
        public var labelsSaved: BootstrapInterval?
        /// `labelsSaved` ÷ random's labels (nil when not resolvable).
        public var savedFraction: BootstrapInterval?
        /// Strategy's mean area minus random's (positive: better over the whole budget).
        public var areaDifference: BootstrapInterval

        enum CodingKeys: String, CodingKey {
            case strategy, verdict, statement
            case labelsSaved = "labels_saved"
            case savedFraction = "saved_fraction"
            case areaDifference = "area_difference"
        }
    }

    public var target: BootstrapInterval
    public var seeds: [UInt64]
    public var seedSetSize: Int
    public var budget: Int
    /// Evaluation examples resampled (1 when the curves carry no per-example outcomes).
    public var examples: Int
    public var strategies: [StrategyFigures]
    public var comparisons: [Comparison]

    enum CodingKeys: String, CodingKey {
        case target, seeds, budget, examples, strategies, comparisons
        case seedSetSize = "seed_set_size"
    }

    /// How each resample sets the target from (metric table, example indices).
    public enum TargetRule: Sendable {
        /// A fixed value (e.g. a reference given as a number).
        case fixed(Double)
        /// `fraction` of the reference model's metric on the same resampled examples.
        case reference(outcomes: [Double], fraction: Double)
        /// `fraction` of the best point of random sampling's mean curve.
        case bestRandom(fraction: Double)
    }

    /// nil when there is no random baseline or no seed that every strategy ran.
    public init?(
        results: [ActiveLearningLoop.Result], rule: TargetRule, level: Double = 0.95, resamples: Int = 1000,
        seed: UInt64 = Bootstrap.defaultSeed
    ) {
        var order: [QueryStrategy] = []
        for r in results where !order.contains(r.strategy) { order.append(r.strategy) }
        guard order.contains(.random), let metric = results.first?.metric else { return nil }
        let common = order.map { s in Set(results.filter { $0.strategy == s }.map(\.seed)) }
            .reduce(Set(results.map(\.seed))) { $0.intersection($1) }.sorted()
        guard !common.isEmpty else { return nil }
        // runs[strategy][seed]
        let runs = order.map { s in common.map { k in results.first { $0.strategy == s && $0.seed == k }! } }
        let n = runs.flatMap { $0 }.flatMap(\.curve).compactMap { $0.outcomes?.count }.first ?? 0
        let perExample = n > 0 && runs.flatMap { $0 }.allSatisfy { $0.curve.allSatisfy { $0.outcomes?.count == n } }
        if case .reference(let outcomes, _) = rule, !perExample || outcomes.count != n { return nil }
        let examples = perExample ? n : 1
        let higher = metric.higherIsBetter
        let budget = runs.flatMap { $0 }.map { $0.curve.last?.labeled ?? 0 }.max() ?? 0
        let seedSet = runs.flatMap { $0 }.compactMap(\.seedSetSize).max() ?? 0
        let randomIndex = order.firstIndex(of: .random)!

        // One resample's figures from its seed and example indices.
        struct Figures {
            var target: Double
            var labels: [[Double?]]  // [strategy][seed position]
            var area: [[Double]]
            var final: [[Double]]
        }
        func figures(_ e: [Int]) -> Figures {
            func value(_ p: LearningCurvePoint) -> Double {
                guard perExample, let o = p.outcomes else { return p.metric }
                return e.reduce(0) { $0 + o[$1] } / Double(e.count)
            }
            let tables = runs.map {
                $0.map { r in r.curve.map { LearningCurvePoint(labeled: $0.labeled, metric: value($0)) } }
            }
            let target: Double
            switch rule {
            case .fixed(let v): target = v
            case .reference(let o, let f):
                let ref = e.reduce(0) { $0 + o[$1] } / Double(e.count)
                target = higher ? f * ref : ref / f
            case .bestRandom(let f):
                let means = LearningCurve.mean(tables[randomIndex]).map(\.mean)
                let best = (higher ? means.max() : means.min()) ?? .nan
                target = higher ? f * best : best / f
            }
            return Figures(
                target: target,
                labels: tables.map { $0.map { LearningCurve.labelsToReach(target, in: $0, higherIsBetter: higher) } },
                area: tables.map { $0.map(Self.meanOverLabels) },
                final: tables.map { $0.map { $0.last?.metric ?? .nan } })
        }
        func mean(_ xs: [Double?], _ s: [Int]) -> Double? {
            var total = 0.0
            for i in s {
                guard let x = xs[i] else { return nil }
                total += x
            }
            return total / Double(s.count)
        }
        func mean(_ xs: [Double], _ s: [Int]) -> Double { s.reduce(0) { $0 + xs[$1] } / Double(s.count) }
        let allSeeds = Array(common.indices)
        let full = figures(Array(0..<examples))
        let draws = Bootstrap.hierarchicalIndices(
            seeds: common.count, examples: examples, resamples: resamples, seed: seed
        ).map { (seeds: $0.seeds, figures: figures(perExample ? $0.examples : [0])) }
        func interval(_ statistic: (Figures, [Int]) -> Double?) -> BootstrapInterval {
            Bootstrap.interval(
                estimate: statistic(full, allSeeds) ?? .infinity,
                replicates: draws.map { statistic($0.figures, $0.seeds) }, level: level)
        }
        target = interval { f, _ in f.target }
        seeds = common
        seedSetSize = seedSet
        self.budget = budget
        self.examples = examples
        strategies = order.indices.map { i in
            StrategyFigures(
                strategy: order[i], labelsToTarget: full.labels[i],
                meanLabelsToTarget: interval { f, s in mean(f.labels[i], s) }, area: full.area[i],
                meanArea: interval { f, s in mean(f.area[i], s) }, final: interval { f, s in mean(f.final[i], s) })
        }
        func saved(_ f: Figures, _ s: [Int], _ i: Int) -> Double? {
            switch (mean(f.labels[randomIndex], s), mean(f.labels[i], s)) {
            case (let r?, let x?): r - x
            case (nil, .some): .infinity
            case (.some, nil): -.infinity
            case (nil, nil): nil
            }
        }
        let reached = full.labels.flatMap { $0 }.compactMap { $0 }
        comparisons = order.indices.filter { $0 != randomIndex }.map { i in
            let area = interval { f, s in mean(f.area[i], s) - mean(f.area[randomIndex], s) }
            let name = order[i].rawValue
            // Reached within the shared seed set (or, without one, by the pruned model before any label).
            let inSeedSet = common.indices.filter { k in
                [i, randomIndex].contains { (full.labels[$0][k] ?? .infinity) <= Double(seedSet) }
            }
            if !inSeedSet.isEmpty {
                let whereReached =
                    seedSet > 0
                    ? "within the \(seedSet)-label seed set both strategies share"
                    : "by the pruned model before any label"
                return Comparison(
                    strategy: order[i], verdict: .notResolvable,
                    statement: "\(name) vs random: not resolvable at this round size. In \(inSeedSet.count) of "
                        + "\(common.count) seeds the target \(Self.format(full.target)) is reached \(whereReached), "
                        + "so their labels-to-target are equal by construction; no ratio is given. Area difference "
                        + "\(area.formatted("%+.4f")).",
                    labelsSaved: nil, savedFraction: nil, areaDifference: area)
            }
            let bothMissing =
                full.labels[i].allSatisfy { $0 == nil } && full.labels[randomIndex].allSatisfy { $0 == nil }
            if bothMissing || reached.isEmpty {
                return Comparison(
                    strategy: order[i], verdict: .notReached,
                    statement: "\(name) vs random: neither reaches the target \(Self.format(full.target)) within "
                        + "\(budget) labels in any seed; no ratio. Area difference \(area.formatted("%+.4f")).",
                    labelsSaved: nil, savedFraction: nil, areaDifference: area)
            }
            let labels = interval { f, s in saved(f, s, i) }
            let fraction = interval { f, s in
                guard let d = saved(f, s, i), let r = mean(f.labels[randomIndex], s), r > 0 else { return nil }
                return d / r
            }
            let verdict: Verdict = labels.lower > 0 ? .fewerLabels : labels.upper < 0 ? .moreLabels : .notResolved
            let what =
                verdict == .notResolved
                ? "the \(Self.percent(level)) interval includes 0" : "the \(Self.percent(level)) interval excludes 0"
            return Comparison(
                strategy: order[i], verdict: verdict,
                statement: "\(name) vs random: \(verdict.rawValue); labels saved \(labels.formatted("%+.1f")) "
                    + "(\(fraction.formatted("%+.2f")) of random's), \(what). Area difference "
                    + "\(area.formatted("%+.4f")).",
                labelsSaved: labels, savedFraction: fraction, areaDifference: area)
        }
    }

    /// Mean metric over the labels spent: trapezoids over the curve, divided by its label range.
    public static func meanOverLabels(_ curve: [LearningCurvePoint]) -> Double {
        guard let first = curve.first, let last = curve.last, last.labeled > first.labeled else {
            return curve.first?.metric ?? .nan
        }
        var area = 0.0
        for (a, b) in zip(curve, curve.dropFirst()) {
            area += Double(b.labeled - a.labeled) * (a.metric + b.metric) / 2
        }
        return area / Double(last.labeled - first.labeled)
    }

    /// The figures as Markdown: per-seed labels-to-target, means with intervals, verdicts.
    public func markdown() -> String {
        var text = "Labels to target per seed (target \(target.formatted("%.4f")); seeds "
        text += "\(seeds.map(String.init).joined(separator: ", ")); shared seed set \(seedSetSize) labels; "
        text +=
            examples > 1
            ? "intervals: two-stage bootstrap over seeds and \(examples) evaluation examples, "
            : "intervals: bootstrap over seeds, "
        text += "\(Self.percent(target.level)), \(target.resamples) resamples):\n\n"
        text += "| strategy | " + seeds.map { "seed \($0)" }.joined(separator: " | ")
        text += " | mean labels to target | area (mean metric over labels) | final |\n"
        text += "| --- |" + seeds.map { _ in " ---: |" }.joined() + " ---: | ---: | ---: |\n"
        for s in strategies {
            let cells = s.labelsToTarget.map { $0.map { String(format: "%.1f", $0) } ?? "not reached" }
            text += "| \(s.strategy.rawValue) | " + cells.joined(separator: " | ")
            text += " | \(s.meanLabelsToTarget.formatted("%.1f")) | \(s.meanArea.formatted("%.4f")) "
            text += "| \(s.final.formatted("%.4f")) |\n"
        }
        text += "\n"
        for c in comparisons { text += "- \(c.statement)\n" }
        return text
    }

    static func format(_ x: Double) -> String { String(format: "%.4f", x) }
    static func percent(_ f: Double) -> String { String(format: "%g%%", f * 100) }
}
