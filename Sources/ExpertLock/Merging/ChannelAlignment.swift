import Foundation
import MoEModels
import TensorCore

/// An expert seen as its intermediate channels: channel j is the vector (W_g[j, :], W_u[j, :], W_d[:, j])
/// of length 3C. Permuting the channels (rows of W_g and W_u with the columns of W_d) leaves the expert's
/// function unchanged, so two experts are compared, merged or matched channel to channel only after
/// aligning them (weight matching: Git Re-Basin; ZipIt and REAM align before averaging likewise).
struct ExpertChannels {
    /// [I, 3C] row-major: one row per channel.
    var rows: Tensor

    var channelCount: Int { rows.rows }
    var hiddenSize: Int { rows.lastDim / 3 }

    init(rows: Tensor) { self.rows = rows }

    init(gate: Tensor, up: Tensor, down: Tensor) {
        let i = gate.shape[0]
        let c = gate.shape[1]
        rows = Tensor(shape: [i, 3 * c]) { out in
            gate.withUnsafeBufferPointer { g in
                up.withUnsafeBufferPointer { u in
                    down.withUnsafeBufferPointer { d in
                        for j in 0..<i {
                            for k in 0..<c {
                                out[j * 3 * c + k] = g[j * c + k]
                                out[j * 3 * c + c + k] = u[j * c + k]
                                out[j * 3 * c + 2 * c + k] = d[k * i + j]
                            }
                        }
                    }
                }
            }
        }
    }

    init(_ expert: Expert) throws {
        self.init(gate: try expert.gate.tensor(), up: try expert.up.tensor(), down: try expert.down.tensor())
    }

    /// Back to (gate [I, C], up [I, C], down [C, I]).
    var projections: (gate: Tensor, up: Tensor, down: Tensor) {
        let i = channelCount
        let c = hiddenSize
        var gate = Tensor(shape: [i, c])
        var up = Tensor(shape: [i, c])
        var down = Tensor(shape: [c, i])
        rows.withUnsafeBufferPointer { r in
            for j in 0..<i {
                for k in 0..<c {
                    gate.data[j * c + k] = r[j * 3 * c + k]
                    up.data[j * c + k] = r[j * 3 * c + c + k]
                    down.data[k * i + j] = r[j * 3 * c + 2 * c + k]
                }
            }
        }
        return (gate, up, down)
    }

    /// The channels `order` (a permutation or a subset), in that order.
    func selecting(_ order: [Int]) -> ExpertChannels {
        ExpertChannels(rows: TensorCore.gatherRows(Variable(rows), order).value)
    }

    /// Cosine similarity [I_self, I_other] of every channel of self with every channel of `other`.
    func channelSimilarity(to other: ExpertChannels) -> [[Float]] {
        let a = Self.unitRows(rows)
        let b = Self.unitRows(other.rows)
        let s = Gemm.matmul(a, b, transposeB: true)  // [I_a, 3C] x [I_b, 3C]ᵀ -> [I_a, I_b]
        let width = s.lastDim
        return (0..<s.rows).map { Array(s.data[($0 * width)..<(($0 + 1) * width)]) }
    }

    /// For each channel of self, the channel of `other` it pairs with: a one-to-one matching of the
    /// highest total cosine (Hungarian). With fewer channels in self than in `other`, a partial
    /// permutation (inner pruning kept a subset).
    func alignment(to other: ExpertChannels) -> [Int] {
        ExpertAssignment.maximize(channelSimilarity(to: other))
    }

    static func unitRows(_ t: Tensor) -> Tensor {
        let w = t.lastDim
        return Tensor(shape: t.shape) { out in
            t.withUnsafeBufferPointer { p in
                for r in 0..<t.rows {
                    var s: Float = 0
                    for j in 0..<w { s += p[r * w + j] * p[r * w + j] }
                    let inv = s > 0 ? 1 / s.squareRoot() : 0
                    for j in 0..<w { out[r * w + j] = p[r * w + j] * inv }
                }
            }
        }
    }
}
