import Foundation
import MoEModels
import TensorCore

/// Expert merging, the compression that keeps what removal throws away: each sparse layer's E experts
/// become k merged experts, each a weighted average of a group of originals.
///
/// - `hcSMoE` (HC-SMoE, Chen et al. 2025): average-linkage hierarchical clustering of the experts by
///   their mean output on the calibration tokens (1 − cosine), then each cluster's weights averaged
///   with the experts' routing frequencies as mixing weights (channels as they are, no alignment).
/// - `reapAligned` (REAM-style): the k experts of highest REAP saliency are centroids, every other
///   expert joins the centroid its mean output is closest to; each member's intermediate channels are
///   permuted onto its centroid's (Hungarian weight matching, `ChannelAlignment`) and the aligned
///   weights averaged with REAP saliencies as mixing weights.
///
/// Router rows: a merged expert's router row (and selection bias) is the same weighted average of its
/// members' rows, so for every token its logit is the mixing-weighted mean of its members' logits.
/// Mixing weights are normalised to sum to 1 per group; a group whose members never fired gets equal
/// weights. The plan (groups, weights, channel permutations) is written next to the checkpoint as
/// `merge_plan.json`, the ground truth provenance is scored against.
public enum ExpertMerging {
    public enum Method: String, Sendable, Codable, CaseIterable {
        case hcSMoE = "hc-smoe"
        case reapAligned = "reap-aligned"
    }

    /// One merged expert: its originals, their mixing weights, and (aligned merges) for each member the
    /// permutation of its channels onto the centroid's: merged channel j takes member channel `permutation[j]`.
    public struct Group: Sendable, Codable, Equatable {
        public var members: [Int]
        public var weights: [Double]
        public var permutations: [[Int]]?
    }

    public struct Plan: Sendable, Codable, Equatable {
        public var method: Method
        /// Per sparse layer, the merged experts in their new order.
        public var layers: [[Group]]
        public var originalCounts: [Int]

        enum CodingKeys: String, CodingKey {
            case method, layers
            case originalCounts = "original_counts"
        }
    }

    /// Groups each layer's experts into `k` and computes mixing weights and alignments.
    public static func plan(model: MoEModel, calibration: MergeCalibration, method: Method, k: Int) throws -> Plan {
        let blocks = model.moeBlocks
        guard calibration.layers.count == blocks.count else {
            throw PruningError.planMismatch(
                "calibration has \(calibration.layers.count) sparse layers, model \(blocks.count)")
        }
        var layers: [[Group]] = []
        for (l, block) in blocks.enumerated() {
            guard k >= 1, k <= block.expertCount else {
                throw PruningError.badKeep(k: k, layer: block.layer, experts: block.expertCount, minimum: 1)
            }
            let stats = calibration.layers[l]
            switch method {
            case .hcSMoE:
                let clusters = ExpertClustering.averageLinkage(stats.meanOutput, k: k)
                layers.append(
                    clusters.map {
                        Group(
                            members: $0, weights: normalized($0.map { stats.frequency[$0] }),
                            permutations: nil)
                    })
            case .reapAligned:
                let groups = ExpertClustering.centroids(stats.meanOutput, saliency: stats.reap, k: k)
                var merged: [Group] = []
                for members in groups {
                    let centre = try ExpertChannels(block.experts[members[0]])
                    let permutations = try members.map { m -> [Int] in
                        m == members[0]
                            ? Array(0..<centre.channelCount)
                            : centre.alignment(to: try ExpertChannels(block.experts[m]))
                    }
                    merged.append(
                        Group(
                            members: members, weights: normalized(members.map { stats.reap[$0] }),
                            permutations: permutations))
                }
                layers.append(merged)
            }
        }
        return Plan(method: method, layers: layers, originalCounts: blocks.map(\.expertCount))
    }

    /// The merged model (the input is unchanged). Sizes must agree within a group (checked).
    public static func apply(_ plan: Plan, to model: MoEModel) throws -> MoEModel {
        let blocks = model.moeBlocks
        guard plan.originalCounts == blocks.map(\.expertCount) else {
            throw PruningError.planMismatch("merge plan is for expert counts \(plan.originalCounts)")
        }
        var weights: [SparseLayerWeights] = []
        for (l, block) in blocks.enumerated() {
            let router = try block.router.tensor()  // [E, C]
            let bias = try block.selectionBias?.tensor()
            var experts: [(gate: Tensor, up: Tensor, down: Tensor)] = []
            var rows: [Float] = []
            var biases: [Float] = []
            for group in plan.layers[l] {
                var sum: Tensor?
                for (i, m) in group.members.enumerated() {
                    var channels = try ExpertChannels(block.experts[m])
                    if let order = group.permutations?[i] { channels = channels.selecting(order) }
                    let scaled = channels.rows.mergeScaled(by: Float(group.weights[i]))
                    guard sum == nil || sum!.shape == scaled.shape else {
                        throw PruningError.planMismatch("layer \(block.layer): experts \(group.members) differ in size")
                    }
                    sum = sum.map { $0.mergeAdding(scaled) } ?? scaled
                }
                experts.append(ExpertChannels(rows: sum!).projections)
                let c = router.lastDim
                var row = [Float](repeating: 0, count: c)
                var b: Float = 0
                for (i, m) in group.members.enumerated() {
                    let w = Float(group.weights[i])
                    for j in 0..<c { row[j] += w * router.data[m * c + j] }
                    if let bias { b += w * bias.data[m] }
                }
                rows += row
                biases.append(b)
            }
            let count = plan.layers[l].count
            weights.append(
                SparseLayerWeights(
                    experts: experts, router: Tensor(shape: [count, router.lastDim], data: rows),
                    selectionBias: bias.map { Tensor(shape: Array($0.shape.dropLast()) + [count], data: biases) }))
        }
        return try model.replacingExperts(weights)
    }

    static func normalized(_ values: [Double]) -> [Double] {
        let total = values.reduce(0, +)
        guard total > 0 else { return values.map { _ in 1 / Double(values.count) } }
        return values.map { $0 / total }
    }
}

extension Tensor {
    func mergeScaled(by s: Float) -> Tensor { Tensor(shape: shape, data: data.map { $0 * s }) }
    func mergeAdding(_ other: Tensor) -> Tensor { Tensor(shape: shape, data: zip(data, other.data).map { $0 + $1 }) }
}
