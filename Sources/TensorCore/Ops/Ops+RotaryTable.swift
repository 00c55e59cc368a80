import Foundation

// Rotary position embedding with a given frequency table: what YaRN, linear and llama3 scaling,
// partial rotary (GLM-4.5) and DeepSeek's interleaved layout need beyond `rope(_:theta:)`.
// Trap: the scaled table's `attentionScaling` multiplies cos and sin (transformers'
// `cos = emb.cos() * attention_scaling`), so it scales the rotated channels only, never the
// channels a partial rotary passes through.

/// Where the two channels of a rotated pair sit within a head's first `rotaryDim` channels.
public enum RotaryLayout: Sendable, Equatable {
    /// Channel i with i + rotaryDim/2 (transformers' `rotate_half`).
    case half
    /// Channel 2i with 2i + 1 (DeepSeek's `rope_interleave`). transformers permutes q and k to the half
    /// layout first; a permutation shared by queries and keys leaves every attention score unchanged.
    case interleaved
}

/// Rotates the first `rotaryDim` channels of every head by its position, leaving the rest as they are.
/// x [N, H*D]; row r has position `positions[r]`; `inverseFrequencies` [rotaryDim/2] -> [N, H*D].
///
/// For pair (a, b) with angle θ = pos·inv_freq[i]: y_a = s·(a·cos θ − b·sin θ),
/// y_b = s·(b·cos θ + a·sin θ), s = `attentionScaling`. Backward is the transpose: dx_a = s·(g_a·cos θ + g_b·sin θ),
/// dx_b = s·(g_b·cos θ − g_a·sin θ); passed-through channels pass their gradient.
public func rope(
    _ x: Variable, heads: Int, headDim: Int, positions: [Int], inverseFrequencies: [Float],
    attentionScaling: Float = 1, rotaryDim: Int? = nil, layout: RotaryLayout = .half
) -> Variable {
    let xv = x.value
    let rotary = rotaryDim ?? headDim
    precondition(rotary % 2 == 0 && rotary <= headDim, "rope: rotary dimension \(rotary) of head \(headDim)")
    precondition(inverseFrequencies.count == rotary / 2, "rope: \(inverseFrequencies.count) frequencies for \(rotary)")
    precondition(xv.lastDim == heads * headDim, "rope: \(xv.shape) is not [N, \(heads)*\(headDim)]")
    precondition(xv.rows == positions.count, "rope: \(xv.rows) rows but \(positions.count) positions")
    let table = RotaryTable(
        positions: positions, inverseFrequencies: inverseFrequencies, scaling: attentionScaling,
        heads: heads, headDim: headDim, rotaryDim: rotary, layout: layout)
    let out = table.apply(xv, inverse: false)
    return Variable(out, parents: [x]) { g in [table.apply(g, inverse: true)] }
}

/// cos and sin of each row's angles (already times the attention scaling), and the kernel that uses them.
struct RotaryTable {
    let heads: Int, headDim: Int, rotaryDim: Int
    let layout: RotaryLayout
    /// [N, rotaryDim/2] each.
    let cosines: [Float], sines: [Float]

    init(
        positions: [Int], inverseFrequencies: [Float], scaling: Float, heads: Int, headDim: Int, rotaryDim: Int,
        layout: RotaryLayout
    ) {
        self.heads = heads
        self.headDim = headDim
        self.rotaryDim = rotaryDim
        self.layout = layout
        let half = rotaryDim / 2
        var c = [Float](repeating: 0, count: positions.count * half)
        var s = c
        for (r, p) in positions.enumerated() {
            for i in 0..<half {
                let angle = Float(p) * inverseFrequencies[i]  // Float32 product, as transformers
                c[r * half + i] = cos(angle) * scaling
                s[r * half + i] = sin(angle) * scaling
            }
        }
        cosines = c
        sines = s
    }

    /// x [N, H*D] -> [N, H*D]; `inverse` applies the transpose (backward).
    func apply(_ x: Tensor, inverse: Bool) -> Tensor {
        let width = x.lastDim
        let half = rotaryDim / 2
        let rows = x.rows
        return Tensor(shape: x.shape) { po in
            let po = UncheckedSendable(po)
            x.withUnsafeBufferPointer { px in
                cosines.withUnsafeBufferPointer { pc in
                    sines.withUnsafeBufferPointer { ps in
                        let (px, pc, ps) = (px.baseAddress!, pc.baseAddress!, ps.baseAddress!)
                        Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                            for r in rs {
                                for h in 0..<heads {
                                    let base = r * width + h * headDim
                                    for i in 0..<half {
                                        let (ia, ib) = layout == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
                                        let c = pc[r * half + i]
                                        let s = inverse ? -ps[r * half + i] : ps[r * half + i]
                                        let a = px[base + ia]
                                        let b = px[base + ib]
                                        po.value[base + ia] = a * c - b * s
                                        po.value[base + ib] = b * c + a * s
                                    }
                                    for j in rotaryDim..<headDim { po.value[base + j] = px[base + j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
