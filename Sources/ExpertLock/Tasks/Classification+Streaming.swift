import Foundation
import MoEModels
import TensorCore

extension Classification {
    /// `evaluate`, layer by layer (`LayerStreaming`): the same sequences in the same padded batches
    /// (all classes of `batchSize` examples), every batch through layer l before layer l + 1 is
    /// read, for a checkpoint larger than memory (load it with `WeightResidency.read`). Scores are
    /// summed in the same order, so the result equals `evaluate`'s up to rounding (`evaluate` runs a
    /// long batch through the layers a few sequences at a time; OpenBLAS rounds some rows of a smaller
    /// product differently, by a few ulp). No early stop.
    public static func evaluateStreaming(
        model: MoEModel, tokenizer: Tokenizer, examples: [ClassificationExample], task: ClassificationTask,
        template: PromptTemplate? = nil, maxLength: Int = 512, batchSize: Int = 8, observer: RoutingObserver? = nil,
        streaming: LayerStreaming.Parameters = LayerStreaming.Parameters(),
        progress: ((LayerStreaming.Progress) -> Void)? = nil
    ) throws -> ClassificationResult {
        let template = try validatedTemplate(template, task: task, maxLength: maxLength, batchSize: batchSize)
        let classes = template.verbalizers.count
        let chunks = stride(from: 0, to: examples.count, by: batchSize).map {
            classSequences(
                examples[$0..<min($0 + batchSize, examples.count)], template: template, tokenizer: tokenizer,
                maxLength: maxLength)
        }
        let batches = chunks.map { TokenBatch(padding: $0.map(\.ids), pad: 0) }
        var scores: [[Double]] = []
        try LayerStreaming.forward(
            model: model, batches: batches, observer: observer, parameters: streaming,
            finalHidden: { i, hidden in
                let sums = try sums(model: model, hidden: hidden, batch: batches[i], sequences: chunks[i])
                for e in 0..<(chunks[i].count / classes) {
                    scores.append(Array(sums[(e * classes)..<((e + 1) * classes)]))
                }
            }, progress: progress)
        let tokens = chunks.reduce(0) { $0 + $1.reduce(0) { $0 + $1.ids.count } }
        return try result(scores: scores, examples: examples, tokens: tokens)
    }
}
