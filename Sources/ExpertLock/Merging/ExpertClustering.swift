/// Groups of experts for merging.
enum ExpertClustering {
    /// Agglomerative clustering with average linkage (HC-SMoE): start from singletons, repeatedly join
    /// the two clusters whose mean pairwise distance 1 − cos(f_a, f_b) is smallest, until `k` remain.
    /// Ties break towards the lower indices, so the grouping is deterministic. Returns clusters of
    /// expert indices, each ascending, ordered by their first member.
    static func averageLinkage(_ features: [[Float]], k: Int) -> [[Int]] {
        let n = features.count
        precondition(k >= 1 && k <= n, "averageLinkage: k = \(k) for \(n) experts")
        let distance = pairwiseCosineDistance(features)
        var clusters = (0..<n).map { [$0] }
        while clusters.count > k {
            var best = (a: 0, b: 1, d: Double.infinity)
            for a in 0..<clusters.count {
                for b in (a + 1)..<clusters.count {
                    var total = 0.0
                    for i in clusters[a] { for j in clusters[b] { total += distance[i][j] } }
                    let d = total / Double(clusters[a].count * clusters[b].count)
                    if d < best.d - 1e-12 { best = (a, b, d) }
                }
            }
            clusters[best.a] = (clusters[best.a] + clusters[best.b]).sorted()
            clusters.remove(at: best.b)
        }
        return clusters.sorted { $0[0] < $1[0] }
    }

    /// REAM-style grouping: the `k` experts of highest saliency are the centroids; every other expert
    /// joins the centroid whose feature it is most similar to (cosine). Each group lists its centroid first.
    static func centroids(_ features: [[Float]], saliency: [Double], k: Int) -> [[Int]] {
        let n = features.count
        precondition(k >= 1 && k <= n, "centroids: k = \(k) for \(n) experts")
        let order = (0..<n).sorted { saliency[$0] != saliency[$1] ? saliency[$0] > saliency[$1] : $0 < $1 }
        let centres = Array(order.prefix(k)).sorted()
        let distance = pairwiseCosineDistance(features)
        var groups = centres.map { [$0] }
        for e in 0..<n where !centres.contains(e) {
            let g = centres.indices.min { distance[e][centres[$0]] < distance[e][centres[$1]] }!
            groups[g].append(e)
        }
        return groups
    }

    static func pairwiseCosineDistance(_ f: [[Float]]) -> [[Double]] {
        let norms = f.map { v in v.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot() }
        return f.indices.map { i in
            f.indices.map { j in
                guard norms[i] > 0, norms[j] > 0 else { return i == j ? 0 : 1 }
                var dot = 0.0
                for (a, b) in zip(f[i], f[j]) { dot += Double(a * b) }
                return 1 - dot / (norms[i] * norms[j])
            }
        }
    }
}
