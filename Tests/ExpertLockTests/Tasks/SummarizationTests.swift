import Foundation
import MoEModels
import Testing

@testable import ExpertLock

/// The decode loop of summarization on a fixture model with the fixture WordLevel tokenizer (whose
/// ids the model's vocabulary of 61 covers). ROUGE itself is checked against rouge-score in RougeTests.
struct SummarizationTests {
    static let examples = [
        SummarizationExample(id: 0, document: "the cat sat on the mat .", summary: "a cat sat"),
        SummarizationExample(id: 1, document: "a man plays in the park . the dog runs .", summary: "a man plays"),
        SummarizationExample(id: 2, document: "I loved the movie . it was great .", summary: "a great movie"),
        // Greedy decoding writes "\n" at its 8th token (found with transformers on this model).
        SummarizationExample(id: 3, document: "the dog was bad .", summary: "a bad dog"),
    ]

    @Test func deterministicAndBounded() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        var seen: [Int] = []
        let a = try Summarization.evaluate(
            model: model, tokenizer: tokenizer, examples: Self.examples, maxNewTokens: 8
        ) { done, total in
            seen.append(done)
            return total == 4
        }
        let b = try Summarization.evaluate(model: model, tokenizer: tokenizer, examples: Self.examples, maxNewTokens: 8)
        #expect(seen == [1, 2, 3, 4])
        #expect(a.predictions == b.predictions && a.rouge1 == b.rouge1 && a.rougeL == b.rougeL)
        #expect(a.examples == 4 && a.predictions.count == 4)
        #expect(a.generatedTokens >= 4 && a.generatedTokens <= 32)
        #expect(a.predictions.allSatisfy { !$0.contains("\n") })
        for value in [a.rouge1, a.rouge2, a.rougeL] { #expect(value >= 0 && value <= 100) }
        // The reported ROUGE is the mean F-measure ×100 of the predictions.
        let mean = RougeScorer(useStemmer: true).meanScores(
            targets: Self.examples.map(\.summary), predictions: a.predictions)
        #expect(abs(a.rouge1 - 100 * mean["rouge1"]!.fmeasure) < 1e-9)
    }

    /// The prediction is the text of the greedy tokens up to the first newline token (or EOS).
    @Test func predictionIsTheGreedyTextUpToTheNewline() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        var sawNewline = false
        for example in Self.examples {
            let prompt = tokenizer.encode(SummarizationPrompt().prompt(for: example))
            let free = try Generator.greedy(model: model, prompt: prompt, maxNewTokens: 20, recordLogits: false)
            let stopped = try Generator.greedy(
                model: model, prompt: prompt, maxNewTokens: 20, stopTokens: [2], stopAtNewline: tokenizer)
            let end = free.tokens.firstIndex { $0 == 2 || $0 == TaskFixtures.newlineId }
            if let end {
                #expect(stopped.tokens == Array(free.tokens[...end]))
                #expect(stopped.stopReason == (free.tokens[end] == 2 ? .stopToken : .newline))
                sawNewline = sawNewline || stopped.stopReason == .newline
            } else {
                #expect(stopped.tokens == free.tokens && stopped.stopReason == .maxTokens)
            }
            let text = Summarization.summaryText(stopped, tokenizer: tokenizer)
            let kept = stopped.stopReason == .maxTokens ? stopped.tokens : Array(stopped.tokens.dropLast())
            #expect(text == tokenizer.decode(kept, skipSpecialTokens: true).trimmingCharacters(in: .whitespaces))
            let result = try Summarization.evaluate(
                model: model, tokenizer: tokenizer, examples: [example], maxNewTokens: 20)
            #expect(result.predictions == [text])
        }
        #expect(sawNewline, "no example stopped at a newline; pick other documents")
    }

    @Test func summaryTextCutsAtTheNewlineAndDropsTheStopToken() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let newline = TaskFixtures.newlineId
        let cat = try #require(tokenizer.tokenId("cat"))
        let sat = try #require(tokenizer.tokenId("sat"))
        let eos = Generator.Output(tokens: [cat, sat, 2], logits: [], stopReason: .stopToken)
        #expect(Summarization.summaryText(eos, tokenizer: tokenizer) == "cat sat")
        let nl = Generator.Output(tokens: [cat, newline], logits: [], stopReason: .newline)
        #expect(Summarization.summaryText(nl, tokenizer: tokenizer) == "cat")
        let length = Generator.Output(tokens: [sat, 1, cat], logits: [], stopReason: .maxTokens)
        #expect(Summarization.summaryText(length, tokenizer: tokenizer) == "sat cat")
    }

    @Test func badSettingsAreInputErrors() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        #expect(throws: TaskError.self) {
            try Summarization.evaluate(model: model, tokenizer: tokenizer, examples: Self.examples, maxNewTokens: 0)
        }
        #expect(throws: TaskError.self) {
            try Summarization.evaluate(
                model: model, tokenizer: tokenizer, examples: Self.examples, maxNewTokens: 16, maxLength: 16)
        }
    }
}
