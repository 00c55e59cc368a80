import Foundation

// Softmax and log-softmax over the last dimension, evaluated in the order of PyTorch's vectorised
// CPU kernels (max, exp(x − max), sum, multiply by 1/sum).

extension Kernels {
    /// dst = softmax(src) over one row of n elements; src and dst may alias.
    @inline(__always)
    static func softmaxRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = max(src, n)
        let inverse = 1 / expShifted(src, dst, n, shift: m)
        for c in 0..<n { dst[c] *= inverse }
    }

    /// log Σ exp(src) over one row of n elements (max-shifted).
    @inline(__always)
    static func logSumExp(_ src: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = max(src, n)
        return m + Foundation.log(expShiftedSum(src, n, shift: m))
    }
}

/// Softmax over the last dim: [.., C] -> [.., C]. Backward: dx = y ⊙ (g − Σ g⊙y).
public func softmax(_ x: Variable) -> Variable {
    let xv = x.value
    let width = xv.lastDim
    let rows = xv.rows
    let out = Tensor(
        shape: xv.shape,
        uninitialized: { po in
            let po = po.baseAddress!
            xv.withUnsafeBufferPointer { px in
                let px = px.baseAddress!
                Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                    for r in rs { Kernels.softmaxRow(px + r * width, po + r * width, width) }
                }
            }
        })
    return Variable(out, parents: [x]) { g in [softmaxBackward(g, probabilities: out)] }
}

/// dx = y ⊙ (g − Σ_c g⊙y) row by row, for y = softmax(x).
func softmaxBackward(_ g: Tensor, probabilities y: Tensor) -> Tensor {
    let width = y.lastDim
    return Tensor(
        shape: y.shape,
        uninitialized: { pdx in
            let pdx = pdx.baseAddress!
            g.withUnsafeBufferPointer { pg in
                y.withUnsafeBufferPointer { py in
                    let pg = pg.baseAddress!
                    let py = py.baseAddress!
                    Parallel.forEach(y.rows, grain: Kernels.grain(rowWidth: width)) { rs in
                        for r in rs {
                            let gr = pg + r * width
                            let yr = py + r * width
                            let s = Kernels.dot(gr, yr, width)
                            for c in 0..<width { pdx[r * width + c] = yr[c] * (gr[c] - s) }
                        }
                    }
                }
            }
        })
}

/// Log-softmax over the last dim: y = (x − max) − log Σ exp(x − max). [.., C] -> [.., C].
/// Backward: dx = g − exp(y) · Σ g.
public func logSoftmax(_ x: Variable) -> Variable {
    let xv = x.value
    let width = xv.lastDim
    let rows = xv.rows
    let out = Tensor(
        shape: xv.shape,
        uninitialized: { po in
            let po = po.baseAddress!
            xv.withUnsafeBufferPointer { px in
                let px = px.baseAddress!
                Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                    for r in rs {
                        let xr = px + r * width
                        let yr = po + r * width
                        let m = Kernels.max(xr, width)
                        let logSum = log(Kernels.expShiftedSum(xr, width, shift: m))
                        for c in 0..<width { yr[c] = xr[c] - m - logSum }
                    }
                }
            }
        })
    return Variable(out, parents: [x]) { g in
        let dx = Tensor(
            shape: xv.shape,
            uninitialized: { pdx in
                let pdx = pdx.baseAddress!
                g.withUnsafeBufferPointer { pg in
                    out.withUnsafeBufferPointer { py in
                        let pg = pg.baseAddress!
                        let py = py.baseAddress!
                        Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                            for r in rs {
                                let gr = pg + r * width
                                let s = Kernels.sum(gr, width)
                                Kernels.lanes(
                                    gr, py + r * width, pdx + r * width, width, LogSoftmaxBackwardLanes(sum: s))
                            }
                        }
                    }
                }
            })
        return [dx]
    }
}

/// g − e^y · Σg for y = log-softmax(x).
struct LogSoftmaxBackwardLanes: LaneFunction2 {
    let sum: SIMD8<Float>
    init(sum: Float) { self.sum = SIMD8(repeating: sum) }
    @inline(__always) func callAsFunction(_ g: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        g - Kernels.exp(y) * sum
    }
}
