import ExpertLock
import Foundation
import MoEModels

/// Writes the demo's report: report/README.md (tables shaped like the paper's, one paragraph per
/// finding, every number from this run), report/*.svg (prunability curves standard vs entangled,
/// attribution heatmaps) and report/results.json.
public enum DemoReport {
    static let taskTitles = [
        "lm": "Language modeling (perplexity, lower is better)", "sentiment": "Sentiment classification (accuracy)",
        "entailment": "Entailment classification (accuracy)", "summarization": "Summarization (ROUGE-L F×100)",
    ]

    /// One colour per model in every plot (blue and orange stay apart for colour-blind readers);
    /// strategies differ by dash.
    static let modelColors = ["standard": "#1f77b4", "entangled": "#ff7f0e"]
    /// Axis titles with their units.
    static let axisLabels = [
        "perplexity": "perplexity on held-out text", "accuracy": "accuracy on held-out examples (0–1)",
        "rougeL": "ROUGE-L F-measure (×100)",
    ]

    /// Returns the files written.
    @discardableResult
    public static func write(_ results: DemoResults, to reportDir: URL) throws -> [URL] {
        let fm = FileManager.default
        try fm.createDirectory(at: reportDir, withIntermediateDirectories: true)
        var files: [URL] = []
        func put(_ name: String, _ text: String) throws {
            let url = reportDir.appendingPathComponent(name)
            try AtomicFile.write(text, to: url)
            files.append(url)
        }
        let encoder = JSONFileStyle.encoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = try encoder.encode(results)
        try AtomicFile.write(json, to: reportDir.appendingPathComponent("results.json"))
        files.append(reportDir.appendingPathComponent("results.json"))

        let standard = results.models["standard"]
        let entangled = results.models["entangled"]
        var md = "# ExpertLock demo report\n\n"
        md +=
            "Everything below was measured in this run "
            + "(seed \(results.seed)) on ExpertLock's built-in multi-domain corpus, "
        md += "with two 8-expert top-2 Mixtral-style models trained here for \(results.sizes.trainingSteps) steps "
        md +=
            "(hidden \(results.sizes.hiddenSize), \(results.sizes.layers) layers): a **standard** model and an "
            + "**entangled** one "
        md += "(\(results.entanglement.method.rawValue), strength \(results.entanglement.strength)). "
        md +=
            "Pruning keeps k experts per layer by an attribution criterion computed on the task's own data (the "
            + "attacker's view), "
        md += "or k random experts (mean ± std over \(results.sizes.seeds) seeds).\n\n"
        if !results.trainingSeconds.isEmpty || !results.cachedModels.isEmpty {
            var parts = results.trainingSeconds.sorted { $0.key > $1.key }
                .map { "\($0.key) \(String(format: "%.0f", $0.value)) s" }
            if !results.cachedModels.isEmpty {
                parts.append(
                    results.cachedModels.joined(separator: ", ")
                        + " loaded from `models/` (trained by an earlier run with the same settings)")
            }
            md += "Training time: " + parts.joined(separator: ", ")
            if !results.stageSeconds.isEmpty {
                md +=
                    "; then "
                    + ["audit", "realign", "provenance", "signed log"].compactMap { stage in
                        results.stageSeconds[stage].map { "\(stage) \(String(format: "%.0f", $0)) s" }
                    }.joined(separator: ", ")
            }
            md +=
                results.totalSeconds > 0
                ? "; whole run \(String(format: "%.0f", results.totalSeconds)) s.\n\n" : ".\n\n"
        }

        // Tables 1–3 (standard model) and Figure 1 (standard vs entangled).
        for (i, task) in DemoResults.taskOrder.enumerated() {
            guard let s = standard?.tasks[task] else { continue }
            md += "## Table \(i + 1). \(taskTitles[task] ?? task) vs experts kept — standard model\n\n"
            md += s.curve.markdownTable() + "\n"
            let svgName = "prunability-\(task).svg"
            try put(svgName, curveSVG(task: task, standard: s.curve, entangled: entangled?.tasks[task]?.curve))
            md += "![Prunability on \(task)](\(svgName))\n\n"
            md += finding(task: task, standard: s, entangled: entangled?.tasks[task]) + "\n\n"
            let heatName = "attribution-\(task).svg"
            try put(
                heatName,
                SVGHeatmap(
                    title: "Soft routing share A_i on \(task) data (standard model)", rowLabel: "layer",
                    columnLabel: "expert",
                    values: s.attributionShares, rowNames: s.attributionShares.indices.map { "layer \($0)" },
                    valueLabel: "share A_i"
                ).render())
            md += "![Attribution on \(task)](\(heatName))\n\n"
        }

        // Defense comparison.
        if let standard, let entangled {
            md += "## Defense: standard vs entangled training\n\n"
            md += defenseTable(standard: standard, entangled: entangled)
            md +=
                "\nArea = mean normalised quality over the fraction of experts kept (soft-ranked pruning; 1 = pruning "
                + "costs nothing, "
            md +=
                "lower = pruning hurts sooner, i.e. more resistant). Drop = 1 − normalised quality with 2 of 8 "
                + "experts.\n\n"
            md += entanglementFinding(results) + "\n\n"
        }
        if !results.recovery.isEmpty {
            md += "## Table 5. Re-alignment of the top-2 pruned model on sentiment (accuracy)\n\n"
            md +=
                "Each model is pruned to the 2 experts per layer with the highest soft share on sentiment data, then "
                + "its surviving "
            md +=
                "experts are fine-tuned "
                + "on \(results.sizes.realignBudget) labels chosen at random or by entropy (pool-based active "
            md += "learning, \(results.sizes.realignBatch) per round, \(results.sizes.seeds) seeds, mean ± std; "
            md += "gated schedule: a round's update is kept only if accuracy on "
            md += "\(ActiveLearningLoop.Parameters.defaultValidationSize) held-out pool examples does not fall).\n\n"
            md += recoveryTable(results)
            var series: [SVGLineChart.Series] = []
            for name in ["standard", "entangled"] {
                guard let r = results.recovery[name] else { continue }
                let full = results.models[name]?.tasks["sentiment"]?.curve.full
                for strategy in ["random", "entropy"] {
                    guard let runs = r.runs[strategy] else { continue }
                    let mean = LearningCurve.mean(runs)
                    series.append(
                        .init(
                            name: "\(name), \(strategy)", points: mean.map { (Double($0.labeled), $0.mean) },
                            band: mean.map(\.std),
                            dashed: strategy == "random", color: modelColors[name]))
                }
                if let full {
                    series.append(
                        .init(
                            name: "\(name), unpruned",
                            points: [(0, full), (Double(results.sizes.realignBudget), full)],
                            dotted: true, color: modelColors[name]))
                }
            }
            try put(
                "recovery-sentiment.svg",
                SVGLineChart(
                    title: "Re-alignment after pruning to top-2 (sentiment)",
                    xLabel: "labeled examples (oracle labels spent)",
                    yLabel: axisLabels["accuracy"] ?? "accuracy",
                    series: series
                ).render())
            md += "\n![Recovery curves](recovery-sentiment.svg)\n\n"
            md += recoveryFinding(results) + "\n\n"
        }
        if let provenance = results.provenance { md += provenanceSection(provenance) }
        if let signedLog = results.signedLog { md += signedLogSection(signedLog) }
        if let agreement = standard?.tasks["lm"]?.criterionAgreement {
            md += "## Which attribution predicts the damage?\n\n"
            md +=
                "Spearman ρ between each criterion and the measured loss increase of masking each expert alone (LM "
                + "data, mean over layers): "
            md +=
                agreement.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(
                    separator: ", ") + ".\n\n"
        }
        try put("README.md", md)
        try put("excerpt.md", excerpt(results))
        return files
    }

    /// The paragraph of `text` that begins with `marker`, up to the next blank line.
    static func paragraph(startingWith marker: String, in text: String) -> String? {
        guard let start = text.range(of: marker) else { return nil }
        let rest = text[start.lowerBound...]
        let end = rest.range(of: "\n\n")?.lowerBound ?? rest.endIndex
        return String(rest[..<end]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The defense comparison table (standard vs entangled, per task).
    static func defenseTable(standard: DemoResults.ModelResult, entangled: DemoResults.ModelResult) -> String {
        var md = "| task | metric | full standard | full entangled | area standard | area entangled | "
        md += "drop at k=2 standard | drop at k=2 entangled |\n"
        md += "|---|---|---:|---:|---:|---:|---:|---:|\n"
        for task in DemoResults.taskOrder {
            guard let s = standard.tasks[task]?.curve, let e = entangled.tasks[task]?.curve else { continue }
            md += "| \(task) | \(s.metricName) | \(fmt(s.full)) | \(fmt(e.full)) | \(fmt(s.normalizedArea("soft"))) | "
            md += "\(fmt(e.normalizedArea("soft"))) | \(fmt(s.drop(at: 2, strategy: "soft"))) | "
            md += "\(fmt(e.drop(at: 2, strategy: "soft"))) |\n"
        }
        return md
    }

    /// Table 5: re-alignment of the two top-2 pruned models.
    static func recoveryTable(_ results: DemoResults) -> String {
        let budget = results.sizes.realignBudget
        var md = "| model | full | pruned, 0 labels | random, \(budget) labels | entropy, \(budget) labels | "
        md += "labels to reach random's final (entropy) |\n"
        md += "|---|---:|---:|---:|---:|---:|\n"
        for name in ["standard", "entangled"] {
            guard let r = results.recovery[name] else { continue }
            let full = results.models[name]?.tasks["sentiment"]?.curve.full
            func final(_ strategy: String) -> (mean: Double, std: Double)? {
                guard let runs = r.runs[strategy], !runs.isEmpty else { return nil }
                return LearningCurve.meanAndStd(runs.compactMap { $0.last?.metric })
            }
            let random = final("random"), entropy = final("entropy")
            var reach = "–"
            if let random, let runs = r.runs["entropy"] {
                let needed = runs.compactMap { LearningCurve.labelsToReach(random.mean, in: $0, higherIsBetter: true) }
                reach =
                    needed.isEmpty ? "not reached" : String(format: "%.0f", needed.reduce(0, +) / Double(needed.count))
            }
            md +=
                "| \(name) | \(fmt(full)) | \(fmt(r.pruned)) | "
                + "\(random.map { "\(fmt($0.mean)) ± \(fmt($0.std))" } ?? "–") | "
            md += "\(entropy.map { "\(fmt($0.mean)) ± \(fmt($0.std))" } ?? "–") | \(reach) |\n"
        }
        return md
    }

    /// report/excerpt.md: the headline tables and findings of this run, which the project README
    /// quotes verbatim (so the README shows what the demo prints, not a hand-copied older run),
    /// labelled with the machine and thread count: across thread counts the last bits of matrix
    /// products differ, and a finding near its threshold can change with them.
    public static func excerpt(_ results: DemoResults) -> String {
        let machine = results.machine ?? .current
        let threads = "\(machine.threads) thread\(machine.threads == 1 ? "" : "s")"
        var md = "Seed \(results.seed), \(threads) on \(machine.description) "
        md += "(`expertlock demo`, report/excerpt.md):\n\n"
        if let standard = results.models["standard"], let entangled = results.models["entangled"] {
            md += defenseTable(standard: standard, entangled: entangled) + "\n"
            md += "> " + entanglementFinding(results) + "\n\n"
        }
        if !results.recovery.isEmpty {
            md += recoveryTable(results) + "\n"
            md += "> " + recoveryFinding(results) + "\n\n"
        }
        if let p = results.provenance,
            let finding = paragraph(startingWith: "**Finding (provenance).**", in: provenanceSection(p))
        {
            md += "> " + finding + "\n\n"
        }
        if let log = results.signedLog,
            let finding = paragraph(startingWith: "**Finding (signed log).**", in: signedLogSection(log))
        {
            md += "> " + finding + "\n"
        }
        return md
    }

    static func curveSVG(task: String, standard: PrunabilityCurve, entangled: PrunabilityCurve?) -> String {
        var series: [SVGLineChart.Series] = []
        func add(_ curve: PrunabilityCurve, _ label: String, strategy: String, dashed: Bool, model: String) {
            var e = curve.series(strategy).map { (x: Double($0.k), y: $0.mean, std: $0.std) }
            if !e.contains(where: { $0.x == Double(curve.expertsPerLayer) }) {
                e.append((Double(curve.expertsPerLayer), curve.full, 0))
            }
            series.append(
                .init(
                    name: label, points: e.map { ($0.x, $0.y) }, band: strategy == "random" ? e.map(\.std) : nil,
                    dashed: dashed,
                    color: modelColors[model]))
        }
        add(standard, "standard, top-k by soft", strategy: "soft", dashed: false, model: "standard")
        add(standard, "standard, random", strategy: "random", dashed: true, model: "standard")
        if let entangled {
            add(entangled, "entangled, top-k by soft", strategy: "soft", dashed: false, model: "entangled")
            add(entangled, "entangled, random", strategy: "random", dashed: true, model: "entangled")
        }
        return SVGLineChart(
            title: "Prunability: \(taskTitles[task] ?? task)",
            xLabel: "experts kept per layer (of \(standard.expertsPerLayer))",
            yLabel: axisLabels[standard.metricName] ?? standard.metricName, series: series, reverseX: true,
            logY: !standard.higherIsBetter
        ).render()
    }

    /// One paragraph saying what the numbers of a task show, decided by the numbers themselves.
    static func finding(task: String, standard: DemoResults.TaskResult, entangled: DemoResults.TaskResult?) -> String {
        let c = standard.curve
        guard let two = c.series("soft").first(where: { $0.k == 2 }),
            let random = c.series("random").first(where: { $0.k == 2 })
        else {
            return ""
        }
        let chanceCorrected = c.chanceLevel != nil && c.higherIsBetter
        let kept = c.retention(two.mean) ?? 0, keptRandom = c.retention(random.mean) ?? 0
        if c.metricName == "accuracy" && c.full < (c.chanceLevel ?? 0.5) + 0.05 {
            return
                "**Finding "
                + "(\(task)).** The full model is at chance level on this task "
                + "(accuracy \(fmt(c.full))) after this "
                + "training budget, so its pruning curve says nothing about prunability; a longer run is needed "
                + "before drawing "
                + "a conclusion here."
        }
        var text =
            "**Finding (\(task)).** Keeping the top-2 of \(c.expertsPerLayer) experts by soft attribution retains "
        text += "\(String(format: "%.0f", 100 * kept))% of the full model's "
        text += "\(chanceCorrected ? "gain over chance" : "quality") "
        text += "(\(c.metricName) \(fmt(c.full)) → \(fmt(two.mean))"
        text += chanceCorrected ? ", chance \(fmt(c.chanceLevel))), " : "), "
        text += "against \(String(format: "%.0f", 100 * keptRandom))% for random experts. "
        text +=
            kept >= 0.9
            ? "That is the paper's *wide corridor*: task-specific attribution finds a small expert subset that "
                + "carries the task. "
            : "There is no wide corridor here: pruning to two experts costs more than 10% of the quality. "
        text +=
            kept > keptRandom + 0.02
            ? "Attribution beats random choice, so routing statistics do identify the task's experts."
            : "Attribution does not beat random choice by a clear margin at this size."
        if let e = entangled, let se = c.normalizedArea("soft"), let ee = e.curve.normalizedArea("soft") {
            let fullChange = c.higherIsBetter ? e.curve.full / c.full - 1 : c.full / e.curve.full - 1
            text += " Entangled training changes the normalised area from \(fmt(se)) to \(fmt(ee)) "
            text +=
                ee < se - 0.01
                ? "(pruning hurts sooner: more resistant)"
                : ee > se + 0.01 ? "(pruning hurts later: less resistant)" : "(no clear change)"
            text += ", at a full-model quality change of \(String(format: "%+.1f", 100 * fullChange))%."
        }
        return text
    }

    static func fmt(_ x: Double?) -> String {
        guard let x else { return "–" }
        return PrunabilityCurve.format(x)
    }
}
