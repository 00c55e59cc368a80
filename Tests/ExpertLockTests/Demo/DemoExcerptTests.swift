import Foundation
import MoEModels
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

/// The README's demo excerpt is what the demo writes (issue 23, item 19), and the report's
/// findings speak of retention above chance (item 17).
struct DemoExcerptTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The README quotes report/excerpt.md of the run whose results.json is kept in
    /// docs/demo/results.json: rendering that run's excerpt again gives the README's text exactly.
    @Test func readmeQuotesTheDemosExcerpt() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let begin = "<!-- demo excerpt: report/excerpt.md of docs/demo/results.json -->\n"
        let end = "<!-- end of demo excerpt -->"
        let start = try #require(readme.range(of: begin), "the README marks its demo excerpt")
        let stop = try #require(readme.range(of: end, range: start.upperBound..<readme.endIndex))
        let quoted = String(readme[start.upperBound..<stop.lowerBound])
        let data = try Data(contentsOf: Self.root.appendingPathComponent("docs/demo/results.json"))
        let results = try JSONFileStyle.decode(DemoResults.self, from: data) {
            $0.nonConformingFloatDecodingStrategy = .convertFromString(
                positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        }
        #expect(results.machine != nil, "the run records its machine and threads")
        let excerpt = DemoReport.excerpt(results)
        #expect(
            quoted.trimmingCharacters(in: .whitespacesAndNewlines)
                == excerpt.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(excerpt.contains("thread") && excerpt.contains("| task | metric |"))
    }

    /// A pruned accuracy at chance keeps none of the full model's gain over chance; the finding
    /// must not call it "74% of the quality".
    @Test func findingCorrectsRetentionForChance() {
        let points = [8, 2].flatMap { k in
            ["soft", "random"].map {
                CurvePoint(k: k, tau: nil, strategy: $0, seed: nil, expertsKept: Double(k), metric: k == 8 ? 0.68 : 0.5)
            }
        }
        var curve = PrunabilityCurve(
            metricName: "accuracy", higherIsBetter: true, expertsPerLayer: 8, full: 0.68, points: points)
        curve.chanceLevel = 0.5
        let result = DemoResults.TaskResult(attributionShares: [], curve: curve, criterionAgreement: nil)
        let text = DemoReport.finding(task: "sentiment", standard: result, entangled: nil)
        #expect(!text.contains("74%"), "\(text)")
        #expect(text.contains("retains 0% of the full model's gain over chance"), "\(text)")
    }
}
