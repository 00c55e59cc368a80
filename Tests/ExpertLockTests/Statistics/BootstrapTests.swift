import Foundation
import Testing

@testable import ExpertLock

@Suite struct BootstrapTests {
    @Test func indicesMatchThePythonStream() throws {
        let b = try #require(StatisticsFixture.shared).bootstrap
        #expect(
            Bootstrap.indices(count: b.mean.values.count, resamples: b.mean.resamples, seed: b.mean.seed)
                == b.mean.indices)
        let h = b.hierarchical
        let two = Bootstrap.hierarchicalIndices(
            seeds: h.values.count, examples: h.values[0].count, resamples: h.resamples, seed: h.seed)
        #expect(two.map(\.seeds) == h.seedIndices)
        #expect(two.map(\.examples) == h.exampleIndices)
    }

    @Test func meanIntervalMatchesNumpy() throws {
        let m = try #require(StatisticsFixture.shared).bootstrap.mean
        let ci = Bootstrap.mean(m.values, level: m.level, resamples: m.resamples, seed: m.seed)
        #expect(abs(ci.estimate - m.estimate) < 1e-12)
        #expect(abs(ci.lower - m.lower) < 1e-12)
        #expect(abs(ci.upper - m.upper) < 1e-12)
        #expect(ci.lower <= ci.estimate && ci.estimate <= ci.upper)
    }

    @Test func pairedDifferenceMatchesNumpy() throws {
        let p = try #require(StatisticsFixture.shared).bootstrap.paired
        let ci = Bootstrap.pairedDifference(p.a, p.b, level: p.level, resamples: p.resamples, seed: p.seed)
        #expect(abs(ci.estimate - p.estimate) < 1e-12)
        #expect(abs(ci.lower - p.lower) < 1e-12)
        #expect(abs(ci.upper - p.upper) < 1e-12)
    }

    @Test func hierarchicalMeanMatchesNumpy() throws {
        let h = try #require(StatisticsFixture.shared).bootstrap.hierarchical
        let ci = Bootstrap.hierarchicalMean(h.values, level: h.level, resamples: h.resamples, seed: h.seed)
        #expect(abs(ci.estimate - h.estimate) < 1e-12)
        #expect(abs(ci.lower - h.lower) < 1e-12)
        #expect(abs(ci.upper - h.upper) < 1e-12)
    }

    /// The two-stage interval is wider than one that resamples examples only: it adds seed variance.
    @Test func hierarchicalIncludesSeedVariance() throws {
        let h = try #require(StatisticsFixture.shared).bootstrap.hierarchical
        let two = Bootstrap.hierarchicalMean(h.values, resamples: 1000)
        let pooled = h.values[0].indices.map { e in h.values.reduce(0) { $0 + $1[e] } / Double(h.values.count) }
        let examplesOnly = Bootstrap.mean(pooled, resamples: 1000)
        #expect(two.upper - two.lower > examplesOnly.upper - examplesOnly.lower)
    }

    @Test func pairedIsNarrowerThanUnpairedForCorrelatedSides() {
        // b is a with 5 of 100 answers flipped: paired, the difference is tightly known.
        let a = (0..<100).map { Double(($0 * 7) % 3 == 0 ? 0 : 1) }
        let b = a.enumerated().map { $0.offset % 20 == 0 ? 1 - $0.element : $0.element }
        let paired = Bootstrap.pairedDifference(a, b)
        let ia = Bootstrap.mean(a, seed: 1)
        let ib = Bootstrap.mean(b, seed: 2)
        #expect(paired.upper - paired.lower < (ia.upper - ia.lower) + (ib.upper - ib.lower))
    }

    @Test func deterministicAndSeedSensitive() {
        let values = (0..<30).map { Double($0 % 4) }
        #expect(Bootstrap.mean(values, seed: 3) == Bootstrap.mean(values, seed: 3))
        #expect(
            Bootstrap.indices(count: 30, resamples: 5, seed: 3) != Bootstrap.indices(count: 30, resamples: 5, seed: 4))
    }

    @Test func undefinedReplicatesCountAsInfinite() {
        let ci = Bootstrap.interval(estimate: 3, replicates: [1, 2, nil, 4, nil], level: 0.5)
        #expect(ci.undefined == 2)
        #expect(ci.upper == .infinity)
        #expect(ci.lower == 2)
    }

    @Test func quantileIsNumpyLinear() {
        let sorted = [1.0, 2, 4, 8]
        #expect(Bootstrap.quantile(sorted: sorted, 0) == 1)
        #expect(Bootstrap.quantile(sorted: sorted, 1) == 8)
        #expect(abs(Bootstrap.quantile(sorted: sorted, 0.5) - 3) < 1e-15)
        #expect(abs(Bootstrap.quantile(sorted: sorted, 0.9) - 6.8) < 1e-12)
    }
}

@Suite struct BootstrapIntervalCodingTests {
    @Test func infiniteEndsRoundTripThroughJSON() throws {
        let interval = BootstrapInterval(estimate: 3, lower: -.infinity, upper: .infinity, level: 0.9, resamples: 7)
        let data = try JSONEncoder().encode(interval)
        #expect(String(decoding: data, as: UTF8.self).contains("\"inf\""))
        #expect(try JSONDecoder().decode(BootstrapInterval.self, from: data) == interval)
    }
}
