import Foundation

// The short causal depthwise convolution of linear-attention layers (Gated DeltaNet's `conv1d`, groups =
// channels, padding kernel − 1, the first `seq` outputs kept: transformers' causal_conv1d_fn). Each channel
// c of each sequence: y[t, c] = Σ_j w[c, j] · x[t − (K − 1) + j, c], zero before the sequence starts.

/// x [B*T, C], weight [C, K] -> [B*T, C]. Backward: dx[t − (K−1) + j, c] += w[c, j] dy[t, c];
/// dw[c, j] += x[t − (K−1) + j, c] dy[t, c].
public func causalDepthwiseConv(_ x: Variable, weight: Variable, batch: Int, seq: Int) -> Variable {
    let xv = x.value
    let wv = weight.value
    let out = CausalConv.forward(xv, weight: wv, batch: batch, seq: seq)
    return Variable(out, parents: [x, weight]) { g in
        let (c, kernel) = (xv.lastDim, wv.lastDim)
        var dx: Tensor?
        var dw: Tensor?
        if x.requiresGrad {
            var d = [Float](repeating: 0, count: xv.count)
            for b in 0..<batch {
                for t in 0..<seq {
                    for j in 0..<kernel {
                        let s = t - (kernel - 1) + j
                        guard s >= 0 else { continue }
                        let (yo, xo) = ((b * seq + t) * c, (b * seq + s) * c)
                        for ch in 0..<c { d[xo + ch] += wv.data[ch * kernel + j] * g.data[yo + ch] }
                    }
                }
            }
            dx = Tensor(shape: xv.shape, data: d)
        }
        if weight.requiresGrad {
            var d = [Float](repeating: 0, count: wv.count)
            for b in 0..<batch {
                for t in 0..<seq {
                    for j in 0..<kernel {
                        let s = t - (kernel - 1) + j
                        guard s >= 0 else { continue }
                        let (yo, xo) = ((b * seq + t) * c, (b * seq + s) * c)
                        for ch in 0..<c { d[ch * kernel + j] += xv.data[xo + ch] * g.data[yo + ch] }
                    }
                }
            }
            dw = Tensor(shape: wv.shape, data: d)
        }
        return [dx, dw]
    }
}

/// The convolution without a graph, and its decoding form over a kept history.
public enum CausalConv {
    /// x [B*T, C], weight [C, K] -> [B*T, C].
    public static func forward(_ x: Tensor, weight: Tensor, batch: Int, seq: Int) -> Tensor {
        let (c, kernel) = (x.lastDim, weight.lastDim)
        precondition(
            x.rows == batch * seq && weight.shape == [c, kernel], "causalDepthwiseConv: \(x.shape) \(weight.shape)")
        var out = [Float](repeating: 0, count: x.count)
        let (xd, wd) = (x.data, weight.data)
        out.withUnsafeMutableBufferPointer { po in
            let po = UncheckedSendable(po)
            Parallel.forEach(batch * seq, grain: Kernels.grain(rowWidth: c * kernel)) { rows in
                for row in rows {
                    let (b, t) = (row / seq, row % seq)
                    for j in 0..<kernel {
                        let s = t - (kernel - 1) + j
                        guard s >= 0 else { continue }
                        let xo = (b * seq + s) * c
                        for ch in 0..<c { po.value[row * c + ch] += wd[ch * kernel + j] * xd[xo + ch] }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    /// One sequence continued after `history` (its last K − 1 inputs [K−1, C], zeros at the start): x [T, C]
    /// -> [T, C]; `history` becomes the last K − 1 inputs including these.
    public static func continuing(_ x: Tensor, weight: Tensor, history: inout [Float]) -> Tensor {
        let (c, kernel) = (x.lastDim, weight.lastDim)
        precondition(history.count == (kernel - 1) * c, "causalDepthwiseConv: history of \(history.count) floats")
        let joined = Tensor(shape: [kernel - 1 + x.rows, c], data: history + x.data)
        let all = forward(joined, weight: weight, batch: 1, seq: joined.rows)
        history = Array(joined.data[(joined.count - (kernel - 1) * c)...])
        return Tensor(shape: x.shape, data: Array(all.data[((kernel - 1) * c)...]))
    }
}

/// Columns `indices` of x [N, C] -> [N, indices.count] (a fixed permutation or selection, e.g. regrouping a
/// projection stored head by head). Backward adds the gradient back into those columns.
public func gatherColumns(_ x: Variable, _ indices: [Int]) -> Variable {
    let xv = x.value
    let (rows, width, n) = (xv.rows, xv.lastDim, indices.count)
    precondition(indices.allSatisfy { $0 >= 0 && $0 < width }, "gatherColumns: index outside 0..<\(width)")
    var out = [Float](repeating: 0, count: rows * n)
    for r in 0..<rows {
        for (j, i) in indices.enumerated() { out[r * n + j] = xv.data[r * width + i] }
    }
    return Variable(Tensor(shape: [rows, n], data: out), parents: [x]) { g in
        var dx = [Float](repeating: 0, count: xv.count)
        for r in 0..<rows {
            for (j, i) in indices.enumerated() { dx[r * width + i] += g.data[r * n + j] }
        }
        return [Tensor(shape: xv.shape, data: dx)]
    }
}

/// Gated DeltaNet's log decay g = −exp(A_log) · softplus(a + dt_bias), per value head: a [N, H], dtBias and
/// aLog [H] -> [N, H]. Softplus as torch's (β 1, threshold 20: the identity above 20).
public func gatedDecay(_ a: Variable, dtBias: Variable, aLog: Variable) -> Variable {
    let av = a.value
    let dt = dtBias.value
    let al = aLog.value
    let (rows, h) = (av.rows, av.lastDim)
    precondition(dt.count == h && al.count == h, "gatedDecay: \(dt.shape), \(al.shape) for \(av.shape)")
    var out = [Float](repeating: 0, count: av.count)
    var slope = [Float](repeating: 0, count: av.count)  // d softplus / d(a + dt)
    for r in 0..<rows {
        for j in 0..<h {
            let x = av.data[r * h + j] + dt.data[j]
            let softplus = x > 20 ? x : Foundation.log1p(Foundation.exp(x))
            slope[r * h + j] = x > 20 ? 1 : 1 / (1 + Foundation.exp(-x))
            out[r * h + j] = -Foundation.exp(al.data[j]) * softplus
        }
    }
    let value = Tensor(shape: av.shape, data: out)
    return Variable(value, parents: [a, dtBias, aLog]) { g in
        var da = [Float](repeating: 0, count: av.count)
        var ddt = [Float](repeating: 0, count: h)
        var dal = [Float](repeating: 0, count: h)
        for r in 0..<rows {
            for j in 0..<h {
                let i = r * h + j
                da[i] = -Foundation.exp(al.data[j]) * slope[i] * g.data[i]
                ddt[j] += da[i]
                dal[j] += out[i] * g.data[i]  // d/dA_log of −e^A_log·sp is the value itself
            }
        }
        return [
            Tensor(shape: av.shape, data: da), Tensor(shape: dt.shape, data: ddt), Tensor(shape: al.shape, data: dal),
        ]
    }
}
