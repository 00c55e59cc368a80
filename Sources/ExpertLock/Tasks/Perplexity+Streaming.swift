import Foundation
import MoEModels
import TensorCore

extension Perplexity {
    /// `evaluate`, layer by layer (`LayerStreaming`): the same windows in the same batches, every
    /// batch through layer l before layer l + 1 is read, for a checkpoint larger than memory (load
    /// it with `WeightResidency.read`). Log-likelihoods are added in the same order, so the result
    /// equals `evaluate`'s up to rounding (see `Classification.evaluateStreaming`). `progress` hears
    /// about stages (embedding, layers, output head).
    public static func evaluateStreaming(
        model: MoEModel, ids: [Int], parameters: Parameters = Parameters(), observer: RoutingObserver? = nil,
        streaming: LayerStreaming.Parameters = LayerStreaming.Parameters(),
        progress: ((LayerStreaming.Progress) -> Void)? = nil
    ) throws -> Result {
        let stride = try validatedStride(ids: ids, parameters: parameters)
        let groups = batches(ids: ids, context: parameters.context, stride: stride, batchSize: parameters.batchSize)
        var totalNLL = 0.0
        var scored = 0
        try LayerStreaming.forward(
            model: model, batches: groups.map(\.batch), observer: observer, parameters: streaming,
            finalHidden: { i, hidden in
                let lp = try model.headScores(rows: groups[i].rows, of: hidden, targets: groups[i].targets)
                    .logProbabilities
                totalNLL -= lp.reduce(0, +)
                scored += lp.count
            }, progress: progress)
        let mean = totalNLL / Double(max(scored, 1))
        guard mean.isFinite else { throw TaskError.nonFinite(what: "token log-probabilities") }
        return Result(perplexity: exp(mean), nll: mean, tokens: scored)
    }
}
