import ExpertLock
import TensorCore

/// The draws the corpus generators need, written on top of `SplitMix64.next()` alone so that the
/// corpus does not depend on how the standard library maps random bits to ranges.
extension SplitMix64 {
    /// Uniform in `range` (modulo bias below 2^-40 for the small ranges used here).
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % span)
    }

    /// A uniformly chosen element; `items` must not be empty.
    mutating func pick<T>(_ items: [T]) -> T {
        items[int(0...(items.count - 1))]
    }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool {
        nextDouble() < p
    }

    /// `count` distinct elements in random order (partial Fisher–Yates).
    mutating func sample<T>(_ items: [T], count: Int) -> [T] {
        var pool = items
        let n = Swift.min(count, pool.count)
        for i in 0..<n {
            pool.swapAt(i, int(i...(pool.count - 1)))
        }
        return Array(pool[0..<n])
    }

    /// A random non-zero offset in `-spread...spread`, used to make a wrong number for a false
    /// hypothesis.
    mutating func offset(_ spread: Int) -> Int {
        let magnitude = int(1...spread)
        return chance(0.5) ? magnitude : -magnitude
    }
}
