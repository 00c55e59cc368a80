import Foundation

/// `Fixtures/statistics/statistics.json`, written by `scripts/fixtures/make_statistics_fixtures.py`
/// with scipy and numpy.
struct StatisticsFixture: Decodable {
    struct McNemarCase: Decodable {
        var b: Int
        var c: Int
        var exactP: Double
        var midP: Double
        enum CodingKeys: String, CodingKey {
            case b, c
            case exactP = "exact_p"
            case midP = "mid_p"
        }
    }

    struct WilsonCase: Decodable {
        var k: Int
        var n: Int
        var level: Double
        var lower: Double
        var upper: Double
    }

    struct QuantileCase: Decodable {
        var p: Double
        var x: Double
    }

    struct MeanCase: Decodable {
        var values: [Double]
        var seed: UInt64
        var resamples: Int
        var level: Double
        var indices: [[Int]]
        var estimate: Double
        var lower: Double
        var upper: Double
    }

    struct PairedCase: Decodable {
        var a: [Double]
        var b: [Double]
        var seed: UInt64
        var resamples: Int
        var level: Double
        var indices: [[Int]]
        var estimate: Double
        var lower: Double
        var upper: Double
    }

    struct HierarchicalCase: Decodable {
        var values: [[Double]]
        var seed: UInt64
        var resamples: Int
        var level: Double
        var seedIndices: [[Int]]
        var exampleIndices: [[Int]]
        var estimate: Double
        var lower: Double
        var upper: Double
        enum CodingKeys: String, CodingKey {
            case values, seed, resamples, level, estimate, lower, upper
            case seedIndices = "seed_indices"
            case exampleIndices = "example_indices"
        }
    }

    struct BootstrapCases: Decodable {
        var mean: MeanCase
        var paired: PairedCase
        var hierarchical: HierarchicalCase
    }

    var mcnemar: [McNemarCase]
    var wilson: [WilsonCase]
    var normalQuantile: [QuantileCase]
    var bootstrap: BootstrapCases

    enum CodingKeys: String, CodingKey {
        case mcnemar, wilson, bootstrap
        case normalQuantile = "normal_quantile"
    }

    static let shared: StatisticsFixture? = {
        guard
            let url = Bundle.module.url(
                forResource: "statistics", withExtension: "json", subdirectory: "Fixtures/statistics"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return try? JSONDecoder().decode(StatisticsFixture.self, from: data)
    }()
}
