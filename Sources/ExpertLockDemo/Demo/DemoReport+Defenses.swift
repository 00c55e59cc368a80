import ExpertLock
import Foundation

/// The report's defense sections: whether entanglement meets issue #7's bar, re-alignment of the
/// two pruned models, provenance and the signed log. Each paragraph is decided by the numbers.
extension DemoReport {
    /// Issue #7's first test: more resistance to pruning, full-model perplexity within 5%.
    static func entanglementFinding(_ results: DemoResults) -> String {
        guard let s = results.models["standard"]?.tasks["lm"]?.curve,
            let e = results.models["entangled"]?.tasks["lm"]?.curve
        else { return "" }
        let perplexityChange = e.full / s.full - 1
        var margins: [(task: String, margin: Double)] = []
        for task in DemoResults.taskOrder {
            guard let sc = results.models["standard"]?.tasks[task]?.curve,
                let ec = results.models["entangled"]?.tasks[task]?.curve,
                let sa = sc.normalizedArea("soft"), let ea = ec.normalizedArea("soft"),
                !(sc.metricName == "accuracy" && sc.full < 0.55)
            else { continue }
            margins.append((task, sa - ea))
        }
        var text = "**Finding (defense).** The entangled model's full-model perplexity is \(fmt(e.full)) against "
        text += "\(fmt(s.full)) for the standard model (\(String(format: "%+.1f", 100 * perplexityChange))%, "
        text += abs(perplexityChange) <= 0.05 ? "within" : "outside"
        text += " the 5% allowance). Resistance margin (standard area − entangled area; positive = entangled is "
        text += "harder to prune) on the tasks the models learned: "
        text += margins.map { "\($0.task) \(String(format: "%+.3f", $0.margin))" }.joined(separator: ", ") + ". "
        let gains = margins.filter { $0.margin > 0.01 }
        if gains.isEmpty {
            text += "No task shows a margin above 0.01, so this run does **not** show entanglement raising "
            text += "prunability-resistance."
        } else if abs(perplexityChange) <= 0.05 {
            text += "Entanglement raises resistance on \(gains.map(\.task).joined(separator: ", ")) while keeping "
            text += "perplexity within 5%."
        } else {
            text += "Entanglement raises resistance on \(gains.map(\.task).joined(separator: ", ")), but at a "
            text += "perplexity cost beyond 5%."
        }
        return text
    }

    /// Issue #7's second test: with the same label budget, does the entangled pruned model recover less?
    /// A difference smaller than the seed-to-seed spread is reported as such, not as a result.
    static func recoveryFinding(_ results: DemoResults) -> String {
        struct Recovery {
            var full, pruned, final, standardError: Double
            var gap: Double { full - final }
        }
        func summary(_ name: String) -> Recovery? {
            guard let r = results.recovery[name], let full = results.models[name]?.tasks["sentiment"]?.curve.full
            else { return nil }
            let finals = r.runs.values.flatMap { $0 }.compactMap { $0.last?.metric }
            guard !finals.isEmpty else { return nil }
            let (mean, std) = LearningCurve.meanAndStd(finals)
            return Recovery(
                full: full, pruned: r.pruned, final: mean, standardError: std / Double(finals.count).squareRoot())
        }
        guard let s = summary("standard"), let e = summary("entangled") else { return "" }
        var text = "**Finding (re-alignment).** With \(results.sizes.realignBudget) labels (mean over both strategies "
        text += "and all seeds), the standard pruned model goes from \(fmt(s.pruned)) to \(fmt(s.final)) "
        text +=
            "(full \(fmt(s.full))) and the entangled one "
            + "from \(fmt(e.pruned)) to \(fmt(e.final)) (full \(fmt(e.full))). "
        if s.full < 0.55 || e.full < 0.55 {
            text += "A full model is near chance on sentiment, so the comparison says little."
            return text
        }
        let difference = e.gap - s.gap
        let noise = (s.standardError * s.standardError + e.standardError * e.standardError).squareRoot()
        text += "Left below its own full model: standard \(fmt(s.gap)), entangled \(fmt(e.gap)) "
        text += "(difference \(String(format: "%+.3f", difference)), standard error of the difference "
        text += "\(String(format: "%.3f", noise))). "
        if abs(difference) < 2 * noise {
            text +=
                difference > 0
                ? "The entangled pruned model recovers less, but by less than twice the seed-to-seed standard error: "
                    + "a tendency, not a measured effect, at this budget and number of seeds."
                : "The entangled pruned model does not recover less beyond the seed-to-seed spread."
        } else {
            text +=
                difference > 0
                ? "The entangled pruned model recovers less with the same budget, as the defense intends."
                : "The entangled pruned model recovers *better* than the standard one: this run does not show the "
                    + "defense slowing re-alignment."
        }
        return text
    }

    static func provenanceSection(_ p: DemoResults.ProvenanceResult) -> String {
        var md = "## Provenance of a pruned, re-aligned derivative\n\n"
        md +=
            "`Provenance.compare` (what `expertlock provenance` runs) matches each suspect expert to an original one "
            + "by the "
        md +=
            "cosine similarity of their weights, with a permutation-aware assignment; it is not told the pruning plan. "
        md += "Bands: derived ≥ \(p.thresholds.derived), not derived < \(p.thresholds.unrelated).\n\n"
        md +=
            "| suspect | how it was made | verdict | original experts named (per layer) | truth | matched similarity | "
        md += "unmatched max | correct |\n|---|---|---|---|---|---:|---:|---|\n"
        for s in p.suspects {
            let named = expertLists(s.report.keptExperts)
            let truth = s.plannedKept.map(expertLists) ?? "not derived"
            md +=
                "| \(s.name) (`\(s.folder)`) "
                + "| \(s.description) | \(s.report.verdict.rawValue) | \(named.isEmpty ? "–" : named) | "
            md += "\(truth) | \(String(format: "%.3f–%.3f", s.lowestMatch, s.highestMatch)) | "
            md += "\(String(format: "%.3f", s.background)) | \(s.correct ? "yes" : "**no**") |\n"
        }
        md += "\n"
        if let d = p.suspects.first(where: { $0.plannedKept != nil }),
            let c = p.suspects.first(where: { $0.plannedKept == nil })
        {
            md += "**Finding (provenance).** "
            md +=
                d.correct
                ? "Every expert the derivative kept was named by its original index, and no other "
                : "The derivative's kept experts were **not** all named correctly "
            md += "(lowest matched similarity \(String(format: "%.3f", d.lowestMatch))"
            if let before = d.metricBefore, let after = d.metricAfter {
                md += ", after re-alignment moved its sentiment accuracy from \(fmt(before)) to \(fmt(after))"
            }
            md += "); "
            md +=
                c.correct
                ? "the model trained from another seed was called `not derived` "
                : "the model trained from another seed was **not** called `not derived` "
                    + "(verdict \(c.report.verdict.rawValue)) "
            md += "(highest matched similarity \(String(format: "%.3f", c.highestMatch))).\n\n"
        }
        return md
    }

    /// Experts per layer as "[0,5] [2,6]".
    static func expertLists(_ layers: [[Int]]) -> String {
        layers.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: " ")
    }

    static func signedLogSection(_ log: DemoResults.SignedLogResult) -> String {
        var md = "## Signed update log\n\n"
        md +=
            "The owner generated an Ed25519 key, locked the standard model (signed manifest) and fine-tuned it twice "
            + "with "
        md +=
            "LoRA (`train --key`: merged, then adapters), each run appending a signed, hash-chained entry. Each row "
            + "below is "
        md +=
            "a folder under `signed-log/` checked by `LogVerifier` (what `expertlock log verify` runs) with the "
            + "owner's "
        md += "public key.\n\n"
        md += "| case | what was done | verifier says | first findings | as expected |\n|---|---|---|---|---|\n"
        for c in log.checks {
            let details = c.details.isEmpty ? "–" : c.details.map { escapeCell($0) }.joined(separator: "<br>")
            md +=
                "| \(c.name) (`\(c.folder)`) "
                + "| \(escapeCell(c.attack)) | \(c.valid ? "valid" : "NOT valid") | \(details) | "
            md += "\(c.passed ? "yes" : "**no**") |\n"
        }
        let passed = log.checks.filter(\.passed).count
        md += "\n**Finding (signed log).** \(passed) of \(log.checks.count) cases came out as expected: "
        md +=
            passed == log.checks.count
            ? "the honest owner's runs verify, and every tampering is detected and named.\n\n"
            : "see the rows marked **no**.\n\n"
        return md
    }

    static func escapeCell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
