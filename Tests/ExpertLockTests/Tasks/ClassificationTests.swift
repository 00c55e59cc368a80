import Foundation
import MoEModels
import Testing

@testable import ExpertLock

/// Classification through the LM against transformers' class log-likelihoods on fixture models.
struct ClassificationTests {
    static let modelNames = ["mixtral_f32_gqa2", "qwen3_moe_f32_headdim"]

    /// Token sequences (prompt + verbalizer, split like lm-evaluation-harness, truncated from the
    /// left) equal the script's.
    @Test func sequencesMatchTheReference() throws {
        let fixtures = try TaskFixtures.load()
        let tokenizer = try TaskFixtures.tokenizer()
        for c in fixtures.cases {
            let template = PromptTemplate.defaults(for: c.classificationTask)
            for (example, reference) in zip(c.classificationExamples, c.examples) {
                #expect(template.prompt(for: example) == reference.prompt)
                for (label, sequence) in reference.sequences.enumerated() {
                    let built = TaskSequences.classification(
                        example, label: label, template: template, tokenizer: tokenizer, maxLength: c.max_length)
                    #expect(built.ids == sequence.ids, "\(c.task) \(example.text) label \(label)")
                    #expect(built.targetStart == sequence.target_start)
                }
            }
        }
    }

    /// Class scores equal transformers' to 1e-4; predictions, probabilities and accuracy follow.
    @Test(arguments: modelNames)
    func scoresMatchTransformers(_ name: String) throws {
        let fixtures = try TaskFixtures.load()
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model(name))
        for c in fixtures.cases where c.model == name {
            let examples = c.classificationExamples
            // batchSize 4: several examples of different lengths padded into one batch.
            let result = try Classification.evaluate(
                model: model, tokenizer: tokenizer, examples: examples, task: c.classificationTask,
                maxLength: c.max_length, batchSize: 4)
            #expect(result.examples == examples.count)
            var correct = 0
            for (i, reference) in c.examples.enumerated() {
                let difference = zip(result.scores[i], reference.scores).map { abs($0 - $1) }.max() ?? .infinity
                #expect(result.scores[i].count == reference.scores.count)
                #expect(difference <= 1e-4, "\(name) \(c.task) L=\(c.max_length) example \(i): \(difference)")
                let best = reference.scores.indices.max { reference.scores[$0] < reference.scores[$1] }!
                #expect(result.predictions[i] == best)
                #expect(abs(result.probabilities[i].reduce(0, +) - 1) < 1e-12)
                if reference.label == best { correct += 1 }
            }
            let labeled = c.examples.filter { $0.label != nil }.count
            #expect(result.labeled == labeled)
            #expect(abs(result.accuracy - Double(correct) / Double(labeled)) < 1e-12)
        }
    }

    @Test func batchingDoesNotChangeScores() throws {
        let fixtures = try TaskFixtures.load()
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let c = try #require(fixtures.cases.first { $0.task == "mnli" && $0.max_length == 512 })
        let one = try Classification.evaluate(
            model: model, tokenizer: tokenizer, examples: c.classificationExamples, task: .mnli, batchSize: 1)
        let all = try Classification.evaluate(
            model: model, tokenizer: tokenizer, examples: c.classificationExamples, task: .mnli, batchSize: 16)
        for (a, b) in zip(one.scores, all.scores) {
            #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
        #expect(one.tokens == all.tokens)
    }

    @Test func progressCanStopEarly() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let examples = (0..<5).map { ClassificationExample(id: $0, text: "a good movie", label: $0 % 2) }
        var calls: [(Int, Int)] = []
        let result = try Classification.evaluate(
            model: model, tokenizer: tokenizer, examples: examples, task: .sst2, batchSize: 2
        ) { done, total in
            calls.append((done, total))
            return done < 4
        }
        #expect(calls.map(\.0) == [2, 4] && calls.allSatisfy { $0.1 == 5 })
        #expect(result.examples == 4 && result.predictions.count == 4 && result.labeled == 4)
    }

    @Test func wrongVerbalizerCountIsAnInputError() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let template = PromptTemplate(template: "{text}\nAnswer:", verbalizers: [" yes", " no"])
        #expect(throws: PromptTemplateError.labelCount(file: nil, task: "mnli", labels: 3, verbalizers: 2)) {
            try Classification.evaluate(
                model: model, tokenizer: tokenizer, examples: [ClassificationExample(id: 0, text: "a")], task: .mnli,
                template: template)
        }
        #expect(throws: TaskError.self) {
            try Classification.evaluate(
                model: model, tokenizer: tokenizer, examples: [], task: .sst2, batchSize: 0)
        }
    }

    @Test func softmaxOfScores() {
        let p = Classification.softmax([-1000, -1000 + log(3.0)])
        #expect(abs(p[0] - 0.25) < 1e-12 && abs(p[1] - 0.75) < 1e-12)
        #expect(Classification.softmax([]).isEmpty)
    }
}
