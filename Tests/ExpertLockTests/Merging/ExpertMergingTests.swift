import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Merging and inner pruning: clustering, channel alignment, the merged weights and routers, and the
/// checkpoints they write.
struct ExpertMergingTests {
    static func tinyModel(seed: UInt64 = 1, experts: Int = 6) throws -> MoEModel {
        let config = ModelConfig(
            modelType: "qwen3_moe", vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
            numAttentionHeads: 2, moeIntermediateSize: 12, numExperts: experts, numExpertsPerToken: 2)
        return try MoEModel.randomlyInitialized(config: config, seed: seed, initializerRange: 0.2)
    }

    static func calibrationBatches() -> [TokenBatch] {
        var rng = SplitMix64(seed: 5)
        return (0..<4).map { _ in TokenBatch((0..<24).map { _ in Int(rng.next() % 40) }) }
    }

    static func logits(_ model: MoEModel, _ ids: [Int] = Array(0..<20)) throws -> [Float] {
        try model.forward(TokenBatch(ids)).logits.value.data
    }

    @Test func averageLinkageJoinsTheClosestExperts() {
        // Two directions, three experts near each: average linkage finds the two groups.
        let features: [[Float]] = [[1, 0.1], [0, 1], [1, 0], [0.1, 1], [0.9, 0.05], [0.05, 0.95]]
        #expect(ExpertClustering.averageLinkage(features, k: 2) == [[0, 2, 4], [1, 3, 5]])
        #expect(ExpertClustering.averageLinkage(features, k: 6) == (0..<6).map { [$0] })
        // Centroids are the most salient experts; the rest join the closest centroid.
        let groups = ExpertClustering.centroids(features, saliency: [5, 1, 1, 6, 1, 1], k: 2)
        #expect(groups == [[0, 2, 4], [3, 1, 5]])
    }

    @Test func alignmentRecoversAPermutationOfChannels() throws {
        let model = try Self.tinyModel()
        let expert = model.moeBlocks[0].experts[2]
        let channels = try ExpertChannels(expert)
        let permutation = [5, 0, 11, 3, 9, 1, 7, 2, 10, 4, 8, 6]
        let permuted = channels.selecting(permutation)
        // Channel j of `permuted` is channel permutation[j] of the original.
        #expect(permuted.alignment(to: channels) == permutation)
        let back = ExpertChannels(
            rows: ExpertChannels(
                gate: permuted.projections.gate, up: permuted.projections.up,
                down: permuted.projections.down
            ).rows)
        #expect(back.rows == permuted.rows)
    }

    @Test func mergingSingletonsReproducesTheModel() throws {
        let model = try Self.tinyModel()
        let calibration = try MergeCalibration.run(model: model, batches: Self.calibrationBatches())
        for method in ExpertMerging.Method.allCases {
            let plan = try ExpertMerging.plan(model: model, calibration: calibration, method: method, k: 6)
            #expect(plan.layers.allSatisfy { $0.count == 6 && $0.allSatisfy { $0.members.count == 1 } })
            let merged = try ExpertMerging.apply(plan, to: model)
            let a = try Self.logits(model)
            let b = try Self.logits(merged)
            #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 }, "\(method)")
        }
    }

    @Test func mergedExpertIsTheWeightedAverageOfItsMembers() throws {
        let model = try Self.tinyModel()
        let calibration = try MergeCalibration.run(model: model, batches: Self.calibrationBatches())
        #expect(calibration.tokens == 96)
        #expect(calibration.layers[0].frequency.reduce(0, +) == 96 * 2)
        let plan = try ExpertMerging.plan(model: model, calibration: calibration, method: .hcSMoE, k: 3)
        let merged = try ExpertMerging.apply(plan, to: model)
        #expect(merged.config.numExperts == 3)
        for (l, block) in model.moeBlocks.enumerated() {
            for (g, group) in plan.layers[l].enumerated() {
                #expect(abs(group.weights.reduce(0, +) - 1) < 1e-9)
                let f = group.members.map { calibration.layers[l].frequency[$0] }
                #expect(abs(group.weights[0] - f[0] / f.reduce(0, +)) < 1e-9)
                var expected = [Float](repeating: 0, count: 12 * 16)
                var row = [Float](repeating: 0, count: 16)
                for (i, m) in group.members.enumerated() {
                    let w = try block.experts[m].up.tensor().data
                    let r = try block.router.tensor().data[(m * 16)..<((m + 1) * 16)]
                    for j in expected.indices { expected[j] += Float(group.weights[i]) * w[j] }
                    for (j, v) in r.enumerated() { row[j] += Float(group.weights[i]) * v }
                }
                let got = try merged.moeBlocks[l].experts[g].up.tensor().data
                #expect(zip(expected, got).allSatisfy { abs($0 - $1) < 1e-6 })
                let gotRow = try merged.moeBlocks[l].router.tensor().data[(g * 16)..<((g + 1) * 16)]
                #expect(zip(row, gotRow).allSatisfy { abs($0 - $1) < 1e-6 })
            }
        }
    }

    @Test func alignedMergeOfAPermutedTwinIsTheTwin() throws {
        // Expert 1 is expert 0 with its channels permuted (the same function): the aligned merge of the two
        // is expert 0 itself, whatever the weights; the unaligned average is not.
        let model = try Self.tinyModel(experts: 2)
        for block in model.moeBlocks {
            let channels = try ExpertChannels(block.experts[0]).selecting([3, 1, 0, 2, 11, 10, 9, 8, 4, 5, 6, 7])
            let p = channels.projections
            block.experts[1].gate.assign(p.gate)
            block.experts[1].up.assign(p.up)
            block.experts[1].down.assign(p.down)
        }
        let calibration = try MergeCalibration.run(model: model, batches: Self.calibrationBatches())
        let alignedPlan = try ExpertMerging.plan(model: model, calibration: calibration, method: .reapAligned, k: 1)
        let aligned = try ExpertMerging.apply(alignedPlan, to: model)
        let plain = try ExpertMerging.apply(
            ExpertMerging.plan(model: model, calibration: calibration, method: .hcSMoE, k: 1), to: model)
        for (l, block) in model.moeBlocks.enumerated() {
            // The centroid keeps its channel order.
            let original = try block.experts[alignedPlan.layers[l][0].members[0]].down.tensor().data
            let a = try aligned.moeBlocks[l].experts[0].down.tensor().data
            let b = try plain.moeBlocks[l].experts[0].down.tensor().data
            #expect(zip(original, a).allSatisfy { abs($0 - $1) < 1e-6 })
            #expect(!zip(original, b).allSatisfy { abs($0 - $1) < 1e-3 })
        }
    }

    @Test func innerPruningAtFullRatioKeepsTheModelAndDropsDeadChannelsFirst() throws {
        let model = try Self.tinyModel()
        // Channels 0..<4 of every expert are dead (zero down column): attribution scores them 0.
        for block in model.moeBlocks {
            for expert in block.experts {
                var down = try expert.down.tensor()
                for r in 0..<16 { for j in 0..<4 { down.data[r * 12 + j] = 0 } }
                expert.down.assign(down)
            }
        }
        let calibration = try MergeCalibration.run(model: model, batches: Self.calibrationBatches())
        let full = try InnerPruning.apply(
            InnerPruning.plan(calibration: calibration, ratio: 1, scope: .uniform), to: model)
        #expect(try Self.logits(full) == Self.logits(model))
        let plan = try InnerPruning.plan(calibration: calibration, ratio: 8.0 / 12, scope: .uniform)
        #expect(plan.kept.allSatisfy { $0.allSatisfy { $0 == Array(4..<12) } })
        let pruned = try InnerPruning.apply(plan, to: model)
        #expect(pruned.config.moeIntermediateSize == 8)
        let a = try Self.logits(model)
        let b = try Self.logits(pruned)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func perExpertSizesRoundTripThroughTheCheckpoint() throws {
        let model = try Self.tinyModel()
        let calibration = try MergeCalibration.run(model: model, batches: Self.calibrationBatches())
        let plan = try InnerPruning.plan(calibration: calibration, ratio: 0.5, scope: .perExpert)
        #expect(plan.kept.allSatisfy { $0.reduce(0) { $0 + $1.count } == 36 })
        let pruned = try InnerPruning.apply(plan, to: model)
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try pruned.save(to: dir)
        let loaded = try ModelLoader.load(directory: dir, residency: .resident)
        let sizes = loaded.moeBlocks.map { $0.experts.map(\.intermediateSize) }
        #expect(sizes == plan.kept.map { $0.map(\.count) })
        #expect(try Self.logits(loaded) == Self.logits(pruned))
    }
}
