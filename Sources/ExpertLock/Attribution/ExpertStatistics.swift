/// Sufficient statistics of one expert over a corpus.
///
/// Sums are kept in fixed point (Int64 counts of 2⁻³² for probabilities, 2⁻²⁴ for output norms) so
/// that addition is associative: statistics gathered in shards and merged equal one run over the
/// whole corpus bit for bit, whatever the batch order. The resolution (2.3e-10 per token for a
/// probability) is far below anything a ranking can see.
public struct ExpertStatistics: Sendable, Equatable, Codable {
    /// Soft mass, summed over all tokens. For a softmax → top-k router (Mixtral, Qwen, OLMoE) the dense softmax
    /// probability p_ti (the paper's soft mass); for a router whose choice differs from its weights (sigmoid
    /// scores with a selection bias, groups, routed scaling: DeepSeek-V2/V3, GLM, MiniMax, ERNIE) the routing
    /// weight it actually applies (0 where the expert is not chosen), since its scores are not a distribution
    /// and the bias, not the score, decides the choice. Per layer its shares sum to 1 either way.
    public var softMassFixed: Int64 = 0
    /// Σ_t of the router's pre-selection score of this expert (softmax probability, or sigmoid score without
    /// the selection bias): the affinity the router has for the expert before it chooses.
    public var affinityMassFixed: Int64 = 0
    /// Number of (token, slot) pairs that chose this expert (hard top-k frequency).
    public var frequency: Int64 = 0
    /// Σ over routed tokens of the gate weight g_ti actually applied.
    public var gateMassFixed: Int64 = 0
    /// Σ over routed tokens of g_ti · ‖expert output‖₂ (REAP numerator).
    public var reapSumFixed: Int64 = 0

    public static let probabilityScale = Double(1 << 32)
    public static let normScale = Double(1 << 24)

    public init() {}

    public var softMass: Double { Double(softMassFixed) / Self.probabilityScale }
    public var gateMass: Double { Double(gateMassFixed) / Self.probabilityScale }
    public var affinityMass: Double { Double(affinityMassFixed) / Self.probabilityScale }
    public var reapSum: Double { Double(reapSumFixed) / Self.normScale }
    /// REAP score: mean over routed tokens of gate × ‖output‖ (0 for an expert never chosen).
    public var reap: Double { frequency == 0 ? 0 : reapSum / Double(frequency) }

    @inline(__always) static func fixedProbability(_ p: Float) -> Int64 {
        Int64((Double(p) * probabilityScale).rounded())
    }
    @inline(__always) static func fixedNorm(_ x: Double) -> Int64 { Int64((x * normScale).rounded()) }

    public static func + (a: ExpertStatistics, b: ExpertStatistics) -> ExpertStatistics {
        var s = a
        s.softMassFixed += b.softMassFixed
        s.frequency += b.frequency
        s.gateMassFixed += b.gateMassFixed
        s.reapSumFixed += b.reapSumFixed
        s.affinityMassFixed += b.affinityMassFixed
        return s
    }

    enum CodingKeys: String, CodingKey { case softMassFixed, affinityMassFixed, frequency, gateMassFixed, reapSumFixed }

    /// States saved before the affinity sum existed read it as the soft mass, which it then was.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        softMassFixed = try c.decode(Int64.self, forKey: .softMassFixed)
        affinityMassFixed = try c.decodeIfPresent(Int64.self, forKey: .affinityMassFixed) ?? softMassFixed
        frequency = try c.decode(Int64.self, forKey: .frequency)
        gateMassFixed = try c.decode(Int64.self, forKey: .gateMassFixed)
        reapSumFixed = try c.decode(Int64.self, forKey: .reapSumFixed)
    }
}

/// How an expert's importance is scored.
public enum AttributionCriterion: String, Sendable, Codable, CaseIterable {
    /// Soft routing mass A_i = Σ_t g_ti / Σ_j Σ_t g_tj (the paper's eq. for attribution); g is the softmax
    /// probability, or the applied routing weight for routers whose choice differs from their weights (see
    /// `ExpertStatistics.softMassFixed`).
    case soft
    /// Hard top-k selection frequency (the paper's eq. 1).
    case frequency
    /// Output-aware REAP score: mean gate × ‖expert output‖ over routed tokens.
    case reap
    /// Measured loss increase when the expert alone is masked (`--criterion ablation`).
    case ablation

    /// The raw score of one expert under this criterion (ablation scores come from elsewhere).
    public func score(_ s: ExpertStatistics) -> Double {
        switch self {
        case .soft: return s.softMass
        case .frequency: return Double(s.frequency)
        case .reap: return s.reap
        case .ablation: return 0
        }
    }
}
