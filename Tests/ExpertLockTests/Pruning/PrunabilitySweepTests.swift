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
        #expect(model.expertMask == nil)
        let area = try #require(curve.normalizedArea("soft"))
        #expect(area > 0 && area.isFinite)
        #expect(curve.markdownTable().contains("| 8 (full) |"))
        let svg = curve.svg(title: "test")
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "the plot must be well-formed XML")
        #expect(svg.contains("experts kept per layer"))
    }

    /// Merge and removal on one plot: removal series are "top-k by <criterion>", merge series keep their
    /// method's name (they rank nothing).
    @Test func mergeSeriesAreLabelledByMethod() {
        let points = ["reap", "merge hc-smoe"].flatMap { s in
            [4, 2].map { CurvePoint(k: $0, tau: nil, strategy: s, seed: nil, expertsKept: Double($0), metric: 10) }
        }
        let svg = PrunabilityCurve(
            metricName: "perplexity", higherIsBetter: false, expertsPerLayer: 8, full: 5, points: points
        ).svg(title: "t")
        #expect(svg.contains("top-k by reap") && svg.contains("merge hc-smoe"))
        #expect(!svg.contains("top-k by merge"))
    }

    @Test func resistanceOfAKnownCurve() {
        let points = [4, 2, 1].map {
            CurvePoint(
                k: $0, tau: nil, strategy: "soft", seed: nil, expertsKept: Double($0),
                metric: Double(100 * 8 / ($0 * 2)))
        }
        let curve = PrunabilityCurve(
            metricName: "perplexity", higherIsBetter: false, expertsPerLayer: 8, full: 100, points: points)
        // normalised quality: k=1 → 0.25, 2 → 0.5, 4 → 1, 8 → 1 (added) over x = 1/8 … 1
        let expected = ((0.25 - 0.125) * (0.25 + 0.5) / 2 + (0.5 - 0.25) * (0.5 + 1) / 2 + 0.5 * 1) / 0.875
        #expect(abs(curve.normalizedArea("soft")! - expected) < 1e-12)
        #expect(abs(curve.drop(at: 2, strategy: "soft")! - 0.5) < 1e-12)
    }

    /// Issue 23, item 17: the full model appears once, as "8 (full)", not again as a measured "8"
    /// row; and an accuracy at chance keeps 0% of the full model's gain over chance.
    @Test func fullRowOnceAndChanceCorrectedRetention() {
        let points = [8, 2].flatMap { k in
            ["soft", "random"].map {
                CurvePoint(k: k, tau: nil, strategy: $0, seed: nil, expertsKept: Double(k), metric: k == 8 ? 0.68 : 0.5)
            }
        }
        var curve = PrunabilityCurve(
            metricName: "accuracy", higherIsBetter: true, expertsPerLayer: 8, full: 0.68, points: points)
        let rows = curve.markdownTable().split(separator: "\n").map(String.init)
        #expect(rows.filter { $0.hasPrefix("| 8 ") } == ["| 8 (full) | 0.680 | 0.680 |"], "\(rows)")
        #expect(rows.contains { $0.hasPrefix("| 2 |") })
        #expect(abs(curve.retention(0.5)! - 0.5 / 0.68) < 1e-12)  // no chance level: the plain ratio
        curve.chanceLevel = 0.5
        #expect(curve.retention(0.5) == 0)
        #expect(abs(curve.retention(0.59)! - 0.5) < 1e-12)
        curve.full = 0.5
        #expect(curve.retention(0.5) == nil)  // the full model itself at chance: nothing to retain
    }

    /// Issue 23, item 18: curve.json and plan files are written in snake_case, and files of older
    /// builds, in camelCase, are still read.
    @Test func jsonKeysAreSnakeCaseAndOldFilesRead() throws {
        let curve = PrunabilityCurve(
            metricName: "accuracy", higherIsBetter: true, expertsPerLayer: 4, full: 0.7,
            points: [CurvePoint(k: 2, tau: nil, strategy: "soft", seed: nil, expertsKept: 2, metric: 0.6)])
        let text = String(decoding: try JSONFileStyle.encoder().encode(curve), as: UTF8.self)
        #expect(text.contains("\"metric_name\"") && text.contains("\"experts_kept\"") && !text.contains("metricName"))
        #expect(try JSONFileStyle.decode(PrunabilityCurve.self, from: Data(text.utf8)) == curve)
        let old = try JSONEncoder().encode(curve)  // camelCase, as older builds wrote curve.json
        #expect(String(decoding: old, as: UTF8.self).contains("metricName"))
        #expect(try JSONFileStyle.decode(PrunabilityCurve.self, from: old) == curve)
        let oldPlan = #"{"kept": [[0, 2]], "originalCounts": [4], "rule": "r"}"#
        let plan = try PruningPlan.decode(Data(oldPlan.utf8), file: "old.json")
        #expect(plan.originalCounts == [4] && plan.modelFingerprint == nil)
        var withIdentity = plan
        withIdentity.modelFingerprint = "abc"
        let written = String(decoding: try JSONFileStyle.encoder().encode(withIdentity), as: UTF8.self)
        #expect(written.contains("\"original_counts\"") && written.contains("\"model_fingerprint\""))
        #expect(try PruningPlan.decode(Data(written.utf8), file: "new.json") == withIdentity)
    }
}
