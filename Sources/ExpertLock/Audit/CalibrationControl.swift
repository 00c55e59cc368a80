import Foundation

/// Tells lost knowledge from a shifted decision threshold (issue 22 item 5).
///
/// A pruned classifier that answers one class for everything may still rank the examples well: the
/// evidence is there, only the bias between the label words moved. Two measurements separate the
/// cases. The AUROC of the label log-odds (threshold-free: the probability that a random positive
/// scores above a random negative) before and after pruning; and the accuracy after re-fitting only
/// the decision threshold (one additive bias per class) on labelled examples the attacker holds,
/// evaluated on the held-out set. If the pruned model's AUROC stays high and the re-fitted threshold
/// restores the accuracy, the few labels that "re-align" it mostly move a threshold.
public struct CalibrationControl: Sendable, Codable, Equatable {
    /// Macro one-vs-rest AUROC of log p(c) − log Σ_{c'≠c} p(c') (for two classes: of the log-odds).
    public var aurocFull: BootstrapInterval
    public var aurocPruned: BootstrapInterval
    /// Paired difference AUROC(full) − AUROC(pruned) on the same resampled examples.
    public var aurocDrop: BootstrapInterval
    public var accuracyPruned: BootstrapInterval
    /// Accuracy of the pruned model with its per-class biases re-fitted on the fit set.
    public var refitAccuracyPruned: BootstrapInterval
    /// refit − plain accuracy of the pruned model, paired.
    public var refitGain: BootstrapInterval
    /// The biases added to the pruned model's class scores (class 0's is 0).
    public var biases: [Double]
    /// Labelled examples the biases were fitted on (not the evaluation set).
    public var fitExamples: Int

    enum CodingKeys: String, CodingKey {
        case biases
        case aurocFull = "auroc_full"
        case aurocPruned = "auroc_pruned"
        case aurocDrop = "auroc_drop"
        case accuracyPruned = "accuracy_pruned"
        case refitAccuracyPruned = "refit_accuracy_pruned"
        case refitGain = "refit_gain"
        case fitExamples = "fit_examples"
    }

    /// `full` and `pruned` on the evaluation set, `prunedFit` the pruned model on the fit set; all
    /// must carry class scores and labels.
    public init?(
        full: ClassificationOutcomes, pruned: ClassificationOutcomes, prunedFit: ClassificationOutcomes,
        level: Double, resamples: Int, seed: UInt64 = Bootstrap.defaultSeed
    ) {
        guard let fs = full.scores, let ps = pruned.scores, let labels = full.labels, pruned.labels == labels,
            let fitScores = prunedFit.scores, let fitLabels = prunedFit.labels, !labels.isEmpty
        else { return nil }
        let b = ThresholdRefit.fit(scores: fitScores, labels: fitLabels)
        let refitCorrect = zip(ps, labels).map { s, y in ThresholdRefit.predict(s, biases: b) == y ? 1.0 : 0.0 }
        let n = labels.count
        let draws = Bootstrap.indices(count: n, resamples: resamples, seed: seed)
        let all = Array(0..<n)
        func interval(_ statistic: ([Int]) -> Double?) -> BootstrapInterval {
            Bootstrap.interval(
                estimate: statistic(all) ?? .nan, replicates: draws.map(statistic), level: level)
        }
        func auroc(_ scores: [[Double]], _ idx: [Int]) -> Double? {
            AUROC.macroOneVsRest(scores: idx.map { scores[$0] }, labels: idx.map { labels[$0] })
        }
        func mean(_ v: [Double], _ idx: [Int]) -> Double { idx.reduce(0) { $0 + v[$1] } / Double(idx.count) }
        aurocFull = interval { auroc(fs, $0) }
        aurocPruned = interval { auroc(ps, $0) }
        aurocDrop = interval { idx in auroc(fs, idx).flatMap { a in auroc(ps, idx).map { a - $0 } } }
        accuracyPruned = interval { mean(pruned.correct, $0) }
        refitAccuracyPruned = interval { mean(refitCorrect, $0) }
        refitGain = interval { mean(refitCorrect, $0) - mean(pruned.correct, $0) }
        biases = b
        fitExamples = fitLabels.count
    }

    /// The finding: does pruning erase the task (AUROC falls to chance) or shift the threshold (the
    /// pruned AUROC stays above 0.5 and re-fitting the threshold alone raises the accuracy)?
    public func finding(criterion: String, k: Int) -> AuditFinding {
        let ranks = aurocPruned.lower > 0.5
        let shifted = ranks && refitGain.lower > 0
        let verdict: AuditFinding.Verdict = shifted ? .supported : (aurocPruned.upper <= 0.5 ? .refuted : .notResolved)
        return AuditFinding(
            id: "calibration.\(criterion).threshold_shift_k\(k)", verdict: verdict,
            statement: "Pruning to top-\(k) by \(criterion) shifts the decision threshold rather than erasing the "
                + "task: AUROC of the label log-odds \(aurocFull.formatted()) → \(aurocPruned.formatted()); "
                + "re-fitting only the threshold on \(fitExamples) attacker-labelled examples moves the pruned "
                + "accuracy \(accuracyPruned.formatted()) → \(refitAccuracyPruned.formatted()) "
                + "(gain \(refitGain.formatted("%+.3f"))): \(verdict.rawValue).",
            interval: refitGain)
    }
}

/// Area under the ROC curve by the Mann–Whitney statistic (ties count one half).
public enum AUROC {
    /// P(score of a random positive > score of a random negative) + ½ P(tie); nil without both kinds.
    public static func binary(scores: [Double], positives: [Bool]) -> Double? {
        precondition(scores.count == positives.count, "one label per score")
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1  // average rank of a tie group
            for t in i...j where positives[order[t]] { rankSum += rank }
            i = j + 1
        }
        let p = Double(positives.filter { $0 }.count)
        let q = Double(positives.count) - p
        guard p > 0, q > 0 else { return nil }
        return (rankSum - p * (p + 1) / 2) / (p * q)
    }

    /// Mean over classes (present on both sides) of the AUROC of class c against the rest, scored by
    /// log p(c) − log Σ_{c'≠c} p(c') from the class log-likelihoods.
    public static func macroOneVsRest(scores: [[Double]], labels: [Int]) -> Double? {
        guard let classes = scores.first?.count, classes >= 2 else { return nil }
        var values: [Double] = []
        for c in 0..<classes {
            let odds = scores.map { s -> Double in
                let others = s.indices.filter { $0 != c }.map { s[$0] }
                let m = others.max()!
                return s[c] - (m + log(others.reduce(0) { $0 + exp($1 - m) }))
            }
            if let a = binary(scores: odds, positives: labels.map { $0 == c }) { values.append(a) }
        }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
}

/// Re-fits only the decision rule of a classifier: one additive bias per class on its scores,
/// chosen to maximise accuracy on labelled examples (for two classes, the best threshold on the
/// log-odds, exactly; for more, coordinate ascent from zero biases, each coordinate exactly).
public enum ThresholdRefit {
    public static func predict(_ scores: [Double], biases: [Double]) -> Int {
        var best = 0
        for c in scores.indices where scores[c] + biases[c] > scores[best] + biases[best] { best = c }
        return best
    }

    public static func fit(scores: [[Double]], labels: [Int], sweeps: Int = 3) -> [Double] {
        guard let classes = scores.first?.count, classes >= 2 else { return [] }
        var biases = [Double](repeating: 0, count: classes)
        func accuracy(_ b: [Double]) -> Int { zip(scores, labels).filter { predict($0, biases: b) == $1 }.count }
        for _ in 0..<sweeps {
            var changed = false
            for c in 1..<classes {
                // Class c wins an example when b_c > max_{c'≠c}(s_c' + b_c') − s_c: the candidate biases
                // are those boundaries (midpoints between neighbours, and beyond both ends).
                let bounds = scores.map { s -> Double in
                    s.indices.filter { $0 != c }.map { s[$0] + biases[$0] }.max()! - s[c]
                }.sorted()
                var candidates = [biases[c], (bounds.first ?? 0) - 1, (bounds.last ?? 0) + 1]
                for i in 1..<max(1, bounds.count) where bounds[i] > bounds[i - 1] {
                    candidates.append((bounds[i] + bounds[i - 1]) / 2)
                }
                var best = (value: biases[c], correct: accuracy(biases))
                for v in candidates {
                    var b = biases
                    b[c] = v
                    let a = accuracy(b)
                    // Prefer the smaller shift among equals, so an uninformative fit stays at 0.
                    if a > best.correct || (a == best.correct && abs(v) < abs(best.value)) { best = (v, a) }
                }
                if best.value != biases[c] {
                    biases[c] = best.value
                    changed = true
                }
            }
            if !changed { break }
        }
        return biases
    }
}
