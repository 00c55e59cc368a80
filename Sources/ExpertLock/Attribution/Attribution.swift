import Foundation
import MoEModels
import TensorCore

/// Runs a model over token batches and gathers expert attribution statistics
/// (one forward pass per batch, no graph: memory is one batch of activations).
public enum Attribution {
    /// `progress` receives (batches done, total, tokens so far) and may return false to stop early.
    public static func run(
        model: MoEModel, modelPath: String, batches: [TokenBatch], criterion: AttributionCriterion = .soft,
        progress: ((Int, Int, Int64) -> Bool)? = nil
    ) throws -> ExpertAttribution {
        let collector = AttributionCollector(model: model)
        for (i, batch) in batches.enumerated() {
            collector.countTokens(of: batch)
            _ = try model.finalHiddenStates(batch, observer: collector)  // routing only: no output head
            if let progress, !progress(i + 1, batches.count, collector.tokens) { break }
        }
        var attribution = ExpertAttribution(
            model: modelPath, signature: ModelSignature(model: model), tokens: collector.tokens,
            statistics: collector.statistics, criterion: criterion)
        attribution.softMassIsApplied = collector.softMassIsApplied
        return attribution
    }
}
