import Foundation
import MoEModels
import Testing

@testable import ExpertLock

/// With the fixture WordLevel tokenizer: "<s>" = 1 is put before a text, "</s>" = 2 is EOS.
struct TaskSequencesTests {
    @Test func summarizationAppendsTheSummaryAndEOS() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let example = SummarizationExample(id: 0, document: "the cat sat on the mat .", summary: "a cat sat")
        let (ids, start) = TaskSequences.summarization(example, tokenizer: tokenizer, maxLength: 64)
        let prompt = tokenizer.encode("the cat sat on the mat .\nSummary:")
        #expect(Array(ids[..<start]) == prompt)
        #expect(prompt.first == 1)
        #expect(Array(ids[start...]) == tokenizer.encode("a cat sat", addSpecialTokens: false) + [2])
    }

    @Test func thePromptIsTruncatedFromTheLeft() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let example = SummarizationExample(id: 0, document: "the cat sat on the mat .", summary: "a cat sat")
        let full = TaskSequences.summarization(example, tokenizer: tokenizer, maxLength: 64)
        let cut = TaskSequences.summarization(example, tokenizer: tokenizer, maxLength: 8)
        #expect(cut.ids.count == 8)
        #expect(cut.ids == Array(full.ids.suffix(8)))
        #expect(cut.targetStart == 4)
        // A target longer than the budget keeps one prompt token and the target's start.
        let tiny = TaskSequences.summarization(example, tokenizer: tokenizer, maxLength: 3)
        #expect(
            tiny.ids == [full.ids[full.targetStart - 1]] + Array(full.ids[full.targetStart..<(full.targetStart + 2)]))
        #expect(tiny.targetStart == 1)
    }

    @Test func specialPrefixIsWhatComesBeforeTheText() {
        #expect(TaskSequences.specialPrefix(full: [1, 5, 6], plain: [5, 6]) == [1])
        #expect(TaskSequences.specialPrefix(full: [5, 6, 2], plain: [5, 6]) == [])
        #expect(TaskSequences.specialPrefix(full: [1, 5, 6, 2], plain: [5, 6]) == [1])
        #expect(TaskSequences.specialPrefix(full: [5, 6], plain: [5, 6]) == [])
    }
}
