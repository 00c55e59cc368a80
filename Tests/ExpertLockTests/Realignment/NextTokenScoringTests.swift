import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Single-token verbalizers are scored from one forward per prompt: the same class log-likelihoods
/// as one sequence per class (causal attention), within float rounding; other shapes fall back.
struct NextTokenScoringTests {
    @Test func classificationSingleTokenPathEqualsOneSequencePerClass() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let examples = ClassificationPoolTests.sentences()
        let template = PromptTemplate.defaults(for: .sst2)
        let sequences = Classification.classSequences(
            examples[...], template: template, tokenizer: tokenizer, maxLength: 32)
        #expect(sequences.allSatisfy { $0.ids.count == $0.targetStart + 1 }, "the fixture's verbalizers are one token")
        let fast = try #require(
            try Classification.nextTokenLogLikelihoods(model: model, sequences: sequences, classes: 2))
        let slow = try Classification.logLikelihoods(model: model, sequences: sequences)
        #expect(fast.count == slow.count)
        #expect(zip(fast, slow).allSatisfy { abs($0 - $1) <= 1e-4 }, "\(zip(fast, slow).map { abs($0 - $1) }.max()!)")
        // A two-token target, or prompts that differ between the classes of an example: no fast path.
        let long = [(ids: [1, 2, 3, 4], targetStart: 2), (ids: [1, 2, 5, 6], targetStart: 2)]
        #expect(try Classification.nextTokenLogLikelihoods(model: model, sequences: long, classes: 2) == nil)
        let differ = [(ids: [1, 2, 3], targetStart: 2), (ids: [1, 7, 5], targetStart: 2)]
        #expect(try Classification.nextTokenLogLikelihoods(model: model, sequences: differ, classes: 2) == nil)
    }

    /// VerbalizerScorer with one-character verbalizers takes the fast path; its scores and pooled
    /// embeddings equal those of one sequence per class through SequenceScorer.
    @Test func verbalizerScorerSingleTokenPathEqualsOneSequencePerClass() throws {
        let prompt = ClassificationPrompt(template: "{text} =", verbalizers: ["n", "o"])
        let examples = RealignmentFixtures.pool
        let encoder = CharacterEncoder(texts: examples.map(\.text) + [prompt.template] + prompt.verbalizers)
        let model = try TrainingFixtures.microModel(vocab: encoder.vocabSize, seed: 3)
        let scorer = VerbalizerScorer(encoder: encoder, prompt: prompt, maxLength: 24)
        let fast = try #require(
            try scorer.nextTokenScores(model: model, examples: examples, batchSize: 4, embeddings: true))
        var sequences: [SequenceScorer.Sequence] = []
        for e in examples {
            for c in 0..<2 {
                let s = try #require(scorer.sequence(e, label: c))
                sequences.append(
                    SequenceScorer.Sequence(ids: s.ids, firstTarget: s.firstTarget, pooledLength: s.firstTarget))
            }
        }
        let slow = try SequenceScorer.score(
            model: model, sequences: sequences, batchSize: 8, entropy: false, embeddings: true)
        for (e, scores) in fast.scores.enumerated() {
            for c in 0..<2 { #expect(abs(scores[c] - slow[2 * e + c].logLikelihood) <= 1e-4) }
            let a = try #require(fast.embeddings?[e]), b = try #require(slow[2 * e].embedding)
            #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
        #expect(try scorer.evaluate(model: model, examples: examples, batchSize: 4).scores == fast.scores)
        // Multi-character verbalizers (the fixture's " no" / " ok"): the sequence-per-class path.
        let multi = VerbalizerScorer(encoder: encoder, prompt: RealignmentFixtures.prompt, maxLength: 24)
        #expect(try multi.nextTokenScores(model: model, examples: examples, batchSize: 4, embeddings: false) == nil)
    }
}
