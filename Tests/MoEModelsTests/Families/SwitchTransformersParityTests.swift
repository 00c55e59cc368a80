import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// Golden tests of `switch_transformers` against transformers 5.25 on tiny random-init checkpoints made by
/// scripts/fixtures/make_switch_fixtures.py (see CASES there: token dropping at capacity 2, every block sparse,
/// tied and untied heads, F32 and BF16 files).
struct SwitchTransformersParityTests {
    static let cases = ["switch_f32_cap2_tied", "switch_bf16_untied_step1"]

    struct Expected: Decodable {
        struct Pair: Decodable {
            let encoder_ids: [Int]
            let decoder_ids: [Int]
            let logits: [[Double]]
            let router_logits: [[[Double]]]
            let encoder_hidden: [[Double]]?
        }
        struct Generated: Decodable {
            let encoder_ids: [Int]
            let max_new_tokens: Int
            let sequence: [Int]
        }
        struct Pruned: Decodable {
            let drop: [Int]
            let cases: [Pair]
        }
        let cases: [Pair]
        let generated: [Generated]
        let pruned: Pruned?
    }

    static var root: URL { TestSupport.fixtures.appendingPathComponent("switch") }

    static func expected(_ name: String) throws -> Expected {
        try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: root.appendingPathComponent("\(name)/expected.json")))
    }

    static func maxDifference(_ t: Tensor, _ rows: [[Double]]) -> Double {
        #expect(t.shape == [rows.count, rows.first?.count ?? 0], "shape \(t.shape)")
        var worst = 0.0
        for (r, row) in rows.enumerated() {
            for (c, v) in row.enumerated() { worst = max(worst, abs(Double(t.data[r * row.count + c]) - v)) }
        }
        return worst
    }

    static func check(_ model: SwitchTransformersModel, _ pair: Expected.Pair, tolerance: Double = 1e-4) throws {
        let out = try model.forward(
            encoderIds: [pair.encoder_ids], decoderIds: [pair.decoder_ids], recordRouterLogits: true)
        #expect(maxDifference(out.logits.value, pair.logits) < tolerance)
        if let hidden = pair.encoder_hidden { #expect(maxDifference(out.encoderHidden.value, hidden) < tolerance) }
        #expect(out.routerLogits.count == pair.router_logits.count)
        for (mine, theirs) in zip(out.routerLogits, pair.router_logits) {
            #expect(maxDifference(mine, theirs) < tolerance)
        }
    }

    @Test(arguments: cases)
    func logitsRouterLogitsAndEncoderOutputsMatchTransformers(_ name: String) throws {
        let model = try SwitchTransformersModel.load(directory: Self.root.appendingPathComponent(name))
        for pair in try Self.expected(name).cases { try Self.check(model, pair) }
    }

    @Test(arguments: cases)
    func greedyDecodingIsTokenIdenticalToGenerate(_ name: String) throws {
        let model = try SwitchTransformersModel.load(directory: Self.root.appendingPathComponent(name))
        for g in try Self.expected(name).generated {
            let mine = try Seq2SeqGenerator.greedy(model, encoderIds: g.encoder_ids, maxNewTokens: g.max_new_tokens)
            #expect(mine == g.sequence)
        }
    }

    /// The pruned checkpoint ExpertLock writes, loaded by transformers, gives the logits of ExpertLock's original
    /// with those experts masked, and ExpertLock reads its own pruned folder the same.
    @Test(arguments: cases)
    func prunedCheckpointMatchesMaskedOriginalAndTransformersReload(_ name: String) throws {
        let expected = try Self.expected(name)
        let pruned = try #require(expected.pruned, "fixture made without --expertlock")
        let source = Self.root.appendingPathComponent(name)
        let model = try SwitchTransformersModel.load(directory: source)
        let n = model.config.numExperts
        model.maskExperts(model.sparseBlocks.map { _ in (0..<n).map { !pruned.drop.contains($0) } })
        for pair in pruned.cases {
            let out = try model.forward(encoderIds: [pair.encoder_ids], decoderIds: [pair.decoder_ids])
            #expect(Self.maxDifference(out.logits.value, pair.logits) < 1e-4)
        }
        try TestSupport.withTemporaryDirectory { dir in
            let out = dir.appendingPathComponent("pruned")
            let kept = model.sparseBlocks.map { _ in (0..<n).filter { !pruned.drop.contains($0) } }
            try SwitchTransformersModel.writePruned(source: source, kept: kept, to: out)
            let reloaded = try SwitchTransformersModel.load(directory: out)
            #expect(reloaded.config.numExperts == n - pruned.drop.count)
            for pair in pruned.cases { try Self.check(reloaded, pair) }
        }
    }

    @Test func relativePositionBucketsMatchTorch() throws {
        let url = Self.root.appendingPathComponent("buckets.json")
        let tables = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
        #expect(tables.count == 8)
        for table in tables {
            let buckets = try #require(table["buckets"] as? Int)
            let distance = try #require(table["max_distance"] as? Int)
            let bidirectional = try #require(table["bidirectional"] as? Bool)
            let from = try #require(table["relative_from"] as? Int)
            let values = TestSupport.ints(table["values"])
            let mine = values.indices.map {
                RelativePositionBias.bucket(
                    relative: from + $0, bidirectional: bidirectional, buckets: buckets, maxDistance: distance)
            }
            #expect(mine == values, "buckets \(buckets), max distance \(distance), bidirectional \(bidirectional)")
        }
    }
}
