import Testing

@testable import MoEModels

/// The `tokenizers` library's own unit tests of its trainers (bpe/trainer.rs, bpe/word.rs,
/// wordlevel/trainer.rs), with their expected values, plus the queue's ordering.
@Suite struct BPETrainerTests {
    static func counts(_ pairs: [(String, Int)]) -> [ScalarKey: Int] {
        Dictionary(uniqueKeysWithValues: pairs.map { (ScalarKey($0.0), $0.1) })
    }

    static func text(_ scalars: [Unicode.Scalar]?) -> String? { scalars.map(TrainedTokenizer.string) }

    /// trainer.rs `test_train`: no special tokens, min_frequency 2: "re", "are", "is".
    @Test func librarysTrainExample() {
        let words = Self.counts([
            ("roses", 1), ("are", 2), ("red", 1), ("voilets", 1), ("blue", 1), ("BERT", 1), ("is", 2), ("big", 1),
            ("and", 1), ("so", 1), ("GPT-2", 1),
        ])
        let result = BPETrainer.train(
            words, vocabSize: 30000, minFrequency: 2, specialTokens: [], initialAlphabet: [])
        let alphabet = "-2BEGPRTabdegilnorstuv".unicodeScalars.map { [$0] }
        #expect(
            result.tokens.map(Self.text) == (alphabet + [["r", "e"], ["a", "r", "e"], ["i", "s"]]).map(Self.text))
        #expect(result.merges.map { [$0.left, $0.right] } == [[17, 11], [8, 22], [13, 18]])
    }

    /// word.rs `test_merge`: merging ("l", "l") in "hello" reports the neighbours' changes.
    @Test func wordMergeReportsNeighbourChanges() {
        var word: [Int32] = [0, 1, 2, 2, 3]
        var changes: [(pair: UInt64, change: Int)] = []
        BPETrainer.merge(&word, 2, 2, 4, into: &changes)
        #expect(word == [0, 1, 4, 3])
        let p = BPETrainer.pair
        #expect(changes.map(\.pair) == [p(1, 2), p(1, 4), p(2, 3), p(4, 3)])
        #expect(changes.map(\.change) == [-1, 1, -1, 1])
    }

    /// "aaaa" merging ("a", "a") left to right: two merges, the second next to the first.
    @Test func wordMergeOfARunGoesLeftToRight() {
        var word: [Int32] = [0, 0, 0, 0, 0]
        var changes: [(pair: UInt64, change: Int)] = []
        BPETrainer.merge(&word, 0, 0, 1, into: &changes)
        #expect(word == [1, 1, 0])
        let p = BPETrainer.pair
        #expect(changes.map(\.pair) == [p(0, 0), p(1, 0), p(1, 0), p(1, 1), p(0, 0), p(1, 0)])
        #expect(changes.map(\.change) == [-1, 1, -1, 1, -1, 1])
    }

    /// Highest count first; equal counts: the smaller (left, right) pair first.
    @Test func queuePopsByCountThenSmallestPair() {
        var queue = MergeQueue()
        let p = BPETrainer.pair
        let pushed: [(Int, UInt64)] = [
            (3, p(5, 1)), (7, p(9, 9)), (3, p(2, 8)), (3, p(2, 7)), (7, p(1, 20)), (1, p(0, 0)),
        ]
        for (count, pair) in pushed { queue.push(count: count, pair: pair, positions: [0]) }
        var popped: [UInt64] = []
        while let entry = queue.pop() { popped.append(entry.pair) }
        #expect(popped == [p(1, 20), p(9, 9), p(2, 7), p(2, 8), p(5, 1), p(0, 0)])
    }

    /// wordlevel/trainer.rs `test_train`: by count, at most vocab_size, then with min_frequency 15.
    @Test func librarysWordLevelExample() {
        let words = Self.counts([("the", 25), ("roses", 22), ("are", 24), ("red", 12), ("voilets", 10), ("blue", 16)])
        let five = WordLevelTrainer.train(words, vocabSize: 5, minFrequency: 0, specialTokens: [])
        #expect(five.map(Self.text) == ["the", "are", "roses", "blue", "red"])
        let frequent = WordLevelTrainer.train(words, vocabSize: 5, minFrequency: 15, specialTokens: [])
        #expect(frequent.map(Self.text) == ["the", "are", "roses", "blue"])
    }

    /// Equal counts go by UTF-8 byte order (code points), and a word spelled like a special token
    /// takes its later id, leaving the special token's id empty.
    @Test func wordLevelTiesAndSpecialSpelledWords() {
        let words = Self.counts([("b", 2), ("é", 2), ("a", 2), ("<s>", 3), ("Z", 1)])
        let tokens = WordLevelTrainer.train(
            words, vocabSize: 10, minFrequency: 2, specialTokens: [["<", "s", ">"], ["<", "u", ">"]])
        #expect(tokens.map(Self.text) == [nil, "<u>", "<s>", "a", "b", "é"])
    }
}
