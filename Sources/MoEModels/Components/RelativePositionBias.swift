import Foundation
import TensorCore

/// T5's relative position bias: an embedding [buckets, H] looked up by the bucket of (key − query) and added to
/// every head's attention scores. Only the first block of a stack owns one; the others reuse its bias.
public struct RelativePositionBias {
    /// The bucket embedding [buckets, H] (`relative_attention_bias.weight`).
    public let table: Parameter
    public let buckets: Int
    public let maxDistance: Int
    /// Encoder: both directions; decoder: only keys at or before the query.
    public let bidirectional: Bool

    /// The bucket of `relative` = key position − query position, as transformers' `_relative_position_bucket`.
    /// Trap: the logarithmic buckets are computed in float32 (`.float()`, `torch.log`) and truncated, so a
    /// distance whose exact bucket is an integer may land one below; this follows the same float32 steps.
    public static func bucket(relative: Int, bidirectional: Bool, buckets: Int, maxDistance: Int) -> Int {
        var n = buckets
        var result = 0
        var distance: Int
        if bidirectional {
            n /= 2
            if relative > 0 { result += n }
            distance = abs(relative)
        } else {
            distance = -min(relative, 0)
        }
        let maxExact = n / 2
        if distance < maxExact { return result + distance }
        let ratio = Float(distance) / Float(maxExact)
        let scale = Float(Foundation.log(Double(maxDistance) / Double(maxExact)))
        let large = maxExact + Int(Foundation.logf(ratio) / scale * Float(n - maxExact))
        return result + min(large, n - 1)
    }

    /// Bias of one head for queries at `queryPositions` over keys 0..<keys: head h -> [T, S], a graph node
    /// when the table trains.
    func headBiases(queryPositions: [Int], keys: Int, heads: Int) throws -> [Variable] {
        var indices: [Int] = []
        indices.reserveCapacity(queryPositions.count * keys)
        for q in queryPositions {
            for k in 0..<keys {
                indices.append(
                    Self.bucket(
                        relative: k - q, bidirectional: bidirectional, buckets: buckets, maxDistance: maxDistance))
            }
        }
        let values = gatherRows(try table.variable(), indices)  // [buckets, H] -> [T*S, H]
        return (0..<heads).map { h in
            reshape(sliceColumns(values, h..<(h + 1)), [queryPositions.count, keys])  // [T*S, 1] -> [T, S]
        }
    }
}
