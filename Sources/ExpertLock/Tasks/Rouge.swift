// Port of Google's rouge-score (rouge_score/rouge_scorer.py and scoring.py, version 0.1.2):
// ROUGE-1, ROUGE-2 and ROUGE-L, matching its numbers to floating-point rounding.

/// Precision, recall and F-measure of one ROUGE type (rouge-score's `Score` tuple), each in 0...1.
public struct RougeScore: Sendable, Codable, Equatable {
    public var precision: Double
    public var recall: Double
    public var fmeasure: Double

    public init(precision: Double, recall: Double, fmeasure: Double) {
        self.precision = precision
        self.recall = recall
        self.fmeasure = fmeasure
    }

    public static let zero = RougeScore(precision: 0, recall: 0, fmeasure: 0)

    /// scoring.fmeasure: the harmonic mean, 0 when precision + recall is 0.
    static func fmeasure(precision: Double, recall: Double) -> Double {
        precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    init(precision: Double, recall: Double) {
        self.init(precision: precision, recall: recall, fmeasure: Self.fmeasure(precision: precision, recall: recall))
    }
}

/// Scores a prediction against a target (reference) as `RougeScorer(["rouge1", "rouge2", "rougeL"],
/// use_stemmer:)` does; summarization results are reported with these numbers.
public struct RougeScorer: Sendable {
    /// The keys of every result, in reporting order.
    public static let types = ["rouge1", "rouge2", "rougeL"]

    public let tokenizer: RougeTokenizer

    public init(useStemmer: Bool) {
        tokenizer = RougeTokenizer(useStemmer: useStemmer)
    }

    /// ROUGE-1, ROUGE-2 and ROUGE-L of one pair, keyed "rouge1", "rouge2", "rougeL".
    public func score(target: String, prediction: String) -> [String: RougeScore] {
        let targetTokens = tokenizer.tokenize(target)
        let predictionTokens = tokenizer.tokenize(prediction)
        return [
            "rouge1": Self.ngramScore(target: targetTokens, prediction: predictionTokens, n: 1),
            "rouge2": Self.ngramScore(target: targetTokens, prediction: predictionTokens, n: 2),
            "rougeL": Self.lcsScore(target: targetTokens, prediction: predictionTokens),
        ]
    }

    /// The arithmetic mean of precision, recall and F-measure over pairs (each averaged separately,
    /// as rouge-score's aggregator's point estimate; no bootstrap). Zero scores for no pairs.
    public func meanScores(targets: [String], predictions: [String]) -> [String: RougeScore] {
        precondition(targets.count == predictions.count, "meanScores needs as many targets as predictions")
        var sums = Dictionary(uniqueKeysWithValues: Self.types.map { ($0, RougeScore.zero) })
        for (target, prediction) in zip(targets, predictions) {
            for (key, value) in score(target: target, prediction: prediction) {
                sums[key, default: .zero].precision += value.precision
                sums[key, default: .zero].recall += value.recall
                sums[key, default: .zero].fmeasure += value.fmeasure
            }
        }
        guard !targets.isEmpty else { return sums }
        let n = Double(targets.count)
        return sums.mapValues {
            RougeScore(precision: $0.precision / n, recall: $0.recall / n, fmeasure: $0.fmeasure / n)
        }
    }

    // MARK: - N-grams

    /// _score_ngrams: clipped overlap of n-gram counts; denominators are floored at 1, so an empty
    /// side gives 0 rather than a division by zero.
    static func ngramScore(target: [String], prediction: [String], n: Int) -> RougeScore {
        let targetCounts = ngramCounts(target, n: n)
        let predictionCounts = ngramCounts(prediction, n: n)
        var overlap = 0
        for (ngram, count) in targetCounts {
            overlap += min(count, predictionCounts[ngram] ?? 0)
        }
        let targetTotal = max(target.count - n + 1, 0)
        let predictionTotal = max(prediction.count - n + 1, 0)
        let precision = Double(overlap) / Double(max(predictionTotal, 1))
        let recall = Double(overlap) / Double(max(targetTotal, 1))
        return RougeScore(precision: precision, recall: recall)
    }

    static func ngramCounts(_ tokens: [String], n: Int) -> [[String]: Int] {
        var counts: [[String]: Int] = [:]
        guard tokens.count >= n else { return counts }
        for start in 0...(tokens.count - n) {
            counts[Array(tokens[start..<(start + n)]), default: 0] += 1
        }
        return counts
    }

    // MARK: - Longest common subsequence

    /// _score_lcs: LCS length over prediction length (precision) and target length (recall); an
    /// empty side scores 0.
    static func lcsScore(target: [String], prediction: [String]) -> RougeScore {
        guard !target.isEmpty, !prediction.isEmpty else { return .zero }
        let length = lcsLength(target, prediction)
        return RougeScore(
            precision: Double(length) / Double(prediction.count), recall: Double(length) / Double(target.count))
    }

    /// The length of the longest common subsequence, by the usual dynamic programme kept to two rows.
    static func lcsLength(_ a: [String], _ b: [String]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var previous = [Int](repeating: 0, count: b.count + 1)
        var current = previous
        for token in a {
            for j in 1...b.count {
                current[j] = token == b[j - 1] ? previous[j - 1] + 1 : max(previous[j], current[j - 1])
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
