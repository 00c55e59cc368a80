import Foundation

// Reductions over plain tensors, viewed as [rows, lastDim] where a row matters.

extension Tensor {
    /// Σ of all elements (Float, fixed blocks summed in parallel: the result does not depend on
    /// the thread count).
    public func sum() -> Float {
        withUnsafeBufferPointer { Kernels.blockedSum($0.baseAddress!, $0.count) }
    }

    /// Mean of all elements (0 for an empty tensor).
    public func mean() -> Float { count == 0 ? 0 : sum() / Float(count) }

    /// Euclidean norm of all elements, accumulated in Double.
    public func l2Norm() -> Float {
        var total: Double = 0
        withUnsafeBufferPointer { p in
            for v in p { total += Double(v) * Double(v) }
        }
        return Float(total.squareRoot())
    }

    /// Applies `f(row pointer, width)` to each row: [rows, C] -> [rows].
    func reduceRows(_ f: (UnsafePointer<Float>, Int) -> Float) -> Tensor {
        let width = lastDim
        let n = rows
        return Tensor(
            shape: [n],
            uninitialized: { po in
                let po = po.baseAddress!
                withUnsafeBufferPointer { px in
                    let px = px.baseAddress!
                    Parallel.forEach(n, grain: Kernels.grain(rowWidth: width)) { rs in
                        for r in rs { po[r] = f(px + r * width, width) }
                    }
                }
            })
    }

    /// Σ over the last dim: [rows, C] -> [rows].
    public func rowSums() -> Tensor { reduceRows { Kernels.sum($0, $1) } }

    /// Euclidean norm of each row: [rows, C] -> [rows] (expert output norms for attribution).
    public func rowL2Norms() -> Tensor { reduceRows { Kernels.dot($0, $0, $1).squareRoot() } }

    /// Largest element of each row: [rows, C] -> [rows].
    public func rowMax() -> Tensor { reduceRows { Kernels.max($0, $1) } }

    /// Σ over the rows: [rows, C] -> [C].
    public func columnSums() -> Tensor {
        let width = lastDim
        let n = rows
        return Tensor(
            shape: [width],
            uninitialized: { po in
                withUnsafeBufferPointer { px in
                    let px = px.baseAddress!
                    Kernels.columnReduce(rows: n, width: width, into: po.baseAddress!) { r, cols, acc in
                        for c in cols { acc[c] += px[r * width + c] }
                    }
                }
            })
    }

    /// Index of the largest element of each row, ties to the lower index (greedy decoding,
    /// classification): [rows, C] -> [rows].
    public func argmaxRows() -> [Int] {
        let width = lastDim
        let n = rows
        var result = [Int](repeating: 0, count: n)
        withUnsafeBufferPointer { px in
            result.withUnsafeMutableBufferPointer { pr in
                let px = px.baseAddress!
                let pr = pr.baseAddress!
                Parallel.forEach(n, grain: Kernels.grain(rowWidth: width)) { rs in
                    for r in rs {
                        let row = px + r * width
                        var best = 0
                        for c in 1..<max(1, width) where row[c] > row[best] { best = c }
                        pr[r] = best
                    }
                }
            }
        }
        return result
    }
}
