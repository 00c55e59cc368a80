import Foundation
import Testing

@testable import ExpertLock

/// The audit's prunability statistics on hand-made per-example outcomes.
struct AuditPrunabilityTests {
    /// `right` of `n` examples correct (the first ones), NLL 0.1 when right and 2 when wrong.
    static func outcomes(_ right: Int, of n: Int = 100, offset: Int = 0) -> ClassificationOutcomes {
        let correct = (0..<n).map { ($0 + offset) % n < right ? 1.0 : 0.0 }
        return ClassificationOutcomes(correct: correct, nll: correct.map { $0 > 0 ? 0.1 : 2 })
    }

    static func point(_ k: Int, _ strategy: String, _ right: Int, seed: UInt64? = nil, offset: Int = 0)
        -> AuditSweepPoint
    {
        AuditSweepPoint(k: k, strategy: strategy, seed: seed, outcomes: outcomes(right, offset: offset))
    }

    @Test func retentionChanceCorrectionMcNemarAndCrossings() throws {
        let full = Self.outcomes(80)
        var points = [Self.point(4, "soft", 78), Self.point(2, "soft", 60), Self.point(1, "soft", 50)]
        for s in 0..<4 {
            // Random subsets: better than soft at k = 1, worse above.
            points += [
                Self.point(4, "random", 70 + s, seed: UInt64(s)), Self.point(2, "random", 55 + s, seed: UInt64(s)),
                Self.point(1, "random", 54 + s, seed: UInt64(s)),
            ]
        }
        let p = AuditPrunability(
            full: full, points: points, chance: 0.5, expertsPerLayer: 8, referenceK: 2, resamples: 300)
        let soft2 = try #require(p.rows.first { $0.strategy == "soft" && $0.k == 2 })
        #expect(abs(soft2.accuracy.estimate - 0.6) < 1e-12)
        #expect(abs(soft2.retention.estimate - 0.6 / 0.8) < 1e-12)
        // Chance-corrected: (0.6 − 0.5) / (0.8 − 0.5) = 1/3, far below the raw 75%.
        #expect(abs(soft2.chanceCorrected.estimate - 1.0 / 3) < 1e-12)
        #expect(abs(soft2.deltaNLL.estimate - (0.4 * 2 + 0.6 * 0.1 - (0.2 * 2 + 0.8 * 0.1))) < 1e-12)
        // The first 60 right under both, examples 60..<80 right only in full: b = 20, c = 0.
        #expect(soft2.mcNemar == McNemarTest(b: 20, c: 0))
        #expect(p.rows.first { $0.strategy == "random" }?.mcNemar == nil)
        #expect(p.rows.first { $0.strategy == "random" && $0.k == 2 }?.subsets == 4)
        #expect(p.crossings == ["top-k by soft is below random from k = 1 (above at k = 2)"])
        let corridor = try #require(p.findings.first { $0.id == "prunability.soft.corridor_k2" })
        #expect(corridor.verdict == .refuted)
        let mcnemar = try #require(p.findings.first { $0.id == "prunability.soft.mcnemar_k2" })
        #expect(mcnemar.verdict == .supported && mcnemar.pValue! < 1e-5)
        // Its interval is the paired change full − pruned (0.8 − 0.6), not the pruned accuracy; the 20
        // examples that differ all differ one way, so the (seeded) interval lies above 0.
        let change = try #require(mcnemar.interval)
        #expect(abs(change.estimate - 0.2) < 1e-12 && change.lower > 0 && change.upper <= 0.4)
        // Ratio area of soft: retention (0.625, 0.75, 0.975, 1) at x = (1/8, 2/8, 4/8, 1).
        let soft = try #require(p.summaries.first { $0.strategy == "soft" })
        let expected = (0.125 * (0.625 + 0.75) / 2 + 0.25 * (0.75 + 0.975) / 2 + 0.5 * (0.975 + 1) / 2) / 0.875
        #expect(abs(soft.area.estimate - expected) < 1e-12)
        #expect(abs(soft.lowK!.estimate - (0.625 + 0.75) / 2) < 1e-12)
        #expect(soft.area.lower <= soft.area.estimate && soft.area.estimate <= soft.area.upper)
    }

    /// A full model at chance has no margin to keep: the corridor is not resolvable, whatever the ratio.
    @Test func corridorAtChanceIsNotResolvable() throws {
        let p = AuditPrunability(
            full: Self.outcomes(50), points: [Self.point(2, "soft", 50), Self.point(2, "random", 48, seed: 0)],
            chance: 0.5, expertsPerLayer: 8, referenceK: 2, resamples: 100)
        let corridor = p.findings.first { $0.id == "prunability.soft.corridor_k2" }
        #expect(corridor?.verdict == .notResolvable && corridor?.interval == nil)
        // No estimate is printed for a ratio of two noises (an estimate outside its own interval was printed before).
        #expect(corridor?.statement.contains("chance-corrected retention undefined (raw ") == true)
    }

    @Test func majorityShareIsAConstantAnswer() {
        let examples = [1, 1, 0, 1].enumerated().map {
            ClassificationExample(id: $0.offset, text: "x", label: $0.element)
        }
        #expect(AuditPipeline.majorityShare(examples) == 0.75)
    }
}
