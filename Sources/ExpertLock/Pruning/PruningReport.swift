import MoEModels

/// Size of a model before and after pruning: parameters, bytes on disk, and parameters active per
/// token (everything outside the routed experts, plus top-k routed experts per sparse layer).
public struct ModelSize: Sendable, Codable, Equatable {
    public var parameters: Int
    public var bytes: Int
    public var activeParametersPerToken: Int

    public init(model: MoEModel, bytesPerParameter: Int) {
        var total = 0
        var expertTotal = 0
        var activeExperts = 0
        for block in model.moeBlocks {
            // Inner pruning may leave experts of different sizes: active counts take their mean.
            let sizes = block.experts.map { $0.parameters.map(\.elementCount).reduce(0, +) }
            let layerTotal = sizes.reduce(0, +)
            expertTotal += layerTotal
            activeExperts +=
                block.expertCount == 0 ? 0 : layerTotal * min(block.topK, block.expertCount) / block.expertCount
        }
        for p in model.parameters { total += p.elementCount }
        parameters = total
        bytes = total * bytesPerParameter
        activeParametersPerToken = total - expertTotal + activeExperts
    }
}
