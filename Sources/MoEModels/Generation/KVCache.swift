import Foundation
import TensorCore

/// The keys and values a decoder has already computed for one sequence, so that generating a token
/// costs one forward pass over that token instead of one over the whole text (inference only).
///
/// Each layer keeps its keys and values after RoPE (and after the q/k norms and clipping), shaped
/// [T, Hkv*D] row-major. `MoEModel.forward(_:cache:)` places the new tokens at positions
/// `length ..< length + n`, appends their keys and values layer by layer, and advances `length`
/// once every layer is done; the prefill of a prompt and each decode step are the same call.
public final class KVCache {
    /// Keys and values of one layer: [length, Hkv*D] each, flattened.
    public struct LayerEntry: Sendable {
        public let width: Int  // Hkv*D
        public internal(set) var keys: [Float] = []
        public internal(set) var values: [Float] = []

        /// Rows stored (the committed length, plus the new block while a forward pass runs).
        public var rows: Int { width == 0 ? 0 : keys.count / width }
    }

    public private(set) var layers: [LayerEntry]
    /// The recurrent states of linear-attention layers (they keep no keys: `LayerEntry.width` 0), as of
    /// `length`; a pass writes `pendingStates`, which `advance` commits and `truncate` drops.
    public private(set) var recurrentStates: [Int: RecurrentState] = [:]
    var pendingStates: [Int: RecurrentState] = [:]
    /// Tokens whose keys and values every layer holds; the position of the next token.
    public private(set) var length = 0

    /// An empty cache for `model`.
    public init(model: MoEModel) {
        layers = model.layers.map { LayerEntry(width: $0.mixer.cacheWidth) }
    }

    /// Reserves room for `tokens` positions in every layer (avoids regrowing during decoding).
    public func reserveCapacity(_ tokens: Int) {
        for l in layers.indices {
            layers[l].keys.reserveCapacity(tokens * layers[l].width)
            layers[l].values.reserveCapacity(tokens * layers[l].width)
        }
    }

    /// Forgets everything from position `newLength` on (e.g. to score several continuations of one
    /// prompt, or to undo a pass that failed half way).
    public func truncate(to newLength: Int) {
        precondition(newLength >= 0 && newLength <= length, "KVCache.truncate: \(newLength) of \(length)")
        precondition(
            newLength == length || recurrentStates.isEmpty,
            "KVCache.truncate: a linear-attention state cannot be rewound to an earlier position")
        pendingStates = [:]
        for l in layers.indices {
            layers[l].keys.removeSubrange((newLength * layers[l].width)...)
            layers[l].values.removeSubrange((newLength * layers[l].width)...)
        }
        length = newLength
    }

    /// Positions of `count` new tokens.
    func positions(count: Int) -> [Int] { (0..<count).map { length + $0 } }

    /// Appends the new block's keys and values [n, Hkv*D] of one layer.
    func append(layer: Int, keys: Tensor, values: Tensor) {
        precondition(keys.lastDim == layers[layer].width && values.shape == keys.shape, "KVCache: bad key shape")
        precondition(layers[layer].rows == length, "KVCache: layer \(layer) appended twice in one pass")
        layers[layer].keys += keys.data
        layers[layer].values += values.data
    }

    /// Marks `count` new positions as held by every layer (end of a forward pass).
    func advance(by count: Int) {
        precondition(
            layers.allSatisfy { $0.width == 0 || $0.rows == length + count }, "KVCache: a layer missed the pass")
        recurrentStates.merge(pendingStates) { _, new in new }
        pendingStates = [:]
        length += count
    }

    /// Attention of new queries over everything the layer holds: the cached rows and the new block.
    /// q [n, H*D] at positions `length ..< length + n`; the layer's keys and values [length + n,
    /// Hkv*D] -> [n, H*D]. Query i sees keys j ≤ length + i (causal within the new block). Same
    /// arithmetic as `causalAttention` (scores by GEMM, softmax in Float, P·V by GEMM), no graph.
    /// `scale`: the softmax scale (nil: 1/√D; latent attention passes its own). `span`: a sliding window
    /// or a chunk narrows what query i sees to keys [span.firstKey(length + i), length + i] (every key stays
    /// cached: the mask, not the cache, decides, as transformers' masks do). `sinks` [H]: one more logit
    /// per head in each softmax denominator (gpt-oss).
    func attend(
        layer: Int, queries q: Tensor, heads: Int, kvHeads: Int, headDim: Int, scale: Float? = nil,
        span: AttentionSpan = .full, sinks: [Float]? = nil
    ) -> Tensor {
        let entry = layers[layer]
        let n = q.rows
        let total = entry.rows  // L = length + n
        let start = length
        precondition(total == start + n, "KVCache.attend: keys of the new block must be appended first")
        precondition(q.lastDim == heads * headDim && heads % kvHeads == 0)
        let group = heads / kvHeads
        let qStride = heads * headDim
        let kvStride = kvHeads * headDim
        let scale = scale ?? 1 / Float(headDim).squareRoot()
        return Tensor(shape: [n, qStride]) { po in
            let out = po.baseAddress!
            q.withUnsafeBufferPointer { pq in
                entry.keys.withUnsafeBufferPointer { pk in
                    entry.values.withUnsafeBufferPointer { pv in
                        let (pq, pk, pv) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!)
                        // Threads only pay off once a head's work is large (long prompts).
                        Parallel.forEach(heads, grain: max(1, 65_536 / max(1, n * total * headDim))) { items in
                            let s = UnsafeMutablePointer<Float>.allocate(capacity: n * total)  // [n, L]
                            defer { s.deallocate() }
                            for h in items {
                                let g = h / group
                                // S [n, L] = scale · Q_h [n, D] · K_gᵀ [D, L]
                                Gemm.sgemm(
                                    transB: true, m: n, n: total, k: headDim, alpha: scale, a: pq + h * headDim,
                                    lda: qStride, b: pk + g * headDim, ldb: kvStride, c: s, ldc: total)
                                for i in 0..<n {
                                    let row = s + i * total
                                    let visible = start + i + 1
                                    let first = span.firstKey(start + i)
                                    var m = sinks?[h] ?? -Float.infinity
                                    for j in first..<visible { m = max(m, row[j]) }
                                    var sum: Float = sinks.map { exp($0[h] - m) } ?? 0
                                    for j in first..<visible {
                                        row[j] = exp(row[j] - m)
                                        sum += row[j]
                                    }
                                    let inverse = 1 / sum
                                    for j in 0..<first { row[j] = 0 }
                                    for j in first..<visible { row[j] *= inverse }
                                    for j in visible..<total { row[j] = 0 }
                                }
                                // O_h [n, D] = P [n, L] · V_g [L, D]
                                Gemm.sgemm(
                                    m: n, n: headDim, k: total, a: s, lda: total, b: pv + g * headDim, ldb: kvStride,
                                    c: out + h * headDim, ldc: qStride)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a linear-attention layer carries from one decoding step to the next instead of keys and values.
public struct RecurrentState: Sendable {
    /// The convolution's last K − 1 inputs [K−1, channels].
    public var convolution: [Float]
    /// The delta rule's state [Hv, Dk, Dv].
    public var delta: [Float]
}
