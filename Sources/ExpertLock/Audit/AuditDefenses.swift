import Foundation

/// `audit --defense`: the audited model and each defended one, each attacked by every criterion and
/// the greedy search, compared on what the best attacker gets (issue 22 item 5). A defense tuned
/// against one criterion (routing-spread blinds soft mass) is judged by the attacker it did not
/// blind.
public struct AuditDefenseRow: Sendable, Codable, Equatable {
    /// The model's folder name (the first row is the audited, undefended model).
    public var model: String
    public var fullAccuracy: ProportionInterval
    /// Baseline full accuracy − this model's, paired over the evaluation examples (nil for the baseline).
    public var qualityCost: BootstrapInterval?
    /// The criterion (or `greedy`) whose top-k keeps the most accuracy at k.
    public var bestAttacker: String
    public var k: Int
    /// The best attacker's ratio area (1 = pruning costs nothing; lower = more resistant).
    public var area: BootstrapInterval
    /// Largest ratio area over all attackers (the attacker who is best over the whole curve).
    public var bestArea: BootstrapInterval
    public var bestAreaAttacker: String
    /// Full − pruned accuracy at k, paired over examples.
    public var drop: BootstrapInterval
    /// Accuracy after re-alignment with random labels (mean over seeds) and the fraction of the loss
    /// it wins back (nil when pruning cost nothing resolvable).
    public var recovery: BootstrapInterval?
    public var recovered: BootstrapInterval?
    public var aurocFull: BootstrapInterval?
    public var aurocPruned: BootstrapInterval?
    public var refitAccuracy: BootstrapInterval?
    /// A constant answer's accuracy on the evaluation set (nil in reports written before it was kept).
    public var chance: Double?

    /// The full model's accuracy interval lies above chance: only then do its retentions and areas
    /// measure anything (a model at chance "retains" everything, its areas are ratios of noise).
    public var aboveChance: Bool { chance.map { fullAccuracy.lower > $0 } ?? true }

    enum CodingKeys: String, CodingKey {
        case model, k, area, drop, recovery, recovered, chance
        case fullAccuracy = "full_accuracy"
        case qualityCost = "quality_cost"
        case bestAttacker = "best_attacker"
        case bestArea = "best_area"
        case bestAreaAttacker = "best_area_attacker"
        case aurocFull = "auroc_full"
        case aurocPruned = "auroc_pruned"
        case refitAccuracy = "refit_accuracy_pruned"
    }

    public init(model: String, results r: AuditPipeline.Results, baseline: AuditPipeline.Results?) {
        self.model = model
        fullAccuracy = r.prunability.full
        let level = r.parameters.level
        let resamples = r.parameters.resamples
        if let baseline, let b = baseline.full, let f = r.full, b.correct.count == f.correct.count {
            qualityCost = Bootstrap.pairedDifference(b.correct, f.correct, level: level, resamples: resamples)
        }
        bestAttacker = r.pruneCriterion
        k = r.plan.kept.first?.count ?? 0
        let summaries = r.prunability.summaries.filter { $0.strategy != "random" }
        let own = summaries.first { $0.strategy == r.pruneCriterion }
        let top = summaries.max { $0.area.estimate < $1.area.estimate }
        let none = BootstrapInterval(estimate: .nan, lower: .nan, upper: .nan, level: level, resamples: 0)
        area = own?.area ?? top?.area ?? none
        bestArea = top?.area ?? area
        bestAreaAttacker = top?.strategy ?? r.pruneCriterion
        if let f = r.full {
            drop = Bootstrap.pairedDifference(f.correct, r.pruned.correct, level: level, resamples: resamples)
        } else {
            drop = none
        }
        recovery = r.recovery.first { $0.id == "recovery.random.final" }?.interval
        recovered = r.recovery.first { $0.id == "recovery.random.half_of_loss" }?.interval
        aurocFull = r.calibration?.aurocFull
        aurocPruned = r.calibration?.aurocPruned
        refitAccuracy = r.calibration?.refitAccuracyPruned
        chance = r.prunability.chance
    }

    /// Does this defense leave the best attacker less quality than the baseline does? Decided by
    /// non-overlapping intervals of the two areas (the models differ, so nothing pairs them):
    /// conservative, it says "not resolved" more often than a paired test would.
    public func finding(against baseline: AuditDefenseRow) -> AuditFinding {
        let verdict = Self.resistance(
            defended: bestArea, baseline: baseline.bestArea,
            bothAboveChance: aboveChance && baseline.aboveChance)
        let atChance = [self, baseline].filter { !$0.aboveChance }.map { row in
            "\(row.model)'s full accuracy \(String(format: "%.3f", row.fullAccuracy.lower))–"
                + "\(String(format: "%.3f", row.fullAccuracy.upper)) does not lie above chance "
                + String(format: "%.3f", row.chance ?? .nan)
        }
        return AuditFinding(
            id: "defense.\(model).resists_best_attacker", verdict: verdict,
            statement: "\(model) leaves the best attacker less quality than \(baseline.model): best ratio area "
                + "\(bestArea.formatted()) (\(bestAreaAttacker)) vs \(baseline.bestArea.formatted()) "
                + "(\(baseline.bestAreaAttacker)); drop at k = \(k) by \(bestAttacker) \(drop.formatted()) vs "
                + "\(baseline.drop.formatted()); quality cost \(qualityCost?.formatted("%+.3f") ?? "–"): "
                + (atChance.isEmpty
                    ? "\(verdict.rawValue)."
                    : "not resolvable: " + atChance.joined(separator: "; ") + " (there is no quality to keep)."),
            interval: verdict == .notResolvable ? nil : bestArea)
    }

    /// Supported when the defended model's best-area interval lies below the baseline's, refuted
    /// when above, not resolved when they overlap; not resolvable when either model is at chance.
    static func resistance(
        defended: BootstrapInterval, baseline: BootstrapInterval, bothAboveChance: Bool
    ) -> AuditFinding.Verdict {
        guard bothAboveChance else { return .notResolvable }
        return defended.upper < baseline.lower ? .supported : defended.lower > baseline.upper ? .refuted : .notResolved
    }

    /// The Markdown table of the rows (the first is the baseline).
    public static func markdown(_ rows: [AuditDefenseRow]) -> String {
        var md = "| model | full accuracy | quality cost | best attacker at k | its ratio area | drop at k "
        md += "| best area (attacker) | after re-alignment (random) | loss recovered | AUROC full | AUROC pruned "
        md += "| threshold re-fit accuracy |\n"
        md += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        for r in rows {
            md += "| \(r.model)\(r.aboveChance ? "" : " (at chance)") "
            md += "| \(String(format: "%.3f", r.fullAccuracy.estimate)) "
            md += "(\(String(format: "%.3f", r.fullAccuracy.lower))–\(String(format: "%.3f", r.fullAccuracy.upper))) "
            md += "| \(r.qualityCost?.formatted("%+.3f") ?? "–") | \(r.bestAttacker), k = \(r.k) | "
            md += "\(r.area.formatted()) | \(r.drop.formatted("%+.3f")) | \(r.bestArea.formatted()) "
            md += "(\(r.bestAreaAttacker)) | \(r.recovery?.formatted() ?? "–") "
            md += "| \(r.recovered?.formatted("%.2f") ?? "–") "
            md += "| \(r.aurocFull?.formatted() ?? "–") | \(r.aurocPruned?.formatted() ?? "–") "
            md += "| \(r.refitAccuracy?.formatted() ?? "–") |\n"
        }
        return md
    }
}
