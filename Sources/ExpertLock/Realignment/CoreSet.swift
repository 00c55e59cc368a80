import Foundation
import TensorCore

/// Representation-based batch selection: diverse examples rather than individually uncertain ones.
enum CoreSet {
    /// k-center greedy (Sener & Savarese 2018): repeatedly take the point farthest (Euclidean) from
    /// its nearest center, the centers being `centers` (the labeled set) plus the points taken so
    /// far. With no center the first point is the one farthest from the mean. Returns positions in
    /// `points`, in order of choice; equal distances go to the lower position.
    static func kCenterGreedy(points: [[Float]], centers: [[Float]], count: Int) -> [Int] {
        let n = min(count, points.count)
        guard n > 0 else { return [] }
        var nearest = [Double](repeating: .infinity, count: points.count)
        func absorb(_ center: [Float]) {
            for i in points.indices where nearest[i] >= 0 {
                nearest[i] = min(nearest[i], squaredDistance(points[i], center))
            }
        }
        for c in centers { absorb(c) }
        if centers.isEmpty {
            let dim = points[0].count
            var mean = [Float](repeating: 0, count: dim)
            for p in points { for j in 0..<dim { mean[j] += p[j] / Float(points.count) } }
            absorb(mean)
        }
        var chosen: [Int] = []
        while chosen.count < n {
            var best = -1
            for i in points.indices where nearest[i] >= 0 && (best < 0 || nearest[i] > nearest[best]) { best = i }
            chosen.append(best)
            nearest[best] = -1  // taken
            absorb(points[best])
        }
        return chosen
    }

    /// BADGE (Ash et al. 2020): k-means++ seeding over gradient embeddings g = (p − onehot(argmax p)) ⊗ h.
    /// The first pick has the largest ‖g‖; each next one is drawn with probability ∝ its squared
    /// distance to the nearest pick, from a generator seeded with `seed`. Distances use
    /// ‖gᵢ − gⱼ‖² = ‖aᵢ‖²‖hᵢ‖² + ‖aⱼ‖²‖hⱼ‖² − 2(aᵢ·aⱼ)(hᵢ·hⱼ), never forming the C·K-long vectors.
    static func badge(probabilities: [[Double]], embeddings: [[Float]], count: Int, seed: UInt64) -> [Int] {
        let n = min(count, probabilities.count)
        guard n > 0 else { return [] }
        let a: [[Double]] = probabilities.map { p in
            let y = QueryStrategy.argmax(p)
            return p.enumerated().map { $0.offset == y ? $0.element - 1 : $0.element }
        }
        let h: [[Double]] = embeddings.map { $0.map(Double.init) }
        func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        let norms = a.indices.map { dot(a[$0], a[$0]) * dot(h[$0], h[$0]) }
        func distance(_ i: Int, _ j: Int) -> Double {
            max(0, norms[i] + norms[j] - 2 * dot(a[i], a[j]) * dot(h[i], h[j]))
        }
        var rng = SplitMix64(seed: seed)
        var first = 0
        for i in norms.indices where norms[i] > norms[first] { first = i }
        var chosen = [first]
        var taken = Set([first])
        var nearest = norms.indices.map { distance($0, first) }
        while chosen.count < n {
            let total = norms.indices.reduce(0.0) { $0 + (taken.contains($1) ? 0 : nearest[$1]) }
            var pick = -1
            if total > 0 {
                var target = rng.nextDouble() * total
                for i in norms.indices where !taken.contains(i) && nearest[i] > 0 {
                    pick = i
                    target -= nearest[i]
                    if target < 0 { break }
                }
            } else {
                pick = norms.indices.first { !taken.contains($0) } ?? -1
            }
            chosen.append(pick)
            taken.insert(pick)
            for i in norms.indices where !taken.contains(i) { nearest[i] = min(nearest[i], distance(i, pick)) }
        }
        return chosen
    }

    static func squaredDistance(_ x: [Float], _ y: [Float]) -> Double {
        var s = 0.0
        for j in 0..<min(x.count, y.count) {
            let d = Double(x[j]) - Double(y[j])
            s += d * d
        }
        return s
    }
}
