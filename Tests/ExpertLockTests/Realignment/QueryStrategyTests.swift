import Foundation
import Testing

@testable import ExpertLock

/// Each strategy picks what it should on hand-made probability tables and points.
struct QueryStrategyTests {
    /// Three pool examples on which entropy, margin and least-confidence each prefer a different one:
    /// E spreads mass over four classes (largest entropy), L has the lowest top probability, M has
    /// two tied top classes (zero margin).
    static let e = [0.46, 0.18, 0.18, 0.18]
    static let l = [0.44, 0.30, 0.26, 0.0]
    static let m = [0.495, 0.495, 0.01, 0.0]
    static let table = [[0.97, 0.01, 0.01, 0.01], e, l, m]

    static func scores(_ table: [[Double]]) -> [PoolScore] { table.map { PoolScore(probabilities: $0) } }

    @Test func measures() {
        #expect(abs(QueryStrategy.entropy([0.5, 0.5]) - log(2)) < 1e-12)
        #expect(QueryStrategy.entropy([1, 0]) == 0)
        #expect(abs(QueryStrategy.margin([0.2, 0.7, 0.1]) - 0.5) < 1e-12)
        #expect(abs(QueryStrategy.leastConfidence([0.2, 0.7, 0.1]) - 0.3) < 1e-12)
    }

    @Test(arguments: [
        (QueryStrategy.entropy, [1, 2, 3, 0]), (.margin, [3, 2, 1, 0]), (.leastConfidence, [2, 1, 3, 0]),
    ])
    func uncertaintyStrategiesRankTheTable(_ strategy: QueryStrategy, _ expected: [Int]) throws {
        let picks = try strategy.select(
            count: 4, candidates: [0, 1, 2, 3], scores: Self.scores(Self.table), labeledEmbeddings: [], seed: 0,
            round: 1)
        #expect(picks == expected)
    }

    @Test func candidatesArePoolIndicesAndTiesGoToTheLowerIndex() throws {
        let table = [[0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.5, 0.5]]
        for strategy in [QueryStrategy.entropy, .margin, .leastConfidence] {
            let picks = try strategy.select(
                count: 3, candidates: [10, 11, 12, 13, 14], scores: Self.scores(table), labeledEmbeddings: [],
                seed: 0, round: 1)
            #expect(picks == [10, 12, 14], "\(strategy)")
        }
        // NaN ranks last.
        #expect(QueryStrategy.topUncertain([(0, .nan), (1, 0.1), (2, 0.2)], count: 3) == [2, 1, 0])
    }

    @Test func tokenStatisticsForTextTasks() throws {
        let scores = [
            PoolScore(meanTokenEntropy: 2.0, meanNLL: 3.0), PoolScore(meanTokenEntropy: 4.0, meanNLL: 1.0),
            PoolScore(meanTokenEntropy: 3.0, meanNLL: 2.0),
        ]
        #expect(
            try QueryStrategy.entropy.select(
                count: 2, candidates: [0, 1, 2], scores: scores, labeledEmbeddings: [], seed: 0, round: 1) == [1, 2])
        #expect(
            try QueryStrategy.nll.select(
                count: 2, candidates: [0, 1, 2], scores: scores, labeledEmbeddings: [], seed: 0, round: 1) == [0, 2])
        #expect(throws: RealignmentError.self) {
            try QueryStrategy.margin.select(
                count: 1, candidates: [0, 1, 2], scores: scores, labeledEmbeddings: [], seed: 0, round: 1)
        }
        #expect(QueryStrategy.margin.applies(toClassification: false) == false)
        #expect(QueryStrategy.nll.applies(toClassification: true) == false)
    }

    @Test func randomIsSeededDistinctAndWithinTheCandidates() {
        let candidates = Array(stride(from: 0, to: 200, by: 2))
        let a = QueryStrategy.randomSample(candidates, count: 30, seed: 4, round: 2)
        #expect(a == QueryStrategy.randomSample(candidates, count: 30, seed: 4, round: 2))
        #expect(Set(a).count == 30 && Set(a).isSubset(of: Set(candidates)))
        #expect(a != QueryStrategy.randomSample(candidates, count: 30, seed: 5, round: 2))
        #expect(a != QueryStrategy.randomSample(candidates, count: 30, seed: 4, round: 3))
        #expect(QueryStrategy.randomSample(candidates, count: 500, seed: 4, round: 2).sorted() == candidates)
    }

    @Test func coreSetTakesTheFarthestPoints() {
        let points: [[Float]] = [[1], [2], [10], [11]]
        // From a labeled center at 0: 11 is farthest; then 2 (distance 2 from 0, vs 1 from 11 for 10).
        #expect(CoreSet.kCenterGreedy(points: points, centers: [[0]], count: 2) == [3, 1])
        // Without centers the first point is the one farthest from the mean (6): 1 and 11 tie at 5,
        // the lower position wins; then 11.
        #expect(CoreSet.kCenterGreedy(points: points, centers: [], count: 2) == [0, 3])
        #expect(CoreSet.kCenterGreedy(points: points, centers: [], count: 9).sorted() == [0, 1, 2, 3])
    }

    @Test func coreSetThroughSelectMapsToPoolIndices() throws {
        let scores = [[Float(1)], [2], [10], [11]].map { PoolScore(embedding: $0) }
        let picks = try QueryStrategy.coreset.select(
            count: 2, candidates: [5, 6, 7, 8], scores: scores, labeledEmbeddings: [[0]], seed: 0, round: 1)
        #expect(picks == [8, 6])
    }

    @Test func badgeStartsAtTheLargestGradientAndIsSeeded() {
        // Confident examples have small gradient embeddings; example 2 is uncertain with a long h.
        let probabilities = [[0.99, 0.01], [0.98, 0.02], [0.5, 0.5], [0.6, 0.4], [0.55, 0.45]]
        let embeddings: [[Float]] = [[1, 0], [0, 1], [3, 3], [1, 1], [-2, 1]]
        let a = CoreSet.badge(probabilities: probabilities, embeddings: embeddings, count: 3, seed: 7)
        #expect(a.first == 2)
        #expect(Set(a).count == 3)
        #expect(a == CoreSet.badge(probabilities: probabilities, embeddings: embeddings, count: 3, seed: 7))
        #expect(
            CoreSet.badge(probabilities: probabilities, embeddings: embeddings, count: 9, seed: 7).sorted() == [
                0, 1, 2, 3, 4,
            ])
    }
}
