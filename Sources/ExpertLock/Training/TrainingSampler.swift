import TensorCore

/// Seeded batches: the examples of step s are a pure function of (seed, s), so a resumed run sees
/// exactly the batches the uninterrupted run would have, with no generator state to save.
///
/// Example slot p = s·B + i lies in epoch p / count at position p mod count of that epoch's
/// permutation (Fisher–Yates driven by SplitMix64 seeded from the seed and the epoch).
public final class TrainingSampler {
    public let count: Int
    public let batchSize: Int
    public let seed: UInt64
    private var cachedEpoch = -1
    private var permutation: [Int] = []

    public init(count: Int, batchSize: Int, seed: UInt64) {
        precondition(count > 0 && batchSize > 0)
        self.count = count
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Example indices of step `step` (0-based).
    public func indices(step: Int) -> [Int] {
        (0..<batchSize).map { i in
            let slot = step * batchSize + i
            return order(epoch: slot / count)[slot % count]
        }
    }

    /// The permutation of epoch `epoch`.
    public func order(epoch: Int) -> [Int] {
        if epoch != cachedEpoch {
            var rng = SplitMix64(seed: seed ^ (UInt64(epoch + 1) &* 0x9E37_79B9_7F4A_7C15))
            var p = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                p.swapAt(i, j)
            }
            permutation = p
            cachedEpoch = epoch
        }
        return permutation
    }
}
