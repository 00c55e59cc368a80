import Foundation
import MoEModels
import TensorCore

extension Attribution {
    /// `run`, layer by layer (`LayerStreaming`): every batch goes through layer l before layer l + 1
    /// is read, so a checkpoint larger than memory can be attributed (load it with
    /// `WeightResidency.read`). The collector sees the same routing decisions as `run` and its sums
    /// are exact integers, so the result equals `run`'s. There is no early stop: a partial pass
    /// would have counted some layers and not others.
    public static func runStreaming(
        model: MoEModel, modelPath: String, batches: [TokenBatch], criterion: AttributionCriterion = .soft,
        parameters: LayerStreaming.Parameters = LayerStreaming.Parameters(),
        progress: ((LayerStreaming.Progress) -> Void)? = nil
    ) throws -> ExpertAttribution {
        let collector = AttributionCollector(model: model)
        for batch in batches { collector.countTokens(of: batch) }
        try LayerStreaming.forward(
            model: model, batches: batches, observer: collector, parameters: parameters, progress: progress)
        var attribution = ExpertAttribution(
            model: modelPath, signature: ModelSignature(model: model), tokens: collector.tokens,
            statistics: collector.statistics, criterion: criterion)
        attribution.softMassIsApplied = collector.softMassIsApplied
        return attribution
    }
}
