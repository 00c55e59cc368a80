import Foundation
import TensorCore

// Experts stored fused on disk: all experts of a layer in 3-D tensors whose dimension 0 is the expert.
// The model keeps one `Expert` per index (so routing masks, attribution, LoRA and pruning see experts);
// the loader serves each expert's matrices from the fused tensors, one expert at a time, and the saver
// packs them back into the layout the checkpoint had. Ports:
// - transformers 5 conversions (Qwen3.5-MoE, Mixtral, Qwen): gate_up_proj [E, 2I, C] (gate rows first),
//   down_proj [E, C, I];
// - gpt-oss (`GptOssExperts`) and Llama-4 (`Llama4TextExperts`): x @ W, so gate_up_proj [E, C, 2I] and
//   down_proj [E, I, C]; gpt-oss interleaves gate and up columns (`gate_up[..., ::2]`, `[..., 1::2]`),
//   Llama-4 chunks them (gate first); gpt-oss adds `gate_up_proj_bias` [E, 2I] and `down_proj_bias` [E, C];
// - MXFP4 (transformers' integrations/mxfp4.py): `<proj>_blocks` [E, R, C/32, 16] holds two E2M1 codes per
//   byte (low nibble first) of output row r, `<proj>_scales` [E, R, C/32] an E8M0 exponent (bias 127) per
//   32 values; R is the output (2I interleaved rows, or C), so the blocks are in the [out, in] orientation.

/// How a family stores its experts fused.
public struct FusedExpertLayout: Sendable, Equatable {
    /// Which dimension of a fused tensor comes after the expert.
    public enum Orientation: Sendable {
        /// [E, out, in]: gate_up_proj [E, 2I, C], down_proj [E, C, I].
        case outputsFirst
        /// [E, in, out] (the expert computes x @ W): gate_up_proj [E, C, 2I], down_proj [E, I, C].
        case inputsFirst
    }

    /// Where gate and up sit along gate_up's output dimension.
    public enum GateUp: Sendable {
        /// Gate first, then up (`chunk(2)`).
        case halves
        /// Gate at even, up at odd positions (gpt-oss).
        case interleaved
    }

    public var orientation: Orientation
    public var gateUp: GateUp
    /// `gate_up_proj_bias` and `down_proj_bias` (gpt-oss).
    public var biases = false

    /// transformers 5's own fused layout (what the loader reads for every family that has none of its own).
    public static let transformers = FusedExpertLayout(orientation: .outputsFirst, gateUp: .halves)

    /// Output position of channel `i` of the gate (or up) projection inside gate_up's 2I outputs.
    func gateUpIndex(_ i: Int, up: Bool, intermediate: Int) -> Int {
        switch gateUp {
        case .halves: up ? intermediate + i : i
        case .interleaved: up ? 2 * i + 1 : 2 * i
        }
    }
}

/// MXFP4 decoding (transformers' `_convert_moe_packed_tensors`).
public enum MXFP4 {
    /// The E2M1 value of each 4-bit code (`FP4_VALUES`).
    public static let values: [Float] = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6]
    /// Values per scale.
    public static let group = 32

    /// Rows `rows` of expert `expert` as Float32 [rows.count, G*32], from blocks [E, R, G, 16] and scales [E, R, G].
    static func rows(
        _ rows: [Int], expert: Int, blocks: UnsafeRawBufferPointer, scales: UnsafeRawBufferPointer, outputs: Int,
        groups: Int
    ) -> Tensor {
        let width = groups * group
        return Tensor(shape: [rows.count, width]) { out in
            for (n, r) in rows.enumerated() {
                let row = expert * outputs + r
                for g in 0..<groups {
                    let scale = Float(sign: .plus, exponent: Int(scales[row * groups + g]) - 127, significand: 1)
                    for b in 0..<(group / 2) {
                        let byte = blocks[(row * groups + g) * (group / 2) + b]
                        out[n * width + g * group + 2 * b] = values[Int(byte & 0x0F)] * scale
                        out[n * width + g * group + 2 * b + 1] = values[Int(byte >> 4)] * scale
                    }
                }
            }
        }
    }
}

extension TensorResolver {
    /// One expert's matrix or bias of a per-expert name (`experts.E.gate_proj.weight`, `.bias`), served
    /// from the layer's fused tensors in `layout` (BF16/F32, or MXFP4 blocks and scales).
    func fusedExpertSource(name: String, shape: [Int], layout: FusedExpertLayout) throws -> Source? {
        guard case let .expert(layer, block, e, projection, suffix) = TensorName(parsing: name),
            ["gate_proj", "up_proj", "down_proj", "w1", "w3", "w2"].contains(projection)
        else { return nil }
        let isDown = projection == "down_proj" || projection == "w2"
        let isUp = projection == "up_proj" || projection == "w3"
        let base = stored(
            TensorName.fusedExperts(
                layer: layer, block: block, projection: isDown ? "down_proj" : "gate_up_proj"
            ).text)
        let checkpoint = self.checkpoint
        func claim(_ tensor: String, _ expected: [Int]) throws -> TensorInfo? {
            guard let info = checkpoint.info(tensor) else { return nil }
            guard info.shape.count == expected.count, e < info.shape[0],
                Array(info.shape.dropFirst()) == Array(expected.dropFirst())
            else {
                throw ModelError.shapeMismatch(
                    file: fileName(tensor), name: tensor,
                    expected: [Swift.max(info.shape.first ?? 0, e + 1)]
                        + expected.dropFirst(), actual: info.shape)
            }
            markUsed(tensor)
            return info
        }
        if suffix == "bias" {
            // gate_up_proj_bias [E, 2I] or down_proj_bias [E, C]: entries of expert e.
            let i = shape[0]
            let width = isDown ? i : 2 * i
            guard layout.biases, try claim(base + "_bias", [0, width]) != nil else { return nil }
            let picks = isDown ? Array(0..<i) : (0..<i).map { layout.gateUpIndex($0, up: isUp, intermediate: i) }
            let dtype = checkpoint.info(base + "_bias")!.dtype
            return (
                {
                    let row = try checkpoint.rows(
                        of: base + "_bias", rowLength: width, range: e..<(e + 1), shape: [width])
                    return Tensor(shape: shape, data: picks.map { row.data[$0] })
                }, nil, nil, dtype
            )
        }
        guard suffix == "weight" else { return nil }
        let (outputs, inputs) = (shape[0], shape[1])  // the per-expert matrix [out, in]
        let fusedOutputs = isDown ? outputs : 2 * outputs
        let picks =
            isDown
            ? Array(0..<outputs)
            : (0..<outputs).map {
                layout.gateUpIndex($0, up: isUp, intermediate: outputs)
            }
        if let blocksInfo = try claim(base + "_blocks", [0, fusedOutputs, inputs / MXFP4.group, MXFP4.group / 2]) {
            guard inputs % MXFP4.group == 0,
                try claim(base + "_scales", [0, fusedOutputs, inputs / MXFP4.group]) != nil,
                let file = checkpoint.file(containing: base + "_blocks"),
                let scalesFile = checkpoint.file(containing: base + "_scales")
            else { throw ModelError.missingTensor(file: checkpoint.directory.path, name: base + "_scales") }
            guard blocksInfo.dtype == .u8 else {
                throw ModelError.unsupported(
                    file: fileName(base + "_blocks"), feature: "MXFP4 blocks of dtype \(blocksInfo.dtype)")
            }
            // Dequantised on use, one expert's rows at a time (never a whole layer).
            return (
                {
                    try file.withRawBytes(base + "_blocks") { blocks, _ in
                        try scalesFile.withRawBytes(base + "_scales") { scales, _ in
                            MXFP4.rows(
                                picks, expert: e, blocks: blocks, scales: scales, outputs: fusedOutputs,
                                groups: inputs / MXFP4.group)
                        }
                    }
                }, nil, nil, .u8
            )
        }
        switch layout.orientation {
        case .outputsFirst:
            guard let info = try claim(base, [0, fusedOutputs, inputs]) else { return nil }
            let rows = picks.map { e * fusedOutputs + $0 }
            let contiguous = rows.last.map { $0 - rows[0] + 1 == rows.count } ?? true
            return (
                {
                    let first = rows[0]
                    let span = rows.last! - first + 1
                    let slab = try checkpoint.rows(
                        of: base, rowLength: inputs, range: first..<(first + span), shape: [span, inputs])
                    return contiguous ? slab.reshaped(shape) : gatherRows(Variable(slab), rows.map { $0 - first }).value
                }, contiguous ? bf16Source(base, firstRow: rows[0], shape: shape) : nil, nil, info.dtype
            )
        case .inputsFirst:
            guard let info = try claim(base, [0, inputs, fusedOutputs]) else { return nil }
            return (
                {
                    // Expert e's [in, fused outputs] slab, transposed into [out, in] for the picked outputs.
                    let slab = try checkpoint.rows(
                        of: base, rowLength: fusedOutputs, range: (e * inputs)..<((e + 1) * inputs),
                        shape: [inputs, fusedOutputs])
                    return Tensor(shape: shape) { out in
                        for (o, column) in picks.enumerated() {
                            for c in 0..<inputs { out[o * inputs + c] = slab.data[c * fusedOutputs + column] }
                        }
                    }
                }, nil, nil, info.dtype
            )
        }
    }
}

/// The MXFP4 bytes a model's experts came from, so that saving (pruning) copies each kept expert's
/// blocks and scales byte for byte instead of re-quantising.
public struct QuantizedExpertSource: @unchecked Sendable {
    let checkpoint: SafeTensorsCheckpoint
    /// For each sparse layer (by layer index), the original expert index of each current expert.
    var origin: [Int: [Int]]

    /// The source with only `kept[l]` of the experts of sparse layer `layers[l]`.
    func keeping(_ kept: [[Int]], layers: [Int]) -> QuantizedExpertSource {
        var copy = self
        for (l, layer) in layers.enumerated() { copy.origin[layer] = kept[l].map { origin[layer]![$0] } }
        return copy
    }
}

extension MoEModel {
    /// Each sparse layer's experts packed into the family's fused layout: gate_up_proj / down_proj (+ `_bias`)
    /// from the per-expert values, or, for an MXFP4 source whose experts still hold their loaded values, the kept
    /// experts' `_blocks` and `_scales` copied from the source byte for byte. `keepStoredDTypes` (pruning): the
    /// dtype the source stored them in; otherwise `dtype`.
    func fusedCheckpointTensors(layout: FusedExpertLayout, dtype: DType, keepStoredDTypes: Bool) throws
        -> [PendingTensor]
    {
        var pending: [PendingTensor] = []
        let blockName = family.definition.layout.sparseBlock
        for layer in layers {
            guard let block = layer.moe, let first = block.experts.first else { continue }
            let e = block.expertCount, i = first.intermediateSize, c = config.hiddenSize
            func stored(_ p: Parameter?) -> DType {
                let own = p?.sourceDType.flatMap { keepStoredDTypes && $0.isConvertibleToFloat ? $0 : nil }
                return own ?? dtype
            }
            let gateUp = TensorName.fusedExperts(layer: layer.index, block: blockName, projection: "gate_up_proj").text
            let down = TensorName.fusedExperts(layer: layer.index, block: blockName, projection: "down_proj").text
            let unchanged = block.experts.allSatisfy { $0.parameters.allSatisfy(\.holdsSourceValues) }
            if let source = quantizedExperts, let origin = source.origin[layer.index], unchanged {
                for name in [gateUp, down].flatMap({ [$0 + "_blocks", $0 + "_scales"] }) {
                    guard let file = source.checkpoint.file(containing: name) else {
                        throw ModelError.missingTensor(file: source.checkpoint.directory.path, name: name)
                    }
                    let slices = try origin.map { try file.storedTensor(name, rows: $0..<($0 + 1)) }
                    var shape = slices[0].shape
                    shape[0] = origin.count
                    let bytes = slices.reduce(Data()) { $0 + $1.bytes }
                    pending.append(
                        .stored(
                            StoredTensor(
                                name: name, dtype: slices[0].dtype, shape: shape, bytes: bytes)))
                }
            } else if quantizedExperts != nil {
                throw ModelError.unsupported(
                    file: "layer \(layer.index)", feature: "saving changed MXFP4 experts (re-quantisation)")
            } else {
                let inputsFirst = layout.orientation == .inputsFirst
                var gu = [Float](repeating: 0, count: e * 2 * i * c), dn = [Float](repeating: 0, count: e * c * i)
                for (x, expert) in block.experts.enumerated() {
                    let g = try expert.gate.tensor(), u = try expert.up.tensor(), d = try expert.down.tensor()
                    for r in 0..<i {
                        let gr = layout.gateUpIndex(r, up: false, intermediate: i)
                        let ur = layout.gateUpIndex(r, up: true, intermediate: i)
                        for k in 0..<c {
                            gu[inputsFirst ? (x * c + k) * 2 * i + gr : (x * 2 * i + gr) * c + k] = g.data[r * c + k]
                            gu[inputsFirst ? (x * c + k) * 2 * i + ur : (x * 2 * i + ur) * c + k] = u.data[r * c + k]
                        }
                    }
                    for o in 0..<c {
                        for k in 0..<i {
                            dn[inputsFirst ? (x * i + k) * c + o : (x * c + o) * i + k] = d.data[o * i + k]
                        }
                    }
                }
                pending.append(
                    .float(
                        gateUp, Tensor(shape: inputsFirst ? [e, c, 2 * i] : [e, 2 * i, c], data: gu), stored(first.gate)
                    ))
                pending.append(
                    .float(
                        down, Tensor(shape: inputsFirst ? [e, i, c] : [e, c, i], data: dn), stored(first.down)))
            }
            guard layout.biases else { continue }
            var gub = [Float](repeating: 0, count: e * 2 * i), db = [Float](repeating: 0, count: e * c)
            for (x, expert) in block.experts.enumerated() {
                guard let gb = expert.gateBias, let ub = expert.upBias, let dbp = expert.downBias else { continue }
                let g = try gb.tensor(), u = try ub.tensor(), d = try dbp.tensor()
                for r in 0..<i {
                    gub[x * 2 * i + layout.gateUpIndex(r, up: false, intermediate: i)] = g.data[r]
                    gub[x * 2 * i + layout.gateUpIndex(r, up: true, intermediate: i)] = u.data[r]
                }
                for o in 0..<c { db[x * c + o] = d.data[o] }
            }
            pending.append(.float(gateUp + "_bias", Tensor(shape: [e, 2 * i], data: gub), stored(first.gateBias)))
            pending.append(.float(down + "_bias", Tensor(shape: [e, c], data: db), stored(first.downBias)))
        }
        return pending
    }
}
