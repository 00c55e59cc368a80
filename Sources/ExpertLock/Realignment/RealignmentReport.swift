import Foundation

/// Runs of several strategies and seeds summarised as in the paper's Tables 4–6: per strategy the
/// metric after pruning and after fine-tuning (mean ± std over seeds), the labels used, and the
/// labels needed to reach a target, with the labels saved against random sampling.
///
/// The target is `targetFraction` of a reference metric: `reference` when given (e.g. the
/// unpruned model's), else the best point of random sampling's mean curve. For a metric where lower
/// is better (perplexity) the target is reference / fraction. Labels to target are read off each
/// strategy's mean curve by linear interpolation.
public struct RealignmentReport: Sendable, Codable, Equatable {
    public struct Statistic: Sendable, Codable, Equatable {
        public var mean: Double
        public var std: Double
    }

    public struct Row: Sendable, Codable, Equatable {
        public var strategy: QueryStrategy
        public var runs: Int
        public var afterPruning: Statistic
        public var afterFineTuning: Statistic
        /// Labels spent (the budget).
        public var labelsUsed: Int
        /// Labels at which the mean curve reaches the target (nil: never within the budget).
        public var labelsToTarget: Double?
        /// Random sampling's labels to target minus this strategy's (nil when either is missing, when the
        /// comparison is not resolvable, and for random itself, the baseline).
        public var labelsSaved: Double?
        public var curve: [MeanCurvePoint]

        enum CodingKeys: String, CodingKey {
            case strategy, runs, curve
            case afterPruning = "after_pruning"
            case afterFineTuning = "after_fine_tuning"
            case labelsUsed = "labels_used"
            case labelsToTarget = "labels_to_target"
            case labelsSaved = "labels_saved"
        }
    }

    public var metric: TaskMetric
    public var target: Double
    /// How the target was set, for the report.
    public var targetRule: String
    public var rows: [Row]
    /// Per-seed labels-to-target, areas and paired bootstrap comparisons against random sampling
    /// (nil without a random baseline run with the same seeds).
    public var efficiency: LabelEfficiency?
    /// What the gated schedule did over all runs (nil: another schedule).
    public var gate: Gate?

    /// The gated schedule's rounds: how many updates the held-out split kept.
    public struct Gate: Sendable, Codable, Equatable {
        /// Pool examples held out (labeled on top of the budget).
        public var heldOut: Int
        public var rounds: Int
        public var kept: Int

        enum CodingKeys: String, CodingKey {
            case rounds, kept
            case heldOut = "held_out"
        }
    }

    enum CodingKeys: String, CodingKey {
        case metric, target, rows, efficiency, gate
        case targetRule = "target_rule"
    }

    /// `referenceOutcomes`: the reference model's per-example outcomes on the evaluation set (e.g.
    /// the unpruned model's correctness), so the target's own evaluation noise enters the intervals;
    /// its mean is the reference.
    public init(
        results: [ActiveLearningLoop.Result], targetFraction: Double = 0.95, reference: Double? = nil,
        referenceOutcomes: [Double]? = nil, resamples: Int = 1000
    ) {
        let reference = referenceOutcomes.map { $0.reduce(0, +) / Double(max($0.count, 1)) } ?? reference
        metric = results.first?.metric ?? .accuracy
        let higher = metric.higherIsBetter
        var order: [QueryStrategy] = []
        for r in results where !order.contains(r.strategy) { order.append(r.strategy) }
        let groups = order.map { s in (s, results.filter { $0.strategy == s }) }
        let curves = Dictionary(uniqueKeysWithValues: groups.map { ($0.0, LearningCurve.mean($0.1.map(\.curve))) })
        func best(_ curve: [MeanCurvePoint]) -> Double? {
            let values = curve.map(\.mean).filter(\.isFinite)
            return higher ? values.max() : values.min()
        }
        // "95% of X" for accuracy and ROUGE; "X / 95%" for perplexity, where lower is better.
        func rule(_ what: String, _ value: Double) -> String {
            higher
                ? "\(Self.percent(targetFraction)) of \(what) \(Self.format(value))"
                : "\(what) \(Self.format(value)) / \(Self.percent(targetFraction))"
        }
        let referenceValue: Double
        if let reference {
            referenceValue = reference
            targetRule = rule("the reference", reference)
        } else if let random = curves[.random], let b = best(random) {
            referenceValue = b
            targetRule = rule("the best random-sampling mean", b)
        } else {
            referenceValue = curves.values.compactMap(best).reduce(higher ? -Double.infinity : .infinity) {
                higher ? max($0, $1) : min($0, $1)
            }
            targetRule = rule("the best mean", referenceValue)
        }
        target = higher ? targetFraction * referenceValue : referenceValue / targetFraction
        let target = self.target
        func toTarget(_ curve: [MeanCurvePoint]) -> Double? {
            LearningCurve.labelsToReach(
                target, in: curve.map { LearningCurvePoint(labeled: $0.labeled, metric: $0.mean) },
                higherIsBetter: higher)
        }
        let randomLabels = curves[.random].flatMap(toTarget)
        let rule: LabelEfficiency.TargetRule =
            referenceOutcomes.map { .reference(outcomes: $0, fraction: targetFraction) }
            ?? (reference != nil ? .fixed(self.target) : .bestRandom(fraction: targetFraction))
        let efficiency = LabelEfficiency(results: results, rule: rule, resamples: resamples)
        self.efficiency = efficiency
        let gated = results.filter { $0.validationIDs != nil }
        gate =
            gated.isEmpty
            ? nil
            : Gate(
                heldOut: gated.map { $0.validationIDs?.count ?? 0 }.max() ?? 0,
                rounds: gated.reduce(0) { $0 + $1.curve.count - 1 },
                kept: gated.reduce(0) { $0 + $1.curve.dropFirst().filter { $0.kept == true }.count })
        // Random's own "+0" is no measurement either when a comparison with it is not resolvable.
        func resolvable(_ strategy: QueryStrategy) -> Bool {
            let comparisons = efficiency?.comparisons.filter { strategy == .random || $0.strategy == strategy } ?? []
            return !comparisons.contains { $0.verdict == .notResolvable }
        }
        rows = groups.map { strategy, runs in
            let curve = curves[strategy] ?? []
            let (pm, ps) = LearningCurve.meanAndStd(runs.map(\.afterPruning))
            let (fm, fs) = LearningCurve.meanAndStd(runs.map(\.final))
            let labels = toTarget(curve)
            return Row(
                strategy: strategy, runs: runs.count, afterPruning: Statistic(mean: pm, std: ps),
                afterFineTuning: Statistic(mean: fm, std: fs), labelsUsed: runs.map(\.labeled.count).max() ?? 0,
                labelsToTarget: labels,
                labelsSaved: strategy != .random && resolvable(strategy)
                    ? randomLabels.flatMap { r in labels.map { r - $0 } } : nil,
                curve: curve)
        }
    }

    /// The table as Markdown, Tables 4–6 shaped.
    public func markdown() -> String {
        var text =
            "| strategy | seeds | after pruning | after fine-tuning | labeled samples | labels to target | saved vs "
            + "random |\n"
        text += "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        for row in rows {
            let cells = [
                row.strategy.rawValue, "\(row.runs)", Self.format(row.afterPruning), Self.format(row.afterFineTuning),
                "\(row.labelsUsed)", row.labelsToTarget.map { String(format: "%.1f", $0) } ?? "not reached",
                row.strategy == .random
                    ? "(the baseline)"
                    : row.labelsSaved.map { String(format: "%+.1f", $0 == 0 ? 0 : $0) }
                        ?? (efficiency?.comparisons.first { $0.strategy == row.strategy }?.verdict == .notResolvable
                            ? "not resolvable" : "–"),
            ]
            text += "| " + cells.joined(separator: " | ") + " |\n"
        }
        text += "\nMetric: \(metric.name) (\(metric.higherIsBetter ? "higher" : "lower") is better); "
        text += "target \(Self.format(target)) = \(targetRule).\n"
        if let gate {
            text += "\nSchedule gated: \(gate.kept) of \(gate.rounds) rounds kept their update (the metric on "
            text += "\(gate.heldOut) held-out pool examples did not get worse); a rejected round's point repeats the "
            text += "kept model's.\n"
        }
        if let efficiency { text += "\n" + efficiency.markdown() }
        return text
    }

    /// The mean learning curves (±std bands) as an SVG line chart.
    public func svg(title: String = "Re-alignment: metric against labels") -> String {
        let series = rows.map { row in
            SVGLineChart.Series(
                name: row.strategy.rawValue, points: row.curve.map { (x: Double($0.labeled), y: $0.mean) },
                band: row.runs > 1 ? row.curve.map(\.std) : nil, dashed: row.strategy == .random)
        }
        return SVGLineChart(title: title, xLabel: "labeled examples", yLabel: metric.name, series: series).render()
    }

    static func format(_ x: Double) -> String { String(format: abs(x) >= 100 ? "%.2f" : "%.4f", x) }
    static func format(_ s: Statistic) -> String { "\(format(s.mean)) ± \(format(s.std))" }
    static func percent(_ f: Double) -> String { String(format: "%g%%", f * 100) }
}
