import Foundation
import MoEModels
import TensorCore

/// Identifies the expert layout an attribution belongs to, so that a file made on one model is
/// refused for another.
public struct ModelSignature: Sendable, Codable, Equatable {
    public var modelType: String
    public var layers: Int
    /// Model layer index of each sparse layer.
    public var sparseLayers: [Int]
    public var expertsPerLayer: [Int]
    public var hiddenSize: Int
    public var vocabSize: Int

    public init(model: MoEModel) {
        modelType = model.config.modelType
        layers = model.config.numHiddenLayers
        sparseLayers = model.moeBlocks.map(\.layer)
        expertsPerLayer = model.moeBlocks.map(\.expertCount)
        hiddenSize = model.config.hiddenSize
        vocabSize = model.config.vocabSize
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", layers, sparseLayers = "sparse_layers", expertsPerLayer = "experts_per_layer"
        case hiddenSize = "hidden_size", vocabSize = "vocab_size"
    }
}

/// Expert attribution of a model over a corpus: per sparse layer and expert, the sufficient
/// statistics, and from them shares and rankings under each criterion.
public struct ExpertAttribution: Sendable, Equatable {
    public var model: String
    public var signature: ModelSignature
    public var tokens: Int64
    /// statistics[l][e] for sparse layer l (model layer `signature.sparseLayers[l]`).
    public var statistics: [[ExpertStatistics]]
    /// The criterion that `share` and `globalRanking` use when written.
    public var criterion: AttributionCriterion
    /// Measured loss increase of masking each expert alone (criterion `ablation`), when measured.
    public var ablation: [[Double]]?
    /// `ModelFolderIdentity` of the model folder the statistics come from, when known: shards of
    /// two models with the same shapes (a model and its fine-tuned copy) must not merge.
    public var modelFingerprint: String?
    /// Where the statistics come from when not (only) from a model run: routing traces
    /// (`TraceAttribution`). nil: a model run.
    public var source: AttributionSource?
    /// Per sparse layer, whether soft mass is the applied routing weight (biased routers) rather than the
    /// softmax probability (`AttributionCollector.softMassIsApplied`); nil when unknown (older files, traces).
    public var softMassIsApplied: [Bool]?

    public init(
        model: String, signature: ModelSignature, tokens: Int64, statistics: [[ExpertStatistics]],
        criterion: AttributionCriterion = .soft, ablation: [[Double]]? = nil
    ) {
        self.model = model
        self.signature = signature
        self.tokens = tokens
        self.statistics = statistics
        self.criterion = criterion
        self.ablation = ablation
    }

    /// Raw scores [l][e] under a criterion.
    public func scores(_ criterion: AttributionCriterion) -> [[Double]] {
        if criterion == .ablation { return ablation ?? statistics.map { $0.map { _ in 0 } } }
        return statistics.map { $0.map { criterion.score($0) } }
    }

    /// Per-layer shares under a criterion: scores normalised to sum to 1 within each layer
    /// (uniform when a layer's scores are all zero). For `soft` this is the paper's A_i.
    public func shares(_ criterion: AttributionCriterion) -> [[Double]] {
        scores(criterion).map { row in
            let positive = row.map { max($0, 0) }
            let total = positive.reduce(0, +)
            return total > 0 ? positive.map { $0 / total } : row.map { _ in 1 / Double(max(row.count, 1)) }
        }
    }

    /// Per layer, each expert's share of the routing weight the router applied (after selection,
    /// renormalisation and routed scaling) and its share of the pre-selection affinities (softmax
    /// probabilities, or sigmoid scores without the selection bias). Each sums to 1 per layer.
    public func appliedShares() -> [[Double]] { Self.normalized(statistics.map { $0.map(\.gateMass) }) }
    public func affinityShares() -> [[Double]] { Self.normalized(statistics.map { $0.map(\.affinityMass) }) }

    static func normalized(_ rows: [[Double]]) -> [[Double]] {
        rows.map { row in
            let total = row.reduce(0, +)
            return total > 0 ? row.map { $0 / total } : row.map { _ in 1 / Double(max(row.count, 1)) }
        }
    }

    /// Experts of one layer from most to least important (ties: lower index first).
    public func ranking(layer l: Int, criterion: AttributionCriterion) -> [Int] {
        let s = scores(criterion)[l]
        return s.indices.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }
    }

    /// (sparse layer position, expert) pairs from most to least important, pooled over layers by
    /// share: a layer whose routing is concentrated keeps more experts under a global budget.
    public func globalRanking(criterion: AttributionCriterion) -> [(layer: Int, expert: Int)] {
        let sh = shares(criterion)
        var pairs: [(layer: Int, expert: Int, share: Double)] = []
        for (l, row) in sh.enumerated() { for (e, v) in row.enumerated() { pairs.append((l, e, v)) } }
        pairs.sort { $0.share != $1.share ? $0.share > $1.share : ($0.layer, $0.expert) < ($1.layer, $1.expert) }
        return pairs.map { ($0.layer, $0.expert) }
    }

    /// Adds the statistics of another shard of the same model. Exact: see ExpertStatistics.
    public func merged(with other: ExpertAttribution) throws -> ExpertAttribution {
        guard other.signature == signature else {
            throw AttributionError.differentModels(first: model, second: other.model)
        }
        if let mine = modelFingerprint, let theirs = other.modelFingerprint, mine != theirs {
            throw AttributionError.differentModels(first: model, second: other.model)  // same shapes, other weights
        }
        // Sums read from files can be anything up to Int64.max: overflow is an error, not a trap.
        func add(_ a: Int64, _ b: Int64) throws -> Int64 {
            let (sum, overflow) = a.addingReportingOverflow(b)
            if overflow { throw AttributionError.mergeOverflow(first: model, second: other.model) }
            return sum
        }
        var out = self
        out.tokens = try add(tokens, other.tokens)
        out.statistics = try zip(statistics, other.statistics).map { row, otherRow in
            try zip(row, otherRow).map { a, b in
                var s = ExpertStatistics()
                s.softMassFixed = try add(a.softMassFixed, b.softMassFixed)
                s.frequency = try add(a.frequency, b.frequency)
                s.gateMassFixed = try add(a.gateMassFixed, b.gateMassFixed)
                s.reapSumFixed = try add(a.reapSumFixed, b.reapSumFixed)
                s.affinityMassFixed = try add(a.affinityMassFixed, b.affinityMassFixed)
                return s
            }
        }
        out.ablation = nil  // measured drops do not add
        out.modelFingerprint = modelFingerprint ?? other.modelFingerprint
        if source != nil || other.source != nil {
            // A sum one side lacks would be partial: it is cleared, and the criterion is one both support.
            let merged = (source ?? .model).merged(with: other.source ?? .model)
            out.source = merged
            out.statistics = out.statistics.map { row in
                row.map { s in
                    var s = s
                    if !merged.criteria.contains(.soft) {
                        s.softMassFixed = 0
                        s.gateMassFixed = 0
                        s.affinityMassFixed = 0
                    }
                    if !merged.criteria.contains(.reap) { s.reapSumFixed = 0 }
                    return s
                }
            }
            if !merged.criteria.contains(out.criterion) { out.criterion = merged.criteria.first ?? .frequency }
        }
        return out
    }
}

/// Problems with attribution files and their use.
public enum AttributionError: InputError, Equatable {
    case unreadable(file: String, reason: String)
    case differentModels(first: String, second: String)
    case mismatch(file: String, reason: String)
    case mergeOverflow(first: String, second: String)
    /// A resume state file (`AttributionResumeState`) that cannot be read.
    case badState(file: String, reason: String)
    /// A resume state written for another model, corpus or setting.
    case resumeMismatch(file: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): not an ExpertLock attribution file: \(reason)"
        case .differentModels(let a, let b): return "attributions of different models cannot be merged (\(a) vs \(b))"
        case .mismatch(let file, let reason): return "\(file): attribution does not belong to this model: \(reason)"
        case .mergeOverflow(let a, let b):
            return "merging the attributions of \(a) and \(b) overflows their statistics (a corrupt file?)"
        case .badState(let file, let reason): return "\(file): not an attribution resume state: \(reason)"
        case .resumeMismatch(let file, let reason):
            return "\(file): cannot resume from this state: \(reason) (run without --resume to start over)"
        }
    }
}
