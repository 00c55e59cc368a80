// TEMPORARY stand-in for the `tasks` branch's Classification API (same public signatures). Delete
// this file once `tasks` is merged into main and main into `realign`.
import Foundation
import MoEModels
import TensorCore

public struct ClassificationResult: Sendable, Codable {
    public var accuracy: Double
    public var examples: Int
    public var predictions: [Int]
    public var probabilities: [[Double]]
    public var scores: [[Double]]
}

public struct PromptTemplate: Sendable, Codable, Equatable {
    public var template: String
    public var verbalizers: [String]

    public init(template: String, verbalizers: [String]) {
        self.template = template
        self.verbalizers = verbalizers
    }

    public static func defaults(for task: ClassificationTask) -> PromptTemplate {
        let p = ClassificationPrompt.standard(for: task)
        return PromptTemplate(template: p.template, verbalizers: p.verbalizers)
    }

    public func prompt(for example: ClassificationExample) -> String {
        ClassificationPrompt(template: template, verbalizers: verbalizers).render(example)
    }
}

public enum Classification {
    public static func evaluate(
        model: MoEModel, tokenizer: Tokenizer, examples: [ClassificationExample], task: ClassificationTask,
        template: PromptTemplate? = nil, maxLength: Int = 512, batchSize: Int = 8, observer: RoutingObserver? = nil,
        progress: ((Int, Int) -> Bool)? = nil
    ) throws -> ClassificationResult {
        let template = template ?? PromptTemplate.defaults(for: task)
        let prompt = ClassificationPrompt(template: template.template, verbalizers: template.verbalizers)
        let result = try VerbalizerScorer(encoder: tokenizer, prompt: prompt, maxLength: maxLength).evaluate(
            model: model, examples: examples, batchSize: batchSize)
        return ClassificationResult(
            accuracy: result.accuracy, examples: result.examples, predictions: result.predictions,
            probabilities: result.probabilities, scores: result.scores)
    }
}
