import Foundation

/// One pruned model of the audit's sweep, scored example by example.
public struct AuditSweepPoint: Sendable, Codable, Equatable {
    /// Experts kept per sparse layer.
    public var k: Int
    /// An attribution criterion (`soft`, `frequency`, `reap`, `ablation`) or `random`.
    public var strategy: String
    /// Random subsets: the subset's seed.
    public var seed: UInt64?
    public var outcomes: ClassificationOutcomes
}

/// The prunability curve with every figure's interval (issue 22 item 3).
///
/// Intervals: attribution-ranked plans are deterministic, so their intervals resample the
/// evaluation examples; random plans resample the random subsets, then the examples (two-stage).
/// One resample draws one set of example indices for every strategy and for the full model, so
/// retentions and differences between strategies are paired.
///
/// Figures per strategy and k: accuracy; retention = accuracy / full; chance-corrected retention =
/// (accuracy − chance) / (full − chance), chance being a constant answer's accuracy (a classifier
/// that answers one class keeps 0% of the margin, not 80% of the accuracy); ΔNLL = mean gold-label
/// NLL of the pruned model − the full model's. Per strategy: the ratio area (mean retention over the
/// fraction of experts kept, trapezoids up to all experts), the ΔNLL area (mean ΔNLL over the same
/// range; higher = more resistant) and the k ≤ 2 region (mean retention at k ≤ 2).
public struct AuditPrunability: Sendable, Codable, Equatable {
    public struct Row: Sendable, Codable, Equatable {
        public var k: Int
        public var strategy: String
        public var subsets: Int
        public var accuracy: BootstrapInterval
        public var retention: BootstrapInterval
        public var chanceCorrected: BootstrapInterval
        public var deltaNLL: BootstrapInterval
        /// Full vs pruned on the same examples (attribution-ranked plans only).
        public var mcNemar: McNemarTest?

        enum CodingKeys: String, CodingKey {
            case k, strategy, subsets, accuracy, retention
            case chanceCorrected = "chance_corrected_retention"
            case deltaNLL = "delta_nll"
            case mcNemar = "mcnemar_vs_full"
        }
    }

    public struct Summary: Sendable, Codable, Equatable {
        public var strategy: String
        public var area: BootstrapInterval
        public var nllArea: BootstrapInterval
        public var lowK: BootstrapInterval?

        enum CodingKeys: String, CodingKey {
            case strategy, area
            case nllArea = "delta_nll_area"
            case lowK = "k_le_2_retention"
        }
    }

    public var full: ProportionInterval
    public var fullMeanNLL: Double
    public var chance: Double
    public var expertsPerLayer: Int
    public var rows: [Row]
    public var summaries: [Summary]
    /// Where an attribution-ranked curve crosses random's mean curve, in words.
    public var crossings: [String]
    public var findings: [AuditFinding]

    enum CodingKeys: String, CodingKey {
        case full, chance, rows, summaries, crossings, findings
        case fullMeanNLL = "full_mean_nll"
        case expertsPerLayer = "experts_per_layer"
    }

    public init(
        full fullOutcomes: ClassificationOutcomes, points: [AuditSweepPoint], chance: Double, expertsPerLayer: Int,
        referenceK: Int, level: Double = 0.95, resamples: Int = 1000, seed: UInt64 = Bootstrap.defaultSeed
    ) {
        let n = fullOutcomes.correct.count
        var strategies: [String] = []
        for p in points where !strategies.contains(p.strategy) { strategies.append(p.strategy) }
        let ks = Set(points.map(\.k)).sorted(by: >)
        // grid[strategy][k position][subset] = outcomes
        let grid = strategies.map { s in ks.map { k in points.filter { $0.strategy == s && $0.k == k }.map(\.outcomes) }
        }
        let subsets = max(1, grid.flatMap { $0.map(\.count) }.max() ?? 1)

        struct Aggregate {
            var accuracy: [Double]
            var nll: [Double]
            var fullAccuracy: Double
            var fullNLL: Double
        }
        func mean(_ v: [Double], _ e: [Int]) -> Double { e.reduce(0) { $0 + v[$1] } / Double(e.count) }
        func aggregate(_ i: Int, _ s: [Int], _ e: [Int]) -> Aggregate {
            let acc = grid[i].map { runs -> Double in
                guard !runs.isEmpty else { return .nan }
                let picks = runs.count == 1 ? [0] : s.map { $0 % runs.count }
                return picks.reduce(0) { $0 + mean(runs[$1].correct, e) } / Double(picks.count)
            }
            let nll = grid[i].map { runs -> Double in
                guard !runs.isEmpty else { return .nan }
                let picks = runs.count == 1 ? [0] : s.map { $0 % runs.count }
                return picks.reduce(0) { $0 + mean(runs[$1].nll, e) } / Double(picks.count)
            }
            return Aggregate(
                accuracy: acc, nll: nll, fullAccuracy: mean(fullOutcomes.correct, e), fullNLL: mean(fullOutcomes.nll, e)
            )
        }
        let all = Array(0..<n)
        let estimates = strategies.indices.map { aggregate($0, Array(0..<subsets), all) }
        let draws = Bootstrap.hierarchicalIndices(seeds: subsets, examples: n, resamples: resamples, seed: seed)
        let replicates = draws.map { d in strategies.indices.map { aggregate($0, d.seeds, d.examples) } }
        func interval(_ statistic: ([Aggregate]) -> Double?) -> BootstrapInterval {
            Bootstrap.interval(
                estimate: statistic(estimates) ?? .nan, replicates: replicates.map(statistic), level: level)
        }
        let x = ks.map { Double($0) / Double(expertsPerLayer) }
        func retention(_ a: Aggregate, _ j: Int) -> Double { a.accuracy[j] / a.fullAccuracy }
        func corrected(_ a: Aggregate, _ j: Int) -> Double { (a.accuracy[j] - chance) / (a.fullAccuracy - chance) }
        // Mean of y over the fraction kept, trapezoids from the smallest k to 1 (where y = `atFull`).
        func area(_ y: [Double], atFull: Double) -> Double {
            var xy = zip(x, y).map { ($0, $1) }.sorted { $0.0 < $1.0 }
            if xy.last.map({ $0.0 < 1 }) ?? true { xy.append((1, atFull)) }
            guard xy.count > 1, let lo = xy.first?.0 else { return y.first ?? .nan }
            var total = 0.0
            for i in 1..<xy.count { total += (xy[i].0 - xy[i - 1].0) * (xy[i].1 + xy[i - 1].1) / 2 }
            return total / (1 - lo)
        }
        let lowKs = ks.indices.filter { ks[$0] <= 2 }
        let full = ProportionInterval.wilson(
            successes: Int(fullOutcomes.correct.reduce(0, +).rounded()), trials: max(n, 1), level: level)
        self.full = full
        fullMeanNLL = fullOutcomes.meanNLL
        self.chance = chance
        self.expertsPerLayer = expertsPerLayer
        var rows: [Row] = []
        for (i, s) in strategies.enumerated() {
            for (j, k) in ks.enumerated() where !grid[i][j].isEmpty {
                let single = grid[i][j].count == 1 ? grid[i][j][0] : nil
                rows.append(
                    Row(
                        k: k, strategy: s, subsets: grid[i][j].count, accuracy: interval { $0[i].accuracy[j] },
                        retention: interval { retention($0[i], j) }, chanceCorrected: interval { corrected($0[i], j) },
                        deltaNLL: interval { $0[i].nll[j] - $0[i].fullNLL },
                        mcNemar: single.map {
                            McNemarTest(
                                first: fullOutcomes.correct.map { $0 > 0.5 }, second: $0.correct.map { $0 > 0.5 })
                        }))
            }
        }
        self.rows = rows
        summaries = strategies.indices.map { i in
            Summary(
                strategy: strategies[i],
                area: interval { a in area(ks.indices.map { retention(a[i], $0) }, atFull: 1) },
                nllArea: interval { a in area(ks.indices.map { a[i].nll[$0] - a[i].fullNLL }, atFull: 0) },
                lowK: lowKs.isEmpty
                    ? nil : interval { a in lowKs.reduce(0) { $0 + retention(a[i], $1) } / Double(lowKs.count) })
        }
        var crossings: [String] = []
        var findings: [AuditFinding] = []
        let randomIndex = strategies.firstIndex(of: "random")
        for (i, s) in strategies.enumerated() where s != "random" {
            if let r = randomIndex {
                let d = ks.indices.map { retention(estimates[i], $0) - retention(estimates[r], $0) }
                for j in 1..<max(1, d.count) where (d[j - 1] > 0) != (d[j] > 0) {
                    crossings.append(
                        "top-k by \(s) is \(d[j] > 0 ? "above" : "below") random from k = \(ks[j]) "
                            + "(\(d[j - 1] > 0 ? "above" : "below") at k = \(ks[j - 1]))")
                }
                let gap = interval { a in
                    area(ks.indices.map { retention(a[i], $0) }, atFull: 1)
                        - area(ks.indices.map { retention(a[r], $0) }, atFull: 1)
                }
                let verdict = AuditFinding.decide(gap, above: 0)
                findings.append(
                    AuditFinding(
                        id: "prunability.\(s).beats_random", verdict: verdict,
                        statement: "Top-k by \(s) keeps more quality than random experts (ratio area difference "
                            + "\(gap.formatted("%+.3f")), paired over examples and random subsets): "
                            + "\(verdict.rawValue).",
                        interval: gap))
            }
            if let j = ks.firstIndex(of: referenceK),
                let row = rows.first(where: { $0.strategy == s && $0.k == referenceK })
            {
                let cc = row.chanceCorrected
                // Without a margin over chance there is nothing to retain: a ratio of two noises.
                let aboveChance = full.lower > chance
                let verdict = aboveChance ? AuditFinding.decide(cc, above: 0.9) : .notResolvable
                findings.append(
                    AuditFinding(
                        id: "prunability.\(s).corridor_k\(referenceK)", verdict: verdict,
                        statement: "Top-\(referenceK) by \(s) keeps ≥ 90% of the full model's margin over chance: "
                            + "chance-corrected retention "
                            // At chance the ratio's denominator crosses 0: its bootstrap is noise, so no number.
                            + (aboveChance ? cc.formatted() : "undefined")
                            + " (raw \(row.retention.formatted())): "
                            + (aboveChance
                                ? "\(verdict.rawValue)."
                                : "not resolvable: the full model's accuracy interval "
                                    + "\(Self.f(full.lower))–\(Self.f(full.upper)) does not lie above chance "
                                    + "\(Self.f(chance))."),
                        interval: aboveChance ? cc : nil))  // a ratio whose denominator crosses 0
                if let m = row.mcNemar {
                    let changed = m.exactP < 1 - level
                    // The interval is of what the test decides: full − pruned accuracy on the same
                    // resampled examples (the pruned accuracy alone does not show the change).
                    let change = interval { a in a[i].fullAccuracy - a[i].accuracy[j] }
                    findings.append(
                        AuditFinding(
                            id: "prunability.\(s).mcnemar_k\(referenceK)", verdict: changed ? .supported : .notResolved,
                            statement:
                                "Pruning to top-\(referenceK) by \(s) changes accuracy "
                                + "(\(Self.f(estimates[i].fullAccuracy)) → "
                                + "\(Self.f(estimates[i].accuracy[j])), full − pruned \(change.formatted("%+.3f"))): "
                                + "exact McNemar b = \(m.b), c = \(m.c), p = "
                                + "\(String(format: "%.3g", m.exactP)) (mid-p \(String(format: "%.3g", m.midP))): "
                                + "\(changed ? "supported" : "not resolved").",
                            interval: change, pValue: m.exactP))
                }
            }
        }
        self.crossings = crossings
        self.findings = findings
    }

    static func f(_ x: Double) -> String { String(format: "%.3f", x) }
}
