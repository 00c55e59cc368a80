import Foundation
import Testing

@testable import ExpertLock

/// `audit --defense`'s verdict on whether a defense leaves the best attacker less quality.
struct AuditDefensesTests {
    static func area(_ lower: Double, _ upper: Double) -> BootstrapInterval {
        BootstrapInterval(estimate: (lower + upper) / 2, lower: lower, upper: upper, level: 0.95, resamples: 1000)
    }

    @Test func nonOverlappingAreasDecide() {
        let baseline = Self.area(0.995, 1.026)
        #expect(
            AuditDefenseRow.resistance(defended: Self.area(0.941, 0.981), baseline: baseline, bothAboveChance: true)
                == .supported)
        #expect(
            AuditDefenseRow.resistance(defended: Self.area(1.030, 1.040), baseline: baseline, bothAboveChance: true)
                == .refuted)
        #expect(
            AuditDefenseRow.resistance(defended: Self.area(0.969, 0.996), baseline: baseline, bothAboveChance: true)
                == .notResolved)
    }

    /// A model at chance "keeps" all of nothing (measured: ratio area 1.000 [1.000, 1.000] for a
    /// collapsed defended model): no comparison of areas is resolvable, however the intervals lie.
    @Test func aModelAtChanceIsNotResolvable() {
        #expect(
            AuditDefenseRow.resistance(
                defended: Self.area(1.000, 1.003), baseline: Self.area(0.941, 0.981), bothAboveChance: false)
                == .notResolvable)
        #expect(
            AuditDefenseRow.resistance(
                defended: Self.area(0.941, 0.981), baseline: Self.area(0.995, 1.026), bothAboveChance: false)
                == .notResolvable)
    }

    /// A row as results.json holds it (full accuracy 444 of 872, chance 0.509 when given).
    static func row(_ model: String, successes: Int, chance: Double?, area: BootstrapInterval) throws
        -> AuditDefenseRow
    {
        func json<T: Encodable>(_ value: T) throws -> Any {
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(value))
        }
        var object: [String: Any] = [
            "model": model, "k": 2, "best_attacker": "soft", "best_area_attacker": "soft",
            "full_accuracy": try json(ProportionInterval.wilson(successes: successes, trials: 872)),
            "area": try json(area), "best_area": try json(area), "drop": try json(Self.area(-0.01, 0.01)),
        ]
        if let chance { object["chance"] = chance }
        return try JSONDecoder().decode(
            AuditDefenseRow.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test func theFindingNamesTheModelAtChance() throws {
        let baseline = try Self.row("standard", successes: 627, chance: 0.509, area: Self.area(0.995, 1.026))
        let collapsed = try Self.row("adversarial", successes: 444, chance: 0.509, area: Self.area(0.90, 0.95))
        #expect(baseline.aboveChance && !collapsed.aboveChance)
        let finding = collapsed.finding(against: baseline)
        #expect(finding.verdict == .notResolvable && finding.interval == nil)
        #expect(finding.statement.contains("not resolvable: adversarial's full accuracy"))
        #expect(AuditDefenseRow.markdown([baseline, collapsed]).contains("| adversarial (at chance) |"))
        // Reports written before the chance was kept decide by the intervals alone, as before.
        let old = try Self.row("adversarial", successes: 444, chance: nil, area: Self.area(0.90, 0.95))
        #expect(old.finding(against: baseline).verdict == .supported)
    }
}
