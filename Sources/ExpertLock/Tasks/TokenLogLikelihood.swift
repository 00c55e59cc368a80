import Foundation
import TensorCore

/// Log-probabilities of chosen tokens from a logits matrix, in Double (log-sum-exp), without
/// building a graph: the scoring core of perplexity, classification and active-learning scores.
public enum TokenLogLikelihood {
    /// log softmax(logits[row])[target] for each (row, target).
    /// Shapes: logits [N, V]; rows and targets of equal length.
    public static func logProbabilities(_ logits: Tensor, rows: [Int], targets: [Int]) -> [Double] {
        precondition(rows.count == targets.count)
        let v = logits.lastDim
        return logits.withUnsafeBufferPointer { p in
            zip(rows, targets).map { row, target in
                let base = row * v
                var m = -Float.infinity
                for j in 0..<v { m = max(m, p[base + j]) }
                var s = 0.0
                for j in 0..<v { s += exp(Double(p[base + j] - m)) }
                return Double(p[base + target] - m) - log(s)
            }
        }
    }

    /// Full log-softmax distribution of one row, in Double.
    public static func logSoftmaxRow(_ logits: Tensor, row: Int) -> [Double] {
        let v = logits.lastDim
        let values = (0..<v).map { Double(logits.data[row * v + $0]) }
        let m = values.max() ?? 0
        let lse = m + log(values.reduce(0) { $0 + exp($1 - m) })
        return values.map { $0 - lse }
    }
}
