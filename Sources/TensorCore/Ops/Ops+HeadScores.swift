import Foundation

// Scoring through the output head without the logits matrix, a vocabulary block at a time.
//
// Perplexity needs log softmax(h·Wᵀ)[target] per row, the active-learning scores also its entropy;
// neither needs the [N, V] logits. Computing them a block of rows at a time (as the first scoring
// path did, 64 rows per product) made BLAS repack the whole head [V, C] for every block: 32 times
// 16 MB per 2,048 tokens of config A, a tenth of the forward pass. Here the rows go through the
// head in blocks of up to `headRowBlock` rows, and each block through the vocabulary in slices of
// `headVocabularyBlock` words: every slice of the head is packed once per row block, the logits
// buffer stays at [1024, 512] (2 MB), and each row keeps a running log Σ exp (the online softmax
// of flash attention), so the head is read once per 1,024 rows.

/// What the output head says about chosen tokens: log p(target | row) and, when asked, the entropy
/// of the row's next-token distribution, both in Double.
public struct HeadScores: Sendable, Equatable {
    public var logProbabilities: [Double]
    /// −Σ p log p per row; empty unless requested.
    public var entropies: [Double]

    public init(logProbabilities: [Double], entropies: [Double]) {
        self.logProbabilities = logProbabilities
        self.entropies = entropies
    }
}

/// Rows per block of `headScores` (the activations gathered for one pass through the head).
public let headRowBlock = 1024
/// Vocabulary words per product of `headScores`: [rows, 512] logits alive at a time.
public let headVocabularyBlock = 512

/// log softmax(hidden[rows[i]] · headᵀ)[targets[i]] for each i, and the entropies of those rows'
/// softmax when `entropy`, without a graph. hidden [N, C], head [V, C]; every row in 0..<N, every
/// target in 0..<V. Equal to log-softmax of the full logits up to rounding: each vocabulary slice
/// sums e^(x − m) in Float from its own maximum m, rescaled into a Double running sum.
public func headScores(hidden: Tensor, head: Tensor, rows: [Int], targets: [Int], entropy: Bool = false) -> HeadScores {
    let c = hidden.lastDim
    precondition(head.rank == 2 && head.lastDim == c, "headScores: head \(head.shape) for hidden width \(c)")
    return head.withUnsafeBufferPointer { pw in
        let pw = pw.baseAddress!
        return headScores(hidden: hidden, vocabulary: head.rows, rows: rows, targets: targets, entropy: entropy) {
            m, a, v0, width, logits in
            Gemm.sgemm(transB: true, m: m, n: width, k: c, a: a, lda: c, b: pw + v0 * c, ldb: c, c: logits, ldc: width)
        }
    }
}

/// `headScores` with the head as stored in bfloat16 [V, C], its products in `precision` (`StoredGemm`).
public func headScores(
    hidden: Tensor, storedHead head: BF16Matrix, precision: Precision, rows: [Int], targets: [Int],
    entropy: Bool = false
) -> HeadScores {
    let c = hidden.lastDim
    precondition(head.columns == c, "headScores: head [\(head.rows), \(head.columns)] for hidden width \(c)")
    return withExtendedLifetime(head.owner) {
        headScores(hidden: hidden, vocabulary: head.rows, rows: rows, targets: targets, entropy: entropy) {
            m, a, v0, width, logits in
            StoredGemm.multiply(
                m: m, n: width, k: c, a: a, lda: c, b: head.base + v0 * c, ldb: c, precision: precision, c: logits,
                ldc: width)
        }
    }
}

/// The scoring loop; `product(m, a, v0, width, logits)` writes logits [m, width] = a [m, C] · head[v0..<v0+width]ᵀ.
func headScores(
    hidden: Tensor, vocabulary v: Int, rows: [Int], targets: [Int], entropy: Bool,
    product: (Int, UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>) -> Void
) -> HeadScores {
    let c = hidden.lastDim
    precondition(rows.count == targets.count, "headScores: \(rows.count) rows, \(targets.count) targets")
    for r in rows { precondition(r >= 0 && r < hidden.rows, "headScores: row \(r) outside 0..<\(hidden.rows)") }
    for t in targets { precondition(t >= 0 && t < v, "headScores: target \(t) outside 0..<\(v)") }
    var scores = HeadScores(
        logProbabilities: [Double](repeating: 0, count: rows.count),
        entropies: [Double](repeating: 0, count: entropy ? rows.count : 0))
    if rows.isEmpty { return scores }
    let rowBlock = min(headRowBlock, rows.count)
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * min(headVocabularyBlock, v))
    let gathered = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * c)
    defer {
        logits.deallocate()
        gathered.deallocate()
    }
    // Per row of a block: the running maximum m, Σ e^(x−m), Σ e^(x−m)·(x−m), the target's logit.
    var state = [HeadRowState](repeating: HeadRowState(), count: rowBlock)
    hidden.withUnsafeBufferPointer { ph in
        do {
            let ph = ph.baseAddress!
            var start = 0
            while start < rows.count {
                let block = start..<min(rows.count, start + rowBlock)
                let first = rows[block.lowerBound]
                let inOrder = rows[block].enumerated().allSatisfy { $0.element == first + $0.offset }
                let a: UnsafePointer<Float>
                if inOrder {
                    a = ph + first * c
                } else {
                    for (i, r) in rows[block].enumerated() { (gathered + i * c).update(from: ph + r * c, count: c) }
                    a = UnsafePointer(gathered)
                }
                for i in 0..<block.count { state[i] = HeadRowState() }
                var v0 = 0
                while v0 < v {
                    let width = min(headVocabularyBlock, v - v0)
                    product(block.count, a, v0, width, logits)
                    state.withUnsafeMutableBufferPointer { ps in
                        let (ps, out) = (UncheckedSendable(ps), UncheckedSendable(logits))
                        Parallel.forEach(block.count, grain: Kernels.grain(rowWidth: 4 * width)) { range in
                            for i in range {
                                let target = targets[block.lowerBound + i]
                                ps.value[i].absorb(
                                    out.value + i * width, width,
                                    target: target >= v0 && target < v0 + width
                                        ? target - v0 : nil, entropy: entropy)
                            }
                        }
                    }
                    v0 += width
                }
                for i in 0..<block.count {
                    let s = state[i]
                    scores.logProbabilities[block.lowerBound + i] = Double(s.target - s.maximum) - log(s.sum)
                    if entropy { scores.entropies[block.lowerBound + i] = log(s.sum) - s.weighted / s.sum }
                }
                start = block.upperBound
            }
        }
    }
    return scores
}

/// The online log-sum-exp of one row across vocabulary slices.
struct HeadRowState {
    var maximum = -Float.infinity
    /// Σ e^(x − maximum) over the slices seen.
    var sum = 0.0
    /// Σ e^(x − maximum) · (x − maximum), for the entropy.
    var weighted = 0.0
    var target: Float = 0

    /// Folds in one slice of `n` logits; `target` is the target's index in the slice, if there.
    @inline(__always)
    mutating func absorb(_ x: UnsafePointer<Float>, _ n: Int, target: Int?, entropy: Bool) {
        if let target { self.target = x[target] }
        let m = Kernels.max(x, n)
        if m > maximum {
            // Rescale what was summed from the old maximum: e^(x−M) = e^(x−m)·e^(m−M), and
            // (x−M) = (x−m) + (m−M).
            if sum > 0 {
                let shift = Double(maximum - m)
                let scale = Foundation.exp(shift)
                weighted = scale * (weighted + shift * sum)
                sum *= scale
            }
            maximum = m
        }
        if entropy {
            let (s, w) = Kernels.expShiftedMoments(x, n, shift: maximum)
            sum += Double(s)
            weighted += Double(w)
        } else {
            sum += Double(Kernels.expShiftedSum(x, n, shift: maximum))
        }
    }
}
