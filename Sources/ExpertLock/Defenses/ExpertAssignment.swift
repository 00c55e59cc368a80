/// Pairs suspect experts with original experts so that the total similarity is highest
/// (the linear assignment problem; Kuhn–Munkres / Hungarian algorithm with potentials, O(n²m)).
///
/// With S ≤ O every suspect expert gets a distinct original expert (a pruned model keeps a subset);
/// with S > O (duplicated experts) each suspect expert takes its most similar original expert.
enum ExpertAssignment {
    /// For each row of `similarity` [S][O], the column assigned to it.
    static func maximize(_ similarity: [[Float]]) -> [Int] {
        let n = similarity.count
        guard n > 0 else { return [] }
        let m = similarity[0].count
        guard m > 0 else { return [] }
        if n > m {
            return similarity.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
        }
        // Minimise cost = −similarity. 1-based arrays as in the classic formulation.
        let inf = Double.greatestFiniteMagnitude
        var u = [Double](repeating: 0, count: n + 1)
        var v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1)  // p[j]: row matched to column j
        var way = [Int](repeating: 0, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            var minv = [Double](repeating: inf, count: m + 1)
            var used = [Bool](repeating: false, count: m + 1)
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = inf
                var j1 = 0
                for j in 1...m where !used[j] {
                    let cur = -Double(similarity[i0 - 1][j - 1]) - u[i0] - v[j]
                    if cur < minv[j] {
                        minv[j] = cur
                        way[j] = j0
                    }
                    if minv[j] < delta {
                        delta = minv[j]
                        j1 = j
                    }
                }
                for j in 0...m {
                    if used[j] {
                        u[p[j]] += delta
                        v[j] -= delta
                    } else {
                        minv[j] -= delta
                    }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var assignment = [Int](repeating: 0, count: n)
        for j in 1...m where p[j] != 0 { assignment[p[j] - 1] = j - 1 }
        return assignment
    }
}
