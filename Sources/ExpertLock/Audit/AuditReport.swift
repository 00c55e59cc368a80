import Foundation
import MoEModels

/// The audit's report: `README.md` (findings first, each with its interval, then the tables),
/// `prunability.svg`, `recovery.svg` and `results.json`, written atomically into one folder.
public enum AuditReport {
    /// Writes the report files and returns their paths.
    @discardableResult
    public static func write(_ results: AuditPipeline.Results, to directory: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let files: [(String, Data)] = [
            ("README.md", Data(markdown(results).utf8)),
            ("prunability.svg", Data(prunabilitySVG(results).utf8)),
            (
                "recovery.svg",
                Data(
                    results.realignment.svg(
                        title: "Re-alignment of the top-\(results.plan.kept.first?.count ?? 0) model"
                    ).utf8)
            ),
            ("results.json", try encoder.encode(results)),
        ]
        return try files.map { name, data in
            let url = directory.appendingPathComponent(name)
            try AtomicFile.write(data, to: url)
            return url
        }
    }

    public static func markdown(_ r: AuditPipeline.Results) -> String {
        let p = r.prunability
        let level = String(format: "%g%%", r.parameters.level * 100)
        var md = "# Audit of \(r.model) on \(r.task)\n\n"
        md += "Evaluation: all \(r.evaluationExamples) examples of the evaluation file; pool: \(r.poolExamples) "
        md += "examples. Intervals are \(level) percentile bootstrap intervals (\(r.parameters.resamples) resamples, "
        md += "seeded) over the evaluation examples, and over random subsets or re-alignment seeds first where "
        md += "there are several (two-stage); paired comparisons reuse the same indices on both sides. Full model: "
        md += "accuracy \(f(p.full.estimate)) (Wilson \(f(p.full.lower))–\(f(p.full.upper))), a constant answer "
        md += "gets \(f(p.chance)).\n\n## Findings\n\n"
        md += "| finding | verdict | interval | p |\n| --- | --- | --- | ---: |\n"
        for finding in r.findings {
            md += "| \(finding.statement) | \(finding.verdict.rawValue) | "
            md += "\(finding.interval?.formatted("%.3f") ?? "–") | "
            md += "\(finding.pValue.map { String(format: "%.3g", $0) } ?? "–") |\n"
        }
        md += "\n## Prunability\n\n![prunability](prunability.svg)\n\n"
        md += "| k | strategy | subsets | accuracy | retention | chance-corrected retention | ΔNLL "
        md += "| McNemar p vs full |\n"
        md += "| ---: | --- | ---: | --- | --- | --- | --- | ---: |\n"
        for row in p.rows {
            md += "| \(row.k) | \(row.strategy) | \(row.subsets) | \(row.accuracy.formatted()) | "
            // Chance-corrected retention is a ratio whose denominator crosses 0 when the full model
            // is not above chance: no interval is meaningful then.
            let corrected = p.full.lower > p.chance ? row.chanceCorrected.formatted() : "– (full model at chance)"
            md += "\(row.retention.formatted()) | \(corrected) | \(row.deltaNLL.formatted()) | "
            md += "\(row.mcNemar.map { String(format: "%.3g", $0.exactP) } ?? "–") |\n"
        }
        md += "\n| strategy | ratio area | ΔNLL area | retention at k ≤ 2 |\n| --- | --- | --- | --- |\n"
        for s in p.summaries {
            md += "| \(s.strategy) | \(s.area.formatted()) | \(s.nllArea.formatted()) "
            md += "| \(s.lowK?.formatted() ?? "–") |\n"
        }
        md += "\nRatio area: mean retention over the fraction of experts kept (1 = pruning costs nothing; lower = "
        md += "more resistant). ΔNLL area: mean increase of the gold label's NLL over the same range (higher = more "
        md += "resistant). "
        md +=
            p.crossings.isEmpty
            ? "No attribution-ranked curve crosses random's mean curve.\n"
            : "Crossings: " + p.crossings.joined(separator: "; ") + ".\n"
        if let c = r.calibration {
            md += "\n## Calibration control\n\n"
            md += "Threshold-free: AUROC of the label log-odds (macro one-vs-rest) on the evaluation set, full "
            md += "\(c.aurocFull.formatted()), top-\(r.plan.kept.first?.count ?? 0) by \(r.pruneCriterion) "
            md += "\(c.aurocPruned.formatted()) (drop \(c.aurocDrop.formatted("%+.3f"))). Re-fitting only the decision "
            md += "threshold (biases \(c.biases.map { String(format: "%+.3f", $0) }.joined(separator: ", ")) on "
            md += "\(c.fitExamples) labelled pool examples, not the evaluation set) moves the pruned accuracy "
            md += "\(c.accuracyPruned.formatted()) → \(c.refitAccuracyPruned.formatted()). A pruned model that still "
            md += "ranks well and recovers with the threshold alone lost a threshold, not the task.\n"
        }
        if let rows = r.defenses {
            md += "\n## Defenses against the adaptive attacker\n\n"
            md += "Each model is attacked by every criterion ("
            md += r.parameters.criteria.map(\.rawValue).joined(separator: ", ")
            md += r.parameters.greedySearch ? " and the greedy loss-based subset search per layer" : ""
            md += "); the best attacker is the one whose top-k keeps the most accuracy at k; its pruned model is "
            md += "re-aligned (random labels). Quality cost: the first row's full accuracy minus the row's, paired "
            md += "over examples. Every defended model has its own full report in `defenses/`.\n\n"
            md += AuditDefenseRow.markdown(rows)
        }
        md += "\n## Pruning and re-alignment\n\n"
        md += "The attacker keeps the top \(r.plan.kept.first?.count ?? 0) experts per layer by \(r.pruneCriterion) "
        md += "(kept: \(r.plan.kept)), accuracy \(f(r.pruned.accuracy)), then re-aligns the surviving experts "
        md += "(\(r.parameters.realign.budget) labels, seed set \(r.parameters.realign.initialSize), "
        md += "\(r.parameters.realign.batchSize) per round, candidates: "
        md += "\(r.parameters.realign.candidatesPerRound.map { "\($0) per round" } ?? "the whole pool"), "
        md += "\(r.parameters.realign.stepsPerRound) steps per round, lr \(r.parameters.realign.learningRate), "
        md += "schedule \(r.parameters.realign.fineTuning.rawValue): "
        switch r.parameters.realign.fineTuning {
        case .restart: md += "every round restarts from the pruned weights and decays the rate by a cosine to 10%, "
        case .continued: md += "weights and AdamW moments carry over between rounds at a constant rate, "
        case .gated:
            md += "weights and AdamW moments carry over at a constant rate, and a round's update is kept only if "
            md += "accuracy on \(r.parameters.realign.heldOutCount) held-out pool examples (labeled on top of the "
            md += "budget, the same for both strategies of a seed) does not fall; otherwise the model goes back to "
            md += "the kept one, "
        }
        md += "\(r.parameters.realignSeeds) seeds).\n\n"
        md += "![recovery](recovery.svg)\n\n" + r.realignment.markdown()
        md += "\n## Provenance\n\nVerdict on the re-aligned derivative: **\(r.provenance.verdict.rawValue)**; "
        md += "kept experts per layer \(r.provenance.keptExperts).\n\n## Time\n\n"
        md += r.seconds.keys.sorted().map { "\($0) \(String(format: "%.0f", r.seconds[$0]!)) s" }.joined(
            separator: ", ")
        return md + "\n"
    }

    static func prunabilitySVG(_ r: AuditPipeline.Results) -> String {
        let p = r.prunability
        var names: [String] = []
        for row in p.rows where !names.contains(row.strategy) { names.append(row.strategy) }
        let series = names.map { name -> SVGLineChart.Series in
            let rows = p.rows.filter { $0.strategy == name }.sorted { $0.k < $1.k }
            var points = rows.map { (x: Double($0.k), y: $0.accuracy.estimate) }
            var band: [Double]? = rows.map { ($0.accuracy.upper - $0.accuracy.lower) / 2 }
            points.append((Double(p.expertsPerLayer), p.full.estimate))
            band?.append((p.full.upper - p.full.lower) / 2)
            return SVGLineChart.Series(
                name: name == "random" ? "random (\(r.parameters.randomSubsets) subsets)" : "top-k by \(name)",
                points: points, band: band, dashed: name == "random")
        }
        return SVGLineChart(
            title: "Prunability: accuracy vs experts kept (bands: \(String(format: "%g%%", r.parameters.level * 100))"
                + " intervals)",
            xLabel: "experts kept per layer (of \(p.expertsPerLayer))", yLabel: "accuracy", series: series,
            reverseX: true
        ).render()
    }

    static func f(_ x: Double) -> String { String(format: "%.3f", x) }
}
