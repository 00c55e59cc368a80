import Foundation

// Routers whose choice and weights come from different numbers (DeepSeek-V2/V3, GLM-4.5, MiniMax-M2,
// ERNIE-4.5): scores s = sigmoid(logits) or softmax(logits); the choice ranks s + b, where b is a
// selection-only bias (`e_score_correction_bias`, ERNIE's `moe_statics`), optionally within the best
// `topkGroup` of `groups` contiguous expert groups; the weights are the chosen s (not s + b),
// renormalised or not, times `scaling` (`routed_scaling_factor`).
// Traps, as transformers 5.25: experts of the groups not chosen get choice score -inf (4.x filled 0.0);
// DeepSeek-V3 ranks groups by the sum of their two best choice scores, DeepSeek-V2 by the best.

/// How scores are made from router logits.
public enum RouterScoring: Sendable, Equatable {
    case softmax, sigmoid
}

/// How a group of experts is ranked for group-limited routing.
public enum GroupRanking: Sendable, Equatable {
    /// The sum of the group's two best choice scores (DeepSeek-V3, GLM-4.5).
    case topTwoSum
    /// The group's best score (DeepSeek-V2 `group_limited_greedy`).
    case best
}

/// The parameters of a biased, optionally group-limited router.
public struct BiasedRouter: Sendable, Equatable {
    public var scoring: RouterScoring
    public var groups: Int
    public var topkGroup: Int
    public var groupRanking: GroupRanking
    public var normalize: Bool
    /// Added to the sum of the chosen scores before dividing (DeepSeek 1e-20); ERNIE clamps instead.
    public var normalizationEpsilon: Float
    /// ERNIE: the sum is clamped to at least this (`moe_norm_min`); nil: not clamped.
    public var normalizationFloor: Float?
    public var scaling: Float

    public init(
        scoring: RouterScoring, groups: Int = 1, topkGroup: Int = 1, groupRanking: GroupRanking = .topTwoSum,
        normalize: Bool, normalizationEpsilon: Float = 0, normalizationFloor: Float? = nil, scaling: Float = 1
    ) {
        self.scoring = scoring
        self.groups = groups
        self.topkGroup = topkGroup
        self.groupRanking = groupRanking
        self.normalize = normalize
        self.normalizationEpsilon = normalizationEpsilon
        self.normalizationFloor = normalizationFloor
        self.scaling = scaling
    }
}

/// logits [N, E] -> weights [N, K], experts [N*K], probabilities [N, E] (the scores s).
/// `selectionBias` [E] (nil: zero) shifts the choice only; `keep` (nil: all) removes experts from the
/// choice (masking). Ties go to the lower expert index. Backward through the weights only (the choice is
/// piecewise constant): with S = Σ_chosen s (+ε), w_j = c·s_j/S, ds_m = (c·g_m − Σ_j g_j·w_j)/S when
/// normalised (else c·g_m), then through sigmoid (s(1 − s)) or softmax.
public func biasedTopKRouting(
    _ logits: Variable, router: BiasedRouter, k: Int, selectionBias: [Float]? = nil, keep: [Bool]? = nil
) -> Routing {
    let lv = logits.value
    let e = lv.lastDim
    let rows = lv.rows
    precondition(k >= 1 && k <= e, "biasedTopKRouting: k = \(k) with \(e) experts")
    precondition(router.groups >= 1 && e % router.groups == 0, "biasedTopKRouting: \(router.groups) groups of \(e)")
    precondition(selectionBias.map { $0.count == e } ?? true, "biasedTopKRouting: bias of another size")
    let scores: Tensor
    switch router.scoring {
    case .sigmoid: scores = Tensor(shape: lv.shape, data: lv.data.map { 1 / (1 + exp(-$0)) })
    case .softmax: scores = softmax(Variable(lv)).value
    }
    var chosen = [Int](repeating: 0, count: rows * k)
    var weights = [Float](repeating: 0, count: rows * k)
    var sums = [Float](repeating: 1, count: rows)
    let perGroup = e / router.groups
    for r in 0..<rows {
        let s = Array(scores.data[(r * e)..<((r + 1) * e)])
        var choice = (0..<e).map { j in s[j] + (selectionBias?[j] ?? 0) }
        if let keep { for j in 0..<e where !keep[j] { choice[j] = -.infinity } }
        if router.groups > 1 && router.topkGroup < router.groups {
            let groupScores = (0..<router.groups).map { g -> Float in
                let members = choice[(g * perGroup)..<((g + 1) * perGroup)].sorted(by: >)
                switch router.groupRanking {
                case .best: return members[0]
                case .topTwoSum: return members.count > 1 ? members[0] + members[1] : members[0]
                }
            }
            let best = Set(topIndices(groupScores, router.topkGroup))
            for j in 0..<e where !best.contains(j / perGroup) { choice[j] = -.infinity }
        }
        let picked = topIndices(choice, k)
        var total: Float = 0
        for j in picked { total += s[j] }
        var denominator = total + router.normalizationEpsilon
        if let floor = router.normalizationFloor { denominator = max(denominator, floor) }
        sums[r] = router.normalize ? denominator : 1
        for (slot, j) in picked.enumerated() {
            chosen[r * k + slot] = j
            weights[r * k + slot] = (router.normalize ? s[j] / denominator : s[j]) * router.scaling
        }
    }
    let w = Tensor(shape: [rows, k], data: weights)
    let node = Variable(w, parents: [logits]) { g in
        var ds = [Float](repeating: 0, count: rows * e)
        for r in 0..<rows {
            var gw: Float = 0
            for j in 0..<k { gw += g.data[r * k + j] * weights[r * k + j] }
            for j in 0..<k {
                let m = chosen[r * k + j]
                let gm = g.data[r * k + j] * router.scaling
                // A clamped ERNIE sum is a constant: its weights are s_j / floor.
                let clamped = router.normalizationFloor.map { sums[r] <= $0 } ?? false
                ds[r * e + m] += router.normalize ? (clamped ? gm : gm - gw) / sums[r] : gm
            }
        }
        let dScores = Tensor(shape: lv.shape, data: ds)
        switch router.scoring {
        case .sigmoid:
            let s = scores.data
            return [Tensor(shape: lv.shape, data: (0..<ds.count).map { ds[$0] * s[$0] * (1 - s[$0]) })]
        case .softmax:
            return [softmaxBackward(dScores, probabilities: scores).reshaped(lv.shape)]
        }
    }
    return Routing(weights: node, experts: chosen, probabilities: scores, k: k)
}

/// Indices of the `k` largest values, largest first; ties go to the lower index (a stable sort).
func topIndices(_ values: [Float], _ k: Int) -> [Int] {
    Array(values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }.prefix(k))
}
