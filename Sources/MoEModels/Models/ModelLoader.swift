import Foundation
import TensorCore

/// Where a loaded model keeps its weights.
public enum WeightResidency: String, Sendable, CaseIterable {
    /// Float32 checkpoints in memory; BF16/F16 ones left mapped and converted on use.
    case automatic
    /// Every weight converted to Float32 in memory (training needs this).
    case resident
    /// Every weight left in the mapped file and converted on use (lowest memory).
    case mapped
    /// Every weight read from the file (`pread`, nothing mapped) and converted on use: what layer
    /// streaming uses, so a checkpoint larger than the memory limit never enters the address space.
    case read
}

/// Loads a Hugging Face model folder, as a chain of small steps (after mlx-swift-lm's Load.swift):
/// read config.json → open the safetensors files (index.json `weight_map` or `*.safetensors`) →
/// resolve each parameter's Hugging Face name (per-expert or transformers-5 fused expert layout) →
/// check every shape → refuse tensors the model would silently ignore.
public enum ModelLoader {
    public static func load(directory: URL, residency: WeightResidency = .automatic) throws -> MoEModel {
        let configURL = directory.appendingPathComponent("config.json")
        let config = try ModelConfig.load(from: configURL)
        let checkpoint = try SafeTensorsCheckpoint(directory: directory, access: residency == .read ? .read : .mapped)
        let layout = config.family?.definition.layout ?? FamilyLayout()
        let resolver = TensorResolver(
            checkpoint: checkpoint, fp8: config.fp8, fusedLayout: layout.fusedExperts,
            languageModelPrefix: layout.languageModelPrefix)
        let keepResident: Bool
        switch residency {
        case .resident: keepResident = true
        case .mapped, .read: keepResident = false
        case .automatic:
            keepResident = checkpoint.tensorNames.allSatisfy { checkpoint.info($0)?.dtype == .f32 }
        }
        let model = try MoEModel(config: config) { name, shape in
            try resolver.parameter(name: name, shape: shape, resident: keepResident)
        }
        // Multi-token-prediction layers follow the decoder layers; they do not take part in next-token
        // logits (transformers 5.25 ignores them too), so they are skipped on purpose and named.
        let mtp = config.numHiddenLayers..<(config.numHiddenLayers + max(0, config.nextTokenPredictionLayers))
        let skipped = checkpoint.tensorNames.filter { TensorName.layerIndex($0).map(mtp.contains) ?? false }
        // A shared MLP of size 0 contributes nothing: its weights are accepted only when they are empty (its
        // Qwen2-MoE gate, which multiplies that zero output, with its shape [1, C]).
        let empty = model.emptySharedExpertTensors.filter { name, shape in
            guard let info = checkpoint.info(resolver.stored(name)) else { return false }
            return info.elementCount == 0 || (shape.first == 1 && info.shape == shape)
        }.map { resolver.stored($0.name) }
        // The other towers of a multimodal checkpoint (a vision encoder) are kept aside, unread, for saving.
        let towers = checkpoint.tensorNames.filter { name in layout.otherTowers.contains { name.hasPrefix($0) } }
        try resolver.checkAllUsed(tiedEmbeddings: config.tieWordEmbeddings, skipping: Set(skipped + empty + towers))
        if !towers.isEmpty {
            model.otherTowerTensors = try towers.sorted().map { name in
                let info = checkpoint.info(name)!
                let parameter = Parameter(name: name, shape: info.shape, load: { try checkpoint.tensor(name) })
                parameter.sourceDType = info.dtype
                return parameter
            }
            let counts = Dictionary(grouping: towers) { name in layout.otherTowers.first { name.hasPrefix($0) }! }
            let listed = counts.keys.sorted().map { "\($0)* (\(counts[$0]!.count))" }.joined(separator: ", ")
            model.notes.append(
                "skipped \(towers.count) tensors of other towers: \(listed); only the language model "
                    + "is read (they are written back unchanged when the model is saved)")
        }
        if let alias = config.familyAlias { model.notes.append(alias) }
        if resolver.used.contains(where: { $0.hasSuffix("_blocks") }) {
            // Pruning copies the kept experts' MXFP4 bytes from here instead of re-quantising them.
            model.quantizedExperts = QuantizedExpertSource(
                checkpoint: checkpoint,
                origin: Dictionary(
                    uniqueKeysWithValues: model.moeBlocks.map {
                        ($0.layer, Array(0..<$0.expertCount))
                    }))
        }
        if !skipped.isEmpty {
            model.skippedTensors = skipped.sorted()
            model.notes.append(
                "skipped \(skipped.count) tensors of multi-token-prediction layer(s) \(mtp.lowerBound)"
                    + "..<\(mtp.upperBound): they predict further tokens and take no part in next-token logits")
        }
        try ExpertMaskFile.apply(in: directory, to: model)
        // A folder `train --trainable lora` wrote (without --merge-lora) is the base plus its
        // adapter: every command sees the adapted model, as PEFT's loader gives it.
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent(MoEModel.adapterConfigFileName).path)
        {
            try model.loadLoRA(from: directory)
        }
        return model
    }
}

/// Maps a parameter's Hugging Face name to the bytes that hold it.
final class TensorResolver {
    let checkpoint: SafeTensorsCheckpoint
    /// The block scaling of `F8_E4M3` weights (config.json's `quantization_config`), nil when it has none.
    let fp8: FP8Quantization?
    /// The family's own fused-expert layout (nil: per-expert tensors or transformers 5's conversion).
    let fusedLayout: FusedExpertLayout?
    private(set) var used = Set<String>()
    /// `FamilyLayout.languageModelPrefix`: the checkpoint's name for the model's `model.*` weights.
    let languageModelPrefix: String?

    init(
        checkpoint: SafeTensorsCheckpoint, fp8: FP8Quantization? = nil, fusedLayout: FusedExpertLayout? = nil,
        languageModelPrefix: String? = nil
    ) {
        self.checkpoint = checkpoint
        self.fp8 = fp8
        self.fusedLayout = fusedLayout
        self.languageModelPrefix = languageModelPrefix
    }

    /// The checkpoint's name of the model's weight `name`.
    func stored(_ name: String) -> String { MoEModel.checkpointName(name, languageModelPrefix: languageModelPrefix) }

    /// Tensors the parameter being resolved reads (its extents).
    private var touched: [String] = []

    func markUsed(_ name: String) {
        used.insert(name)
        touched.append(name)
    }

    func fileName(_ name: String) -> String {
        checkpoint.file(containing: name)?.url.lastPathComponent ?? checkpoint.directory.lastPathComponent
    }

    func parameter(name: String, shape: [Int], resident: Bool) throws -> Parameter {
        touched = []
        let source = try resolve(name: name, shape: shape)
        let extents = touched.compactMap { tensor -> FileExtent? in
            guard let file = checkpoint.file(containing: tensor) else { return nil }
            return file.extent(of: tensor).map { FileExtent(file: file, range: $0) }
        }
        let parameter = Parameter(
            name: name, shape: shape, load: source.load, bf16: source.bf16, stored: source.stored, extents: extents)
        parameter.sourceDType = source.dtype
        if resident { try parameter.makeResident() }
        return parameter
    }

    /// A loader for `name`: the tensor itself, Mixtral's transformers-5 name (`mlp` for
    /// `block_sparse_moe`), or one expert's slice of a fused `experts.gate_up_proj` / `down_proj`.
    /// How a parameter reads its values: converted to Float32, in place when stored as a bfloat16 matrix, and
    /// the stored bytes that saving copies unchanged (an FP8 weight and its scales).
    typealias Source = (
        load: () throws -> Tensor, bf16: (() throws -> BF16Matrix)?, stored: (() throws -> [StoredTensor])?,
        dtype: DType
    )

    /// The stored bfloat16 rows `firstRow..<firstRow + shape[0]` of `name`, when it is a BF16 matrix.
    func bf16Source(_ name: String, firstRow: Int, shape: [Int]) -> (() throws -> BF16Matrix)? {
        guard shape.count == 2, checkpoint.info(name)?.dtype == .bf16, let file = checkpoint.file(containing: name)
        else {
            return nil
        }
        return { try file.bf16Matrix(name, firstRow: firstRow, rows: shape[0], columns: shape[1]) }
    }

    private func resolve(name: String, shape: [Int]) throws -> Source {
        for candidate in [stored(name), stored(name.replacingOccurrences(of: ".block_sparse_moe.", with: ".mlp."))] {
            if let info = checkpoint.info(candidate) {
                guard info.shape == shape else {
                    throw ModelError.shapeMismatch(
                        file: fileName(candidate), name: candidate, expected: shape, actual: info.shape)
                }
                markUsed(candidate)
                if info.dtype == .f8e4m3 { return try fp8Source(candidate, shape: shape) }
                let checkpoint = self.checkpoint
                let bf16 = bf16Source(candidate, firstRow: 0, shape: shape)
                return ({ try checkpoint.tensor(candidate) }, bf16, nil, info.dtype)
            }
        }
        if let fusedLayout, let fused = try fusedExpertSource(name: name, shape: shape, layout: fusedLayout) {
            return fused
        }
        if let fused = try fusedExpertSlice(name: name, shape: shape) { return fused }
        throw ModelError.missingTensor(file: checkpoint.directory.path, name: stored(name))
    }

    /// transformers 5 keeps experts as 3-D tensors: gate_up_proj [E, 2I, C] (gate rows first) and
    /// down_proj [E, C, I]. A per-expert name is served by slicing expert e out of them.
    private func fusedExpertSlice(name: String, shape: [Int]) throws -> Source? {
        guard case let .expert(layer, _, expert, proj, "weight") = TensorName(parsing: name) else { return nil }
        let isGate = proj == "gate_proj" || proj == "w1"
        let isUp = proj == "up_proj" || proj == "w3"
        let isDown = proj == "down_proj" || proj == "w2"
        guard isGate || isUp || isDown else { return nil }
        let fusedName = stored(
            TensorName.fusedExperts(
                layer: layer, block: "mlp", projection: isDown ? "down_proj" : "gate_up_proj"
            ).text)
        guard let info = checkpoint.info(fusedName) else { return nil }
        let rowsPerExpert = isDown ? shape[0] : 2 * shape[0]
        guard info.shape.count == 3, info.shape[1] == rowsPerExpert, info.shape[2] == shape[1], expert < info.shape[0]
        else {
            throw ModelError.shapeMismatch(
                file: fileName(fusedName), name: fusedName,
                expected: [max(info.shape.first ?? 0, expert + 1), rowsPerExpert, shape[1]], actual: info.shape)
        }
        if info.dtype == .f8e4m3 {
            throw SafeTensorsError.unreadableQuantized(
                file: checkpoint.file(containing: fusedName)?.url.path ?? fileName(fusedName), tensor: fusedName,
                reason: "fused F8_E4M3 experts are not implemented (per-expert FP8 weights, as published, are)")
        }
        markUsed(fusedName)
        let rowOffset = expert * rowsPerExpert + (isUp ? shape[0] : 0)
        let checkpoint = self.checkpoint
        return (
            {
                try checkpoint.rows(
                    of: fusedName, rowLength: shape[1], range: rowOffset..<(rowOffset + shape[0]), shape: shape)
            },
            bf16Source(fusedName, firstRow: rowOffset, shape: shape), nil, info.dtype
        )
    }

    /// An `F8_E4M3` weight: dequantized with its `weight_scale_inv` block grid each time it is used (one
    /// matrix at a time, never the whole checkpoint), its stored bytes and scales kept for saving unchanged.
    private func fp8Source(_ name: String, shape: [Int]) throws -> Source {
        let file = checkpoint.file(containing: name)?.url.path ?? checkpoint.directory.path
        func refuse(_ reason: String) -> SafeTensorsError {
            .unreadableQuantized(file: file, tensor: name, reason: reason)
        }
        guard let fp8 else {
            throw refuse("is F8_E4M3 but config.json has no quantization_config (quant_method fp8) to scale it")
        }
        guard shape.count == 2 else { throw refuse("F8_E4M3 weights are matrices, this one has shape \(shape)") }
        let scaleName = FP8Quantization.scaleName(of: name)
        guard let scale = checkpoint.info(scaleName) else {
            throw refuse("is F8_E4M3 without its scale tensor '\(scaleName)'")
        }
        let grid = fp8.scaleShape(of: shape)
        guard scale.dtype.isConvertibleToFloat, scale.shape == grid else {
            throw SafeTensorsError.unreadableQuantized(
                file: checkpoint.file(containing: scaleName)?.url.path ?? file, tensor: scaleName,
                reason: "\(scale.dtype.rawValue) \(scale.shape): the scales of \(shape) in blocks of \(fp8.blockSize) "
                    + "are F32/BF16/F16 \(grid)")
        }
        markUsed(scaleName)
        let checkpoint = self.checkpoint
        guard let weights = checkpoint.file(containing: name), let scales = checkpoint.file(containing: scaleName)
        else {
            throw ModelError.missingTensor(file: checkpoint.directory.path, name: name)
        }
        let load = {
            let s = try scales.tensor(scaleName)
            return try weights.withRawBytes(name) { bytes, _ in
                fp8.dequantize(bytes, rows: 0..<shape[0], columns: shape[1], scales: s)
            }
        }
        return (load, nil, { [try weights.storedTensor(name), try scales.storedTensor(scaleName)] }, .f8e4m3)
    }

    func checkAllUsed(tiedEmbeddings: Bool, skipping skipped: Set<String> = []) throws {
        let leftover = checkpoint.tensorNames.filter { name in
            !used.contains(name) && !skipped.contains(name) && !name.hasSuffix("rotary_emb.inv_freq")
                && !(tiedEmbeddings && name == "lm_head.weight")
        }
        if !leftover.isEmpty {
            throw ModelError.unexpectedTensors(file: checkpoint.directory.path, names: leftover)
        }
    }
}

extension SafeTensorsCheckpoint {
    /// Rows `range` of a tensor viewed as [rows, rowLength], converted to Float32 without reading
    /// the rest of the tensor.
    func rows(of name: String, rowLength: Int, range: Range<Int>, shape: [Int]) throws -> Tensor {
        guard let file = file(containing: name) else {
            throw ModelError.missingTensor(file: directory.path, name: name)
        }
        return try file.withRawBytes(name) { bytes, info in
            let count = range.count * rowLength
            let start = range.lowerBound * rowLength
            return Tensor(shape: shape) { out in
                let bytesPerElement = info.dtype.byteSize
                let slice = UnsafeRawBufferPointer(
                    rebasing: bytes[(start * bytesPerElement)..<((start + count) * bytesPerElement)])
                SafeTensorsFile.convert(slice, dtype: info.dtype, into: out)
            }
        }
    }
}

/// `expertlock_mask.json` beside a checkpoint: `{"kept": [[expert, ...] per sparse layer]}`. Written by
/// `prune --mode mask`; the routers of the loaded model never select the other experts.
/// (transformers ignores this file: masking is an ExpertLock notion.)
public enum ExpertMaskFile {
    public static let fileName = "expertlock_mask.json"

    public static func write(kept: [[Int]], to directory: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: ["kept": kept], options: [.sortedKeys])
        try AtomicFile.write(data, to: directory.appendingPathComponent(fileName))
    }

    static func apply(in directory: URL, to model: MoEModel) throws {
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        let blocks = model.moeBlocks
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let kept = root["kept"] as? [[Int]], kept.count == blocks.count
        else {
            throw ModelError.unsupported(
                file: url.path, feature: "a mask that is not {\"kept\": [[experts] per sparse layer]}")
        }
        var flags: [[Bool]] = []
        for (l, row) in kept.enumerated() {
            let n = blocks[l].expertCount
            // Fewer than top-k is a mask `prune --mode mask` writes: the router then picks every expert left.
            guard !row.isEmpty, row.allSatisfy({ $0 >= 0 && $0 < n }) else {
                throw ModelError.unsupported(
                    file: url.path, feature: "layer \(l) mask \(row) (needs one or more valid expert indices)")
            }
            let set = Set(row)
            flags.append((0..<n).map { set.contains($0) })
        }
        model.maskExperts(flags)
    }
}
