import Foundation
import TensorCore

extension MoEModel {
    /// Writes the model as a Hugging Face folder: config.json and safetensors in the per-expert
    /// layout that transformers 4 and 5 both load (sharded above `maxShardBytes`), written atomically.
    /// With `configSource` (the original config.json) every key it has is kept and only the expert
    /// counts are patched; otherwise the config is written from `config`.
    ///
    /// With `keepStoredDTypes` (pruning) each weight read from a checkpoint is written in the dtype it was stored
    /// in, and `dtype` applies to the others: a BF16 checkpoint's Float32 selection bias stays Float32. FP8
    /// weights (`FP8Quantization`) are written as stored, bytes and scales unchanged, while their values are the
    /// stored ones; changed ones (training, a merged LoRA) are quantized again as transformers' `Fp8Quantize` does.
    public func save(
        to directory: URL, dtype: DType = .f32, configSource: URL? = nil, maxShardBytes: Int = 2_000_000_000,
        keepStoredDTypes: Bool = false
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [PendingTensor] = []
        // A wrapped language model (Qwen3.5-MoE) writes its weights under the checkpoint's prefix.
        let prefix = family.definition.layout.languageModelPrefix
        func named(_ name: String) -> String { Self.checkpointName(name, languageModelPrefix: prefix) }
        let fused = family.definition.layout.fusedExperts
        for p in parameters {
            if fused != nil, case .expert = TensorName(parsing: p.name) { continue }  // packed below
            if let stored = try p.unchangedStoredTensors() {
                tensors += stored.map { .stored($0.renamed(named($0.name))) }
            } else if p.isStoredQuantized, let fp8 = config.fp8 {
                let (bytes, scales) = fp8.quantize(try p.tensor())
                tensors.append(
                    .stored(StoredTensor(name: named(p.name), dtype: .f8e4m3, shape: p.shape, bytes: Data(bytes))))
                tensors.append(.float(named(FP8Quantization.scaleName(of: p.name)), scales, .f32))
            } else {
                let own = p.sourceDType.flatMap { keepStoredDTypes && $0.isConvertibleToFloat ? $0 : nil }
                tensors.append(.float(named(p.name), try p.tensor(), own ?? dtype))
            }
        }
        for (name, shape) in emptySharedExpertTensors {
            tensors.append(.float(named(name), Tensor(shape: shape), dtype))
        }
        if let fused {
            // The family's checkpoints hold experts fused (gpt-oss, Llama-4): transformers reads only that layout.
            tensors += try fusedCheckpointTensors(layout: fused, dtype: dtype, keepStoredDTypes: keepStoredDTypes)
                .map { $0.renamed(named($0.name)) }
        }
        // The other towers of a multimodal checkpoint, in the dtype they were stored in.
        for p in otherTowerTensors { tensors.append(.float(p.name, try p.tensor(), p.sourceDType ?? dtype)) }
        try SafeTensorsWriter.writeCheckpoint(pending: tensors, to: directory, maxShardBytes: maxShardBytes)
        let configURL = directory.appendingPathComponent("config.json")
        if let configSource {
            try config.rewritten(
                numExperts: config.numExperts, expertsPerLayer: config.expertsPerLayer,
                numExpertsPerToken: config.numExpertsPerToken, source: configSource, to: configURL)
        } else {
            try AtomicFile.write(
                Data((JSONText.pretty(huggingFaceConfigObject(dtype: dtype)) + "\n").utf8), to: configURL)
        }
        // A mask-pruned model stays masked when saved (training or re-aligning it must not bring
        // the masked experts back).
        if let expertMask {
            try ExpertMaskFile.write(
                kept: expertMask.map { flags in flags.indices.filter { flags[$0] } }, to: directory)
        }
    }

    /// The zero-element weights transformers keeps for a shared MLP of intermediate size 0 (DeepSeek and GLM
    /// with `n_shared_experts: 0`), in every sparse layer. The model has no parameters for them (they change
    /// no output); loading accepts them when empty, and saving writes them back so that transformers loads
    /// the folder without missing keys (it would otherwise report them and initialise them, to nothing).
    var emptySharedExpertTensors: [(name: String, shape: [Int])] {
        let layout = family.definition.layout
        guard let shared = layout.sharedExpert, layout.sharedExpertBuiltWhenAbsent,
            config.sharedExpertIntermediateSize == 0
        else { return [] }
        let c = config.hiddenSize
        return layers.filter { $0.moe != nil }.flatMap { layer -> [(name: String, shape: [Int])] in
            let block = "\(TensorName.layerPrefix(layer.index)).\(layout.sparseBlock)"
            let mlp = "\(block).\(shared)"
            // Qwen2-MoE's sigmoid gate scales the empty MLP's zero output: its values change nothing (saved as 0).
            let gate = layout.sharedExpertGate.map { [("\(block).\($0).weight", [1, c])] } ?? []
            return [
                ("\(mlp).gate_proj.weight", [0, c]), ("\(mlp).up_proj.weight", [0, c]),
                ("\(mlp).down_proj.weight", [c, 0]),
            ] + gate
        }
    }

    /// config.json as transformers writes it: the family's keys, `architectures`, and floats kept
    /// as floats (transformers 5 refuses an int where a float is declared).
    func huggingFaceConfigObject(dtype: DType) -> [String: Any] {
        guard let data = try? JSONEncoder().encode(config),
            var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return [:] }
        object["architectures"] = [family.architecture]
        object["dtype"] = dtype == .bf16 ? "bfloat16" : dtype == .f16 ? "float16" : "float32"
        object["rms_norm_eps"] = decimal(config.rmsNormEps)
        object["router_aux_loss_coef"] = decimal(config.routerAuxLossCoef)
        var rope = config.rotaryScaling.parameters
        rope["rope_theta"] = config.ropeTheta
        rope["rope_type"] = config.ropeType
        if config.partialRotaryFactor != 1 { rope["partial_rotary_factor"] = config.partialRotaryFactor }
        object["rope_parameters"] = rope
        object["initializer_range"] = 0.02
        if let clip = config.clipQKV { object["clip_qkv"] = decimal(clip) }
        return object
    }
}

/// A Float as the Double of its shortest decimal text (1e-06, not 9.99999997e-07).
private func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
