import MoEModels
import TensorCore

/// A `RoutingObserver` that adds every routing decision of a forward pass into per-layer,
/// per-expert sufficient statistics. Memory is O(layers × experts), independent of corpus size.
public final class AttributionCollector: RoutingObserver {
    /// statistics[l][e] for sparse layer index l (model layer `layerIndices[l]`).
    public private(set) var statistics: [[ExpertStatistics]]
    public let layerIndices: [Int]
    public private(set) var tokens: Int64 = 0
    private let position: [Int: Int]
    /// Per sparse layer: the soft mass is the applied routing weight (a biased router), not the probability.
    public let softMassIsApplied: [Bool]

    public convenience init(model: MoEModel) {
        let blocks = model.moeBlocks
        self.init(
            layerIndices: blocks.map(\.layer), expertCounts: blocks.map(\.expertCount),
            softMassIsApplied: blocks.map { $0.biasedRouter != nil })
    }

    /// Statistics for sparse layers named by their model layer index (an encoder-decoder numbers both stacks).
    /// `softMassIsApplied[l]`: layer l's soft mass is its applied routing weight (nil: softmax routers, all false).
    public init(layerIndices: [Int], expertCounts: [Int], softMassIsApplied: [Bool]? = nil) {
        self.layerIndices = layerIndices
        statistics = expertCounts.map { [ExpertStatistics](repeating: ExpertStatistics(), count: $0) }
        position = Dictionary(uniqueKeysWithValues: layerIndices.enumerated().map { ($1, $0) })
        self.softMassIsApplied = softMassIsApplied ?? layerIndices.map { _ in false }
    }

    /// Counts the valid tokens of a batch (call once per batch; layers see the same tokens).
    public func countTokens(of batch: TokenBatch) {
        tokens += Int64((0..<batch.tokenCount).filter { batch.isValid(row: $0) }.count)
    }

    public func observeRouting(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor, batch: TokenBatch) {
        guard let l = position[layer] else { return }
        let e = probabilities.lastDim
        let k = weights.lastDim
        var stats = statistics[l]
        let applied = softMassIsApplied[l]
        probabilities.withUnsafeBufferPointer { p in
            weights.withUnsafeBufferPointer { w in
                for row in 0..<probabilities.rows where batch.isValid(row: row) {
                    for j in 0..<e {
                        let affinity = ExpertStatistics.fixedProbability(p[row * e + j])
                        stats[j].affinityMassFixed += affinity
                        if !applied { stats[j].softMassFixed += affinity }
                    }
                    for s in 0..<k {
                        let expert = experts[row * k + s]
                        let weight = ExpertStatistics.fixedProbability(w[row * k + s])
                        stats[expert].frequency += 1
                        stats[expert].gateMassFixed += weight
                        if applied { stats[expert].softMassFixed += weight }
                    }
                }
            }
        }
        statistics[l] = stats
        currentLayer = layer
        currentWeights = weights
    }

    public func observeExpertOutput(
        layer: Int, expert: Int, rows: [Int], slots: [Int], outputNorms: [Float], batch: TokenBatch
    ) {
        // REAP needs g · ‖y‖: the gate weights are those observeRouting just saw for this layer.
        guard let l = position[layer], let w = currentWeights, currentLayer == layer else { return }
        var sum: Int64 = 0
        for (i, row) in rows.enumerated() where batch.isValid(row: row) {
            sum += ExpertStatistics.fixedNorm(Double(w.data[slots[i]]) * Double(outputNorms[i]))
        }
        statistics[l][expert].reapSumFixed += sum
    }

    private var currentWeights: Tensor?
    private var currentLayer = -1
}
