import Foundation
import MoEModels
import TensorCore

/// Inner-expert pruning ("Less is MoE"-style): each expert keeps a share of its intermediate channels,
/// ranked by channel attribution (`MergeCalibration.Layer.channelScores`: gate weight × |activation| ×
/// ‖down column‖ summed over the tokens routed to the expert).
///
/// - `uniform`: every expert keeps ⌈ratio × I⌉ of its own channels (one size: transformers loads the
///   result with the smaller `moe_intermediate_size`).
/// - `perExpert`: a layer keeps ⌈ratio × E × I⌉ channels pooled over its experts, so rarely routed
///   experts shrink more (at least one channel each); sizes then differ and are recorded in
///   `expertlock_expert_intermediate_sizes`.
public enum InnerPruning {
    public enum Scope: String, Sendable, Codable, CaseIterable {
        case uniform
        case perExpert = "per-expert"
    }

    public struct Plan: Sendable, Codable, Equatable {
        public var ratio: Double
        public var scope: Scope
        /// kept[l][e]: the channels expert e of sparse layer l keeps, ascending.
        public var kept: [[[Int]]]
    }

    public static func plan(calibration: MergeCalibration, ratio: Double, scope: Scope) throws -> Plan {
        guard ratio > 0, ratio <= 1 else {
            throw PruningError.planMismatch("the share of channels kept must be in (0, 1], got \(ratio)")
        }
        let kept = calibration.layers.map { layer -> [[Int]] in
            let scores = layer.channelScores
            switch scope {
            case .uniform:
                return scores.map { s in
                    let keep = max(1, Int((ratio * Double(s.count)).rounded(.up)))
                    return Array(ranked(s).prefix(keep)).sorted()
                }
            case .perExpert:
                let total = scores.reduce(0) { $0 + $1.count }
                let budget = max(scores.count, Int((ratio * Double(total)).rounded(.up)))
                var keptLayer = scores.map { Array(ranked($0).prefix(1)) }
                var pool: [(expert: Int, channel: Int, score: Double)] = []
                for (e, s) in scores.enumerated() {
                    for j in ranked(s).dropFirst() { pool.append((e, j, s[j])) }
                }
                pool.sort {
                    $0.score != $1.score ? $0.score > $1.score : ($0.expert, $0.channel) < ($1.expert, $1.channel)
                }
                for item in pool.prefix(budget - scores.count) { keptLayer[item.expert].append(item.channel) }
                return keptLayer.map { $0.sorted() }
            }
        }
        return Plan(ratio: ratio, scope: scope, kept: kept)
    }

    /// The pruned model: each expert's gate and up rows and down columns restricted to its kept channels.
    public static func apply(_ plan: Plan, to model: MoEModel) throws -> MoEModel {
        let blocks = model.moeBlocks
        guard plan.kept.count == blocks.count else {
            throw PruningError.planMismatch(
                "inner-pruning plan has \(plan.kept.count) sparse layers, model \(blocks.count)")
        }
        var layers: [SparseLayerWeights] = []
        for (l, block) in blocks.enumerated() {
            guard plan.kept[l].count == block.expertCount else {
                throw PruningError.planMismatch("layer \(block.layer): plan for \(plan.kept[l].count) experts")
            }
            var experts: [(gate: Tensor, up: Tensor, down: Tensor)] = []
            for (e, expert) in block.experts.enumerated() {
                let channels = plan.kept[l][e]
                guard !channels.isEmpty, channels.allSatisfy({ $0 >= 0 && $0 < expert.intermediateSize }),
                    Set(channels).count == channels.count
                else { throw PruningError.planMismatch("layer \(block.layer) expert \(e): bad channel list") }
                experts.append(try ExpertChannels(expert).selecting(channels).projections)
            }
            layers.append(
                SparseLayerWeights(
                    experts: experts, router: try block.router.tensor(),
                    selectionBias: try block.selectionBias?.tensor()))
        }
        return try model.replacingExperts(layers)
    }

    /// Channel indices by descending score (ties: lower index first).
    static func ranked(_ s: [Double]) -> [Int] {
        s.indices.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }
    }
}
