import Foundation
import MoEModels
import Testing

@testable import ExpertLock

/// `EvaluationTask`: one task type gives the attribution sequences, the metric with its direction
/// and the evaluation, the same as the task functions it is built on.
struct EvaluationTaskTests {
    @Test func tokenIdsAreCutIntoContextSequencesUpToTheLimit() throws {
        let ids = Array(0..<25)
        let task = try EvaluationTask(
            kind: .perplexity, examples: .ids(ids), tokenizer: nil, file: "ids", context: 10, batchSize: 2, limit: 2)
        #expect(task.sequences() == [Array(0..<10), Array(10..<20)])
        #expect(task.perplexityIds == Array(0..<20))
        #expect(task.metric == .perplexity && !task.metric.higherIsBetter)
        #expect(task.chanceLevel == nil)
        let all = try EvaluationTask(
            kind: .perplexity, examples: .ids(ids), tokenizer: nil, file: "ids", context: 10, batchSize: 2)
        #expect(all.sequences().map(\.count) == [10, 10, 5])
    }

    @Test func classificationSequencesAndMetricAreTheTaskFunctions() throws {
        let fixtures = try TaskFixtures.load()
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let c = try #require(fixtures.cases.first { $0.model == "mixtral_f32_gqa2" })
        let examples = c.classificationExamples
        let task = try EvaluationTask(
            kind: .classify, examples: .classification(c.classificationTask, examples), tokenizer: tokenizer,
            file: "dev", context: c.max_length, batchSize: 4)
        let template = PromptTemplate.defaults(for: c.classificationTask)
        let expected = examples.compactMap { e in
            e.label.map {
                TaskSequences.classification(
                    e, label: $0, template: template, tokenizer: tokenizer, maxLength: c.max_length
                ).ids
            }
        }
        #expect(task.sequences() == expected)
        #expect(task.metric == .accuracy && task.metric.higherIsBetter)
        #expect(task.chanceLevel == 1 / Double(c.classificationTask.labelNames.count))
        let direct = try Classification.evaluate(
            model: model, tokenizer: tokenizer, examples: examples, task: c.classificationTask,
            maxLength: c.max_length, batchSize: 4)
        #expect(try task.evaluate(model) == direct.accuracy)
        // The pool of re-alignment scores the same held-out set (labelled examples: the oracle needs labels).
        let labelled = examples.filter { $0.label != nil }
        let heldOut = try EvaluationTask(
            kind: .classify, examples: .classification(c.classificationTask, labelled), tokenizer: tokenizer,
            file: "dev", context: c.max_length, batchSize: 4)
        let accuracy = try Classification.evaluate(
            model: model, tokenizer: tokenizer, examples: labelled, task: c.classificationTask,
            maxLength: c.max_length, batchSize: 4
        ).accuracy
        #expect(try heldOut.classificationPool(pool: heldOut).evaluate(model: model) == accuracy)
        #expect(try heldOut.evaluate(model) == accuracy)
    }

    @Test func perplexityOfTextIsTheWindowedPerplexityOfItsTokens() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let text = "the movie was great . the plot was bad . a fine film"
        let task = try EvaluationTask(
            kind: .perplexity, examples: .text(text), tokenizer: tokenizer, file: "lm.txt", context: 6, batchSize: 2)
        let ids = tokenizer.encode(text)
        #expect(task.sequences() == CorpusBatches.chunks(ids, length: 6))
        let direct = try Perplexity.evaluate(model: model, ids: ids, parameters: .init(context: 6, batchSize: 2))
        #expect(try task.evaluate(model) == direct.perplexity)
    }

    @Test func dataOfAnotherTaskIsRefusedNamingTheFile() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        #expect(throws: TaskError.dataMismatch(file: "x.jsonl", kind: .classify)) {
            try EvaluationTask(
                kind: .classify, examples: .summarization([]), tokenizer: tokenizer, file: "x.jsonl", context: 8,
                batchSize: 1)
        }
        #expect(throws: TaskError.dataMismatch(file: "t.txt", kind: .perplexity)) {
            try EvaluationTask(
                kind: .perplexity, examples: .text("a b"), tokenizer: nil, file: "t.txt", context: 8, batchSize: 1)
        }
    }
}
