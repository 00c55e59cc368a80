import Foundation
import MoEModels
import TensorCore

/// Which experts each sparse layer keeps. Made from a rule (top-k per layer or global, threshold τ,
/// random, an explicit drop list) and applied by removal or masking (see `PruningPlan+Apply`).
public struct PruningPlan: Sendable, Equatable, Codable {
    /// kept[l]: the kept expert indices of sparse layer l, ascending.
    public var kept: [[Int]]
    /// Expert count of each sparse layer before pruning.
    public var originalCounts: [Int]
    /// A human-readable statement of the rule, for reports.
    public var rule: String
    /// `ModelFolderIdentity` of the model the plan was made for, when known (`prune` records its
    /// input's): `prune --plan` refuses a plan of another model (`ModelIdentityCheck`).
    public var modelFingerprint: String?

    public init(kept: [[Int]], originalCounts: [Int], rule: String) {
        self.kept = kept.map { $0.sorted() }
        self.originalCounts = originalCounts
        self.rule = rule
    }

    public enum Scope: String, Sendable, Codable, CaseIterable { case layer, global }

    /// Whether every layer keeps the same number of experts (a removal is then loadable by transformers).
    public var isUniform: Bool { Set(kept.map(\.count)).count <= 1 }

    /// keep[l][e] flags for masking.
    public var keepFlags: [[Bool]] {
        zip(kept, originalCounts).map { kept, n in
            let set = Set(kept)
            return (0..<n).map { set.contains($0) }
        }
    }

    /// Keeps the k most important experts of every layer (`scope: .layer`), or the k × L most
    /// important (layer, expert) pairs pooled over layers (`scope: .global`, each layer keeping at
    /// least `minimumPerLayer`, the model's top-k, so routing stays defined).
    public static func topK(
        _ attribution: ExpertAttribution, k: Int, scope: Scope = .layer, criterion: AttributionCriterion,
        minimumPerLayer: Int
    ) throws -> PruningPlan {
        let counts = attribution.signature.expertsPerLayer
        for (l, n) in counts.enumerated() where k > n || k < minimumPerLayer {
            throw PruningError.badKeep(
                k: k, layer: attribution.signature.sparseLayers[l], experts: n, minimum: minimumPerLayer)
        }
        switch scope {
        case .layer:
            let kept = counts.indices.map { Array(attribution.ranking(layer: $0, criterion: criterion).prefix(k)) }
            return PruningPlan(kept: kept, originalCounts: counts, rule: "top-\(k) per layer by \(criterion.rawValue)")
        case .global:
            var kept = counts.indices.map {
                Array(attribution.ranking(layer: $0, criterion: criterion).prefix(minimumPerLayer))
            }
            var budget = k * counts.count - minimumPerLayer * counts.count
            for pair in attribution.globalRanking(criterion: criterion) where budget > 0 {
                if !kept[pair.layer].contains(pair.expert) {
                    kept[pair.layer].append(pair.expert)
                    budget -= 1
                }
            }
            return PruningPlan(
                kept: kept, originalCounts: counts, rule: "top-\(k * counts.count) global by \(criterion.rawValue)")
        }
    }

    /// Keeps every expert whose per-layer share A_i ≥ τ. A layer left with fewer than
    /// `minimumPerLayer` experts is an error: the router could not pick its top-k.
    public static func threshold(
        _ attribution: ExpertAttribution, tau: Double, criterion: AttributionCriterion, minimumPerLayer: Int
    ) throws -> PruningPlan {
        let shares = attribution.shares(criterion)
        let kept = shares.map { row in row.indices.filter { row[$0] >= tau } }
        for (l, row) in kept.enumerated() where row.count < max(1, minimumPerLayer) {
            throw PruningError.thresholdKeepsTooFew(
                tau: tau, layer: attribution.signature.sparseLayers[l], kept: row.count,
                minimum: max(1, minimumPerLayer))
        }
        return PruningPlan(
            kept: kept, originalCounts: attribution.signature.expertsPerLayer,
            rule: "share ≥ \(tau) by \(criterion.rawValue)")
    }

    /// k experts per layer chosen uniformly at random (the baseline of the prunability curve).
    public static func random(expertsPerLayer counts: [Int], k: Int, seed: UInt64, minimumPerLayer: Int) throws
        -> PruningPlan
    {
        var rng = SplitMix64(seed: seed)
        for (l, n) in counts.enumerated() where k > n || k < minimumPerLayer {
            throw PruningError.badKeep(k: k, layer: l, experts: n, minimum: minimumPerLayer)
        }
        let kept = counts.map { n -> [Int] in
            var order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
            return Array(order.prefix(k))
        }
        return PruningPlan(kept: kept, originalCounts: counts, rule: "random \(k) per layer (seed \(seed))")
    }

    /// Drops the same experts in every layer.
    public static func drop(_ experts: [Int], expertsPerLayer counts: [Int], minimumPerLayer: Int) throws -> PruningPlan
    {
        let dropped = Set(experts)
        var kept: [[Int]] = []
        for (l, n) in counts.enumerated() {
            if let bad = experts.first(where: { $0 < 0 || $0 >= n }) {
                throw PruningError.noSuchExpert(expert: bad, layer: l, experts: n)
            }
            let row = (0..<n).filter { !dropped.contains($0) }
            if row.count < max(1, minimumPerLayer) {
                throw PruningError.badKeep(k: row.count, layer: l, experts: n, minimum: minimumPerLayer)
            }
            kept.append(row)
        }
        return PruningPlan(kept: kept, originalCounts: counts, rule: "drop \(experts.sorted())")
    }

    /// Checks that the plan fits a model (same sparse layers, expert counts, valid indices).
    public func validate(for signature: ModelSignature, minimumPerLayer: Int) throws {
        guard originalCounts == signature.expertsPerLayer else {
            throw PruningError.planMismatch(
                "plan is for expert counts \(originalCounts), model has \(signature.expertsPerLayer)")
        }
        guard kept.count == originalCounts.count else {
            throw PruningError.planMismatch(
                "plan lists kept experts for \(kept.count) layers, model has \(originalCounts.count) sparse layers")
        }
        for (l, row) in kept.enumerated() {
            if let bad = row.first(where: { $0 < 0 || $0 >= originalCounts[l] }) {
                throw PruningError.noSuchExpert(
                    expert: bad, layer: signature.sparseLayers[l], experts: originalCounts[l])
            }
            if Set(row).count != row.count { throw PruningError.planMismatch("layer \(l) lists an expert twice") }
            if row.count < max(1, minimumPerLayer) {
                throw PruningError.badKeep(
                    k: row.count, layer: signature.sparseLayers[l], experts: originalCounts[l], minimum: minimumPerLayer
                )
            }
        }
    }
}

/// Bad pruning requests.
public enum PruningError: InputError, Equatable {
    case badKeep(k: Int, layer: Int, experts: Int, minimum: Int)
    case thresholdKeepsTooFew(tau: Double, layer: Int, kept: Int, minimum: Int)
    case noSuchExpert(expert: Int, layer: Int, experts: Int)
    case planMismatch(String)
    /// A plan file that is not a plan (`PruningPlan.read(from:)`).
    case unreadablePlan(file: String, reason: String)
    /// A sweep's resume state that does not fit this sweep (`PrunabilitySweep.Progress`).
    case resumeMismatch(reason: String)
    /// A sweep's resume state file that cannot be read (`SweepResumeState`).
    case badSweepState(file: String, reason: String)

    public var description: String {
        switch self {
        case .badKeep(let k, let layer, let n, let minimum):
            return
                "cannot keep \(k) experts in layer \(layer): it has \(n) experts and routing needs at least \(minimum)"
        case .thresholdKeepsTooFew(let tau, let layer, let kept, let minimum):
            return "threshold τ = \(tau) keeps \(kept) expert(s) in layer \(layer); routing needs at least \(minimum)"
        case .noSuchExpert(let e, let layer, let n):
            return "expert \(e) does not exist in layer \(layer) (it has \(n) experts)"
        case .planMismatch(let reason):
            return "pruning plan does not fit the model: \(reason)"
        case .unreadablePlan(let file, let reason):
            return "\(file): not a pruning plan: \(reason)"
        case .resumeMismatch(let reason):
            return "cannot resume the sweep: \(reason) (run without --resume to start over)"
        case .badSweepState(let file, let reason):
            return "\(file): not a sweep resume state: \(reason) (run without --resume to start over)"
        }
    }
}
