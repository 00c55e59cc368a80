import Foundation
import Testing

@testable import ExpertLock

@Suite struct BinomialTests {
    static func close(_ a: Double, _ b: Double, relative: Double = 1e-9) -> Bool {
        abs(a - b) <= relative * max(abs(a), abs(b), 1e-300)
    }

    @Test func fixtureLoads() throws {
        let fixture = try #require(StatisticsFixture.shared)
        #expect(fixture.mcnemar.count >= 10)
    }

    @Test func mcNemarMatchesScipy() throws {
        for c in try #require(StatisticsFixture.shared).mcnemar {
            let test = McNemarTest(b: c.b, c: c.c)
            #expect(Self.close(test.exactP, c.exactP, relative: 1e-8), "exact p of (\(c.b), \(c.c))")
            #expect(Self.close(test.midP, c.midP, relative: 1e-8), "mid-p of (\(c.b), \(c.c))")
            #expect(test.midP <= test.exactP)
        }
    }

    @Test func mcNemarCountsDiscordantPairs() {
        let first = [true, true, false, false, true, false]
        let second = [true, false, true, false, false, false]
        let test = McNemarTest(first: first, second: second)
        #expect(test.b == 2 && test.c == 1)
        #expect(test == McNemarTest(b: 2, c: 1))
        // Swapping the models swaps b and c, not the p-value.
        #expect(McNemarTest(first: second, second: first).exactP == test.exactP)
    }

    @Test func wilsonMatchesScipy() throws {
        for c in try #require(StatisticsFixture.shared).wilson {
            let ci = ProportionInterval.wilson(successes: c.k, trials: c.n, level: c.level)
            #expect(abs(ci.lower - c.lower) < 1e-10, "lower of \(c.k)/\(c.n)")
            #expect(abs(ci.upper - c.upper) < 1e-10, "upper of \(c.k)/\(c.n)")
        }
    }

    @Test func normalQuantileMatchesScipy() throws {
        for c in try #require(StatisticsFixture.shared).normalQuantile {
            #expect(Self.close(NormalDistribution.quantile(c.p), c.x, relative: 1e-12), "Φ⁻¹(\(c.p))")
        }
    }

    @Test func binomialCDFSumsToOne() {
        #expect(abs(Binomial.cdf(499, n: 1000, p: 0.3) - 1) < 1e-12)
        #expect(Binomial.cdf(-1, n: 5, p: 0.5) == 0)
        #expect(abs(Binomial.pmf(2, n: 4, p: 0.5) - 0.375) < 1e-14)
    }
}
