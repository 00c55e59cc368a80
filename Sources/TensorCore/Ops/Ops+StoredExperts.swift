import Foundation

// The routed experts of an MoE layer at inference, computed from their weights as stored (bfloat16,
// usually a mapped checkpoint): `groupedExperts`' forward without a graph and without a Float32 copy of
// any weight. The layer's experts run as one parallel job, one expert per worker at a time (dynamic,
// busiest first), each expert's three products whole on its worker (`StoredGemm` does not split inside
// a parallel region), so every weight row is read once per pass.

/// Float32 elements of expert outputs `storedExperts` keeps alive by default (128 MB).
public let storedExpertOutputElements = 1 << 25

/// Routed SwiGLU experts from stored weights. x [N, C]; per expert e: `gate[e]`, `up[e]` [I, C] and
/// `down[e]` [C, I] (bfloat16); `tokens[e]` the rows of x routed to e and `slots[e]` the flat index of
/// each one's gate weight in `weights` ([N, K]). -> [N, C]:
///
///     out[t] = Σ_e Σ_{i: tokens[e][i] = t} weights[slots[e][i]] · down_e(silu(gate_e·x_t) ⊙ up_e·x_t)
///
/// summed per row in expert order whatever the thread count (a run repeats bit for bit). With K = 8 the
/// experts' outputs together are N·8 rows; they are made and summed a group of experts at a time, groups of
/// about `rowsPerGroup` rows: by default as many as `storedExpertOutputElements` allows, at least 2N. Each
/// group ends with a wait for its slowest expert, so one group per layer (all of a 2,048-token pass of
/// OLMoE or Qwen3 widths: 128 MB of outputs) leaves the workers idle once instead of four times.
public func storedExperts(
    _ x: Tensor, gate: [BF16Matrix], up: [BF16Matrix], down: [BF16Matrix], tokens: [[Int]], slots: [[Int]],
    weights: Tensor, precision: Precision, rowsPerGroup: Int? = nil, kernel: StoredGemm.Kernel = StoredGemm.kernel
) -> Tensor {
    let (n, c) = (x.rows, x.lastDim)
    let experts = tokens.count
    precondition(
        gate.count == experts && up.count == experts && down.count == experts && slots.count == experts,
        "storedExperts: \(experts) token "
            + "lists, \(gate.count)/\(up.count)/\(down.count) weights, \(slots.count) slot lists"
    )
    for e in 0..<experts {
        let i = gate[e].rows
        precondition(
            gate[e].columns == c && up[e].rows == i && up[e].columns == c && down[e].rows == c && down[e].columns == i,
            "storedExperts: expert \(e) weight shapes do not fit width \(c)")
        precondition(tokens[e].count == slots[e].count, "storedExperts: expert \(e) token and slot counts differ")
        for t in tokens[e] { precondition(t >= 0 && t < n, "storedExperts: token row \(t) outside 0..<\(n)") }
        for s in slots[e] { precondition(s >= 0 && s < weights.count, "storedExperts: slot \(s) outside weights") }
    }
    var out = Tensor.zeros([n, c])
    let budget = max(1, rowsPerGroup ?? max(2 * n, storedExpertOutputElements / max(1, c)))
    var group: [Int] = []
    var rows = 0
    func flush() {
        guard !group.isEmpty else { return }
        let part = storedExpertGroup(
            x, group, gate: gate, up: up, down: down, tokens: tokens, slots: slots, weights: weights,
            precision: precision, kernel: kernel)
        out.add(part)
        group.removeAll(keepingCapacity: true)
        rows = 0
    }
    for e in 0..<experts where !tokens[e].isEmpty {
        if rows > 0 && rows + tokens[e].count > budget { flush() }
        group.append(e)
        rows += tokens[e].count
    }
    flush()
    return out
}

/// The gated outputs of `group`'s experts (ascending indices) scattered into zeros [N, C], each row
/// summed in expert order.
func storedExpertGroup(
    _ x: Tensor, _ group: [Int], gate: [BF16Matrix], up: [BF16Matrix], down: [BF16Matrix], tokens: [[Int]],
    slots: [[Int]], weights: Tensor, precision: Precision, kernel: StoredGemm.Kernel
) -> Tensor {
    let c = x.lastDim
    var outputs = [Tensor](repeating: Tensor.zeros([0]), count: group.count)
    let busiestFirst = group.indices.sorted { tokens[group[$0]].count > tokens[group[$1]].count }
    outputs.withUnsafeMutableBufferPointer { po in
        let po = UncheckedSendable(po)
        Parallel.forEachItem(in: busiestFirst) { position in
            let e = group[position]
            let xe = gatherKernel(x, tokens[e])  // [N, C] -> [n_e, C]
            var h = StoredGemm.linear(xe, gate[e], precision: precision, kernel: kernel)  // [n_e, I]
            h.formZipLanes(StoredGemm.linear(xe, up[e], precision: precision, kernel: kernel), SwiGLULanes())
            var y = StoredGemm.linear(h, down[e], precision: precision, kernel: kernel)  // [n_e, C]
            weights.withUnsafeBufferPointer { pw in
                y.withUnsafeMutableBufferPointer { py in
                    for (i, slot) in slots[e].enumerated() {
                        let f = pw[slot]
                        for j in 0..<c { py[i * c + j] *= f }
                    }
                }
            }
            po.value[position] = y
        }
    }
    return scatterAddKernel(outputs, group.map { tokens[$0] }, rowCount: x.rows, width: c)
}
