import Foundation
import MoEModels
import TensorCore

/// Perplexity by the Hugging Face sliding-window recipe (CLI.md): the token sequence is cut into
/// windows of `context` tokens starting every `stride` tokens; the first window scores every token
/// after its first, each later window only the tokens past the previous window's end (at most
/// `stride`), so every token after the first is scored exactly once with as much left context as
/// the window allows. Perplexity = exp(total NLL / scored tokens).
public enum Perplexity {
    public struct Parameters: Sendable {
        /// Window length L.
        public var context: Int = 512
        /// Window start spacing S (nil: S = L, non-overlapping windows).
        public var stride: Int?
        /// Windows evaluated together in one forward pass.
        public var batchSize: Int = 4
        public init(context: Int = 512, stride: Int? = nil, batchSize: Int = 4) {
            self.context = context
            self.stride = stride
            self.batchSize = batchSize
        }
    }

    public struct Result: Sendable, Codable, Equatable {
        public var perplexity: Double
        /// Mean negative log-likelihood per scored token (nats).
        public var nll: Double
        /// Number of scored tokens.
        public var tokens: Int
    }

    /// One window: tokens [begin, end) with targets scored from window position `firstScored` on
    /// (a position p predicts token p + 1 of the window).
    public struct Window: Sendable, Equatable {
        public var begin: Int
        public var end: Int
        /// First window position whose prediction (of the next token) is scored.
        public var firstScored: Int
    }

    /// The windows of the recipe for a sequence of `count` tokens.
    public static func windows(count: Int, context: Int, stride: Int) -> [Window] {
        precondition(context >= 2 && stride >= 1 && stride <= context)
        var out: [Window] = []
        var previousEnd = 0
        var begin = 0
        while begin < count {
            let end = min(begin + context, count)
            let targets = end - previousEnd  // tokens not scored yet
            // Scored targets are window tokens [end - targets, end); the first window cannot score
            // its own first token.
            let firstTarget = max(end - targets, begin + 1)
            if end - firstTarget > 0 {
                out.append(Window(begin: begin, end: end, firstScored: firstTarget - begin - 1))
            }
            previousEnd = end
            if end == count { break }
            begin += stride
        }
        return out
    }

    /// Evaluates `ids` (already tokenized, BOS included when the tokenizer asks for it).
    /// `progress` receives (windows done, windows total, tokens scored) and may return false to stop.
    public static func evaluate(
        model: MoEModel, ids: [Int], parameters: Parameters = Parameters(), observer: RoutingObserver? = nil,
        progress: ((Int, Int, Int) -> Bool)? = nil
    ) throws -> Result {
        let stride = try validatedStride(ids: ids, parameters: parameters)
        let groups = batches(ids: ids, context: parameters.context, stride: stride, batchSize: parameters.batchSize)
        let total = groups.reduce(0) { $0 + $1.windows }
        var totalNLL = 0.0
        var scored = 0
        var done = 0
        for group in groups {
            let lp = try model.headScores(group.batch, rows: group.rows, targets: group.targets, observer: observer)
                .logProbabilities
            totalNLL -= lp.reduce(0, +)
            scored += lp.count
            done += group.windows
            if let progress, !progress(done, total, scored) { break }
        }
        let mean = totalNLL / Double(max(scored, 1))
        guard mean.isFinite else { throw TaskError.nonFinite(what: "token log-probabilities") }
        return Result(perplexity: exp(mean), nll: mean, tokens: scored)
    }
}

extension Perplexity {
    /// Windows of equal length evaluated in one forward pass, with the logit rows they score.
    struct WindowBatch {
        var batch: TokenBatch
        /// Number of windows in the batch.
        var windows: Int
        /// Logit rows scored and the token each predicts.
        var rows: [Int]
        var targets: [Int]
    }

    /// The recipe's windows grouped into batches of up to `batchSize` windows of equal length (all
    /// but possibly the last window have length `context`).
    static func batches(ids: [Int], context: Int, stride: Int, batchSize: Int) -> [WindowBatch] {
        let all = windows(count: ids.count, context: context, stride: stride)
        var out: [WindowBatch] = []
        var i = 0
        while i < all.count {
            var group = [all[i]]
            let length = all[i].end - all[i].begin
            while group.count < max(1, batchSize), i + group.count < all.count,
                all[i + group.count].end - all[i + group.count].begin == length
            {
                group.append(all[i + group.count])
            }
            let batch = TokenBatch(
                ids: group.flatMap { Array(ids[$0.begin..<$0.end]) }, batch: group.count, seq: length)
            var rows: [Int] = []
            var targets: [Int] = []
            for (b, w) in group.enumerated() {
                for p in w.firstScored..<(length - 1) {
                    rows.append(b * length + p)
                    targets.append(ids[w.begin + p + 1])
                }
            }
            out.append(WindowBatch(batch: batch, windows: group.count, rows: rows, targets: targets))
            i += group.count
        }
        return out
    }

    /// Checks the inputs `evaluate` checks and returns the stride to use.
    static func validatedStride(ids: [Int], parameters: Parameters) throws -> Int {
        guard ids.count >= 2 else { throw EvaluationError.tooFewTokens(ids.count) }
        let stride = parameters.stride ?? parameters.context
        guard parameters.context >= 2, stride >= 1, stride <= parameters.context else {
            throw EvaluationError.badWindow(context: parameters.context, stride: stride)
        }
        return stride
    }
}

/// Problems with evaluation inputs.
public enum EvaluationError: InputError, Equatable {
    case tooFewTokens(Int)
    case badWindow(context: Int, stride: Int)
    case missingLabels(file: String)

    public var description: String {
        switch self {
        case .tooFewTokens(let n): return "perplexity needs at least 2 tokens, got \(n)"
        case .badWindow(let c, let s):
            return "--context \(c) and --stride \(s): need context ≥ 2 and 1 ≤ stride ≤ context"
        case .missingLabels(let file): return "\(file): classification needs labels, and this file has none"
        }
    }
}
