import Foundation
import Testing
import MoEModels
import TensorCore
@testable import ExpertLock
#if canImport(FoundationXML)
import FoundationXML
#endif

struct PrunabilitySweepTests {
    @Test func curveTableAndPlot() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("qwen3_moe_f32_headdim"))
        var rng = SplitMix64(seed: 2)
        let ids = (0..<160).map { _ in Int(rng.next() % UInt64(model.config.vocabSize)) }
        let batches = CorpusBatches.batches(CorpusBatches.chunks(ids, length: 32), batchSize: 2)
        let attribution = try Attribution.run(model: model, modelPath: "m", batches: batches)
        var evaluations = 0
        let curve = try PrunabilitySweep.run(
            model: model, attribution: attribution, metricName: "perplexity", higherIsBetter: false,
            parameters: .init(keeps: [8, 4, 2, 1], thresholds: [0.05], criteria: [.soft, .reap], randomSeeds: 2)
        ) { m in
            evaluations += 1
            return try Perplexity.evaluate(model: m, ids: ids, parameters: .init(context: 32)).perplexity
        }
        // full + 4 keeps × (2 criteria + 2 seeds) + 1 threshold × 2 criteria
        #expect(evaluations == 1 + 4 * 4 + 2)
        #expect(curve.points.count == 4 * 4 + 2)
        // Keeping every expert is the full model, whatever the ranking.
        for p in curve.points where p.k == 8 { #expect(abs(p.metric - curve.full) / curve.full < 1e-9) }
        // The model is left unmasked.
        #expect(model.moeBlocks.allSatisfy { $0.keep == nil })
        let area = try #require(curve.normalizedArea("soft"))
        #expect(area > 0 && area.isFinite)
        #expect(curve.markdownTable().contains("| 8 (full) |"))
        let svg = curve.svg(title: "test")
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "the plot must be well-formed XML")
        #expect(svg.contains("experts kept per layer"))
    }

    @Test func resistanceOfAKnownCurve() {
        let points = [4, 2, 1].map { CurvePoint(k: $0, tau: nil, strategy: "soft", seed: nil, expertsKept: Double($0), metric: Double(100 * 8 / ($0 * 2))) }
        let curve = PrunabilityCurve(metricName: "perplexity", higherIsBetter: false, expertsPerLayer: 8, full: 100, points: points)
        // normalised quality: k=1 → 0.25, 2 → 0.5, 4 → 1, 8 → 1 (added) over x = 1/8 … 1
        let expected = ((0.25 - 0.125) * (0.25 + 0.5) / 2 + (0.5 - 0.25) * (0.5 + 1) / 2 + 0.5 * 1) / 0.875
        #expect(abs(curve.normalizedArea("soft")! - expected) < 1e-12)
        #expect(abs(curve.drop(at: 2, strategy: "soft")! - 0.5) < 1e-12)
    }
}
