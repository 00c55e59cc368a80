import Foundation

// Rotary position embedding, Hugging Face "rotate_half" convention (pairs i and i + D/2), as in
// transformers' `LlamaRotaryEmbedding` + `apply_rotary_pos_emb`.
// Trap: the GPT-NeoX/HF layout pairs dimension i with i + D/2, not with i + 1 (the Meta layout).

/// inv_freq[i] = 1 / theta^(2i/D) for i in 0..<D/2, computed in Float32 the way transformers does
/// (`1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))`). glibc's powf is correctly rounded
/// while PyTorch's vectorised pow may differ by one ulp on rare elements; that moves an angle by
/// about 1e-7 relative.
public func ropeInverseFrequencies(headDim: Int, theta: Double) -> [Float] {
    (0..<(headDim / 2)).map { i in 1 / pow(Float(theta), Float(2 * i) / Float(headDim)) }
}

/// Rotates every head of every row by its position.
/// x [N, H*D]; row r has position `positions[r]` -> [N, H*D].
///
/// With c = cos(pos·inv_freq[i]), s = sin(…), for i < D/2:
/// y[i] = x[i]·c − x[i+D/2]·s, y[i+D/2] = x[i+D/2]·c + x[i]·s.
/// Backward is the inverse rotation (the transpose): dx[i] = g[i]·c + g[i+D/2]·s,
/// dx[i+D/2] = g[i+D/2]·c − g[i]·s. Nothing is cached: cos and sin are recomputed per row.
public func rope(_ x: Variable, heads: Int, headDim: Int, positions: [Int], theta: Double) -> Variable {
    let xv = x.value
    precondition(headDim % 2 == 0, "rope: head dimension \(headDim) must be even")
    precondition(xv.lastDim == heads * headDim, "rope: \(xv.shape) is not [N, \(heads)*\(headDim)]")
    precondition(xv.rows == positions.count, "rope: \(xv.rows) rows but \(positions.count) positions")
    let inverseFrequencies = ropeInverseFrequencies(headDim: headDim, theta: theta)
    let out = rotate(xv, heads: heads, headDim: headDim, positions: positions, inverseFrequencies, inverse: false)
    return Variable(out, parents: [x]) { g in
        [rotate(g, heads: heads, headDim: headDim, positions: positions, inverseFrequencies, inverse: true)]
    }
}

/// The rotation kernel, parallel over rows. cos and sin are tabulated once per distinct position
/// ([P, D/2] each; a batch of B sequences of length T needs T rows, not B·T), or per row when the
/// positions are sparse (a decoding step at position 1000).
func rotate(
    _ x: Tensor, heads: Int, headDim: Int, positions: [Int], _ inverseFrequencies: [Float], inverse: Bool
) -> Tensor {
    let width = x.lastDim
    let half = headDim / 2
    let maxPosition = positions.max() ?? 0
    let byPosition = (positions.min() ?? 0) >= 0 && maxPosition < 2 * positions.count
    let tableRows = byPosition ? maxPosition + 1 : positions.count
    var table = [Float](repeating: 0, count: tableRows * 2 * half)  // [P, cos | sin]
    table.withUnsafeMutableBufferPointer { pt in
        guard let pt = pt.baseAddress else { return }
        for t in 0..<tableRows {
            let position = Float(byPosition ? t : positions[t])
            for i in 0..<half {
                let angle = position * inverseFrequencies[i]
                pt[t * 2 * half + i] = cos(angle)
                pt[t * 2 * half + half + i] = inverse ? -sin(angle) : sin(angle)
            }
        }
    }
    return Tensor(
        shape: x.shape,
        uninitialized: { po in
            guard !positions.isEmpty else { return }
            let po = po.baseAddress!
            x.withUnsafeBufferPointer { px in
                table.withUnsafeBufferPointer { pt in
                    positions.withUnsafeBufferPointer { pp in
                        let px = px.baseAddress!
                        let pt = pt.baseAddress!
                        Parallel.forEach(pp.count, grain: Kernels.grain(rowWidth: width)) { rows in
                            for r in rows {
                                let cosines = pt + (byPosition ? pp[r] : r) * 2 * half
                                let sines = cosines + half
                                for h in 0..<heads {
                                    let xr = px + r * width + h * headDim
                                    let yr = po + r * width + h * headDim
                                    for i in 0..<half {
                                        let c = cosines[i]
                                        let s = sines[i]
                                        let a = xr[i]
                                        let b = xr[half + i]
                                        yr[i] = a * c - b * s
                                        yr[half + i] = b * c + a * s
                                    }
                                }
                            }
                        }
                    }
                }
            }
        })
}
