import Foundation
import TensorCore

extension SwitchTransformersModel {
    /// Whether the folder (or config file) holds an encoder-decoder this type reads.
    public static func isSwitchCheckpoint(_ url: URL) -> Bool {
        SwitchTransformersConfig.modelType(at: url) == SwitchTransformersConfig.modelType
    }

    /// Loads a `switch_transformers` folder: every tensor checked by name and shape, none left over (when tied,
    /// copies of `shared.weight` stored as `encoder/decoder.embed_tokens.weight` and `lm_head.weight` are
    /// accepted and unused).
    public static func load(directory: URL, residency: WeightResidency = .automatic) throws -> SwitchTransformersModel {
        let config = try SwitchTransformersConfig.load(from: directory)
        let checkpoint = try SafeTensorsCheckpoint(directory: directory, access: residency == .read ? .read : .mapped)
        let resolver = TensorResolver(checkpoint: checkpoint)
        let resident =
            residency == .resident
            || (residency == .automatic && checkpoint.tensorNames.allSatisfy { checkpoint.info($0)?.dtype == .f32 })
        let model = try SwitchTransformersModel(config: config) { name, shape in
            try resolver.parameter(name: name, shape: shape, resident: resident)
        }
        let copies = config.tieWordEmbeddings ? SwitchNames.tiedCopies.filter { checkpoint.info($0) != nil } : []
        for name in copies where checkpoint.info(name)?.shape != [config.vocabSize, config.dModel] {
            throw ModelError.shapeMismatch(
                file: directory.path, name: name, expected: [config.vocabSize, config.dModel],
                actual: checkpoint.info(name)?.shape ?? [])
        }
        try resolver.checkAllUsed(tiedEmbeddings: config.tieWordEmbeddings, skipping: Set(copies))
        try ExpertMaskFile.apply(in: directory, to: model)
        return model
    }

    /// Masks experts (`prune --mode mask`): one flag list per sparse layer, encoder first; a mask that keeps
    /// every expert (or none given) is no mask.
    public func maskExperts(_ mask: [[Bool]]) {
        expertMask = mask.allSatisfy { $0.allSatisfy { $0 } } ? nil : mask
    }

    /// The checkpoint with only `kept[l]` experts of sparse layer l (encoder first), renumbered 0..<n in the
    /// order given, and the matching router rows; every other tensor copied byte for byte (dtype kept).
    /// The config gets `num_experts` when every layer keeps the same count, else `expertlock_experts_per_layer`
    /// (which transformers cannot load: it builds one expert count for all layers).
    public static func writePruned(source: URL, kept: [[Int]], to destination: URL) throws {
        let config = try SwitchTransformersConfig.load(from: source)
        let layers = config.sparseLayers
        guard kept.count == layers.count else {
            throw ModelError.unsupported(
                file: source.path,
                feature: "a plan of \(kept.count) layers for a model with \(layers.count) sparse layers")
        }
        for (l, experts) in kept.enumerated() {
            let n = config.expertCount(sparseLayer: l)
            guard !experts.isEmpty, experts.allSatisfy({ $0 >= 0 && $0 < n }), Set(experts).count == experts.count
            else {
                throw ModelError.unsupported(
                    file: source.path, feature: "layer \(layers[l]) keeping \(experts) of \(n) experts")
            }
        }
        let checkpoint = try SafeTensorsCheckpoint(directory: source, access: .mapped)
        var renamed: [String: (String, rows: [Int]?)] = [:]  // source name -> (new name, router rows)
        var dropped = Set<String>()
        for (l, layer) in layers.enumerated() {
            renamed[SwitchNames.router(layer)] = (SwitchNames.router(layer), kept[l])
            let keptSet = Set(kept[l])
            for e in 0..<config.expertCount(sparseLayer: l) {
                for projection in ["wi", "wo"] {
                    let name = SwitchNames.expert(layer, e, projection)
                    if let new = kept[l].firstIndex(of: e) {
                        renamed[name] = (SwitchNames.expert(layer, new, projection), nil)
                    } else if !keptSet.contains(e) {
                        dropped.insert(name)
                    }
                }
            }
        }
        var tensors: [StoredTensor] = []
        for name in checkpoint.tensorNames where !dropped.contains(name) {
            guard let file = checkpoint.file(containing: name) else { continue }
            let target = renamed[name]
            guard let rows = target?.rows else {
                tensors.append(try file.storedTensor(name).renamed(target?.0 ?? name))
                continue
            }
            // Router rows: one stored row per kept expert, in the plan's order.
            let parts = try rows.map { try file.storedTensor(name, rows: $0..<($0 + 1)) }
            let info = parts[0]
            tensors.append(
                StoredTensor(
                    name: name, dtype: info.dtype, shape: [rows.count] + info.shape.dropFirst(),
                    bytes: parts.reduce(into: Data()) { $0.append($1.bytes) }))
        }
        tensors.sort { $0.name < $1.name }
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        try SafeTensorsWriter.writeCheckpoint(tensors, to: destination)
        try writeConfig(source: source, to: destination, expertsPerLayer: kept.map(\.count))
    }

    /// Copies config.json with the expert counts patched; decoded and validated before it is written.
    static func writeConfig(source: URL, to destination: URL, expertsPerLayer counts: [Int]) throws {
        let file = ModelConfig.configFile(source)
        guard let data = FileManager.default.contents(atPath: file.path),
            var object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw ConfigError.unreadable(file: file.path, reason: "not a JSON object") }
        if let first = counts.first, counts.allSatisfy({ $0 == first }) {
            object["num_experts"] = first
            object.removeValue(forKey: "expertlock_experts_per_layer")
        } else {
            object["num_experts"] = counts.max() ?? 0
            object["expertlock_experts_per_layer"] = counts
        }
        let text = JSONText.pretty(object) + "\n"
        let target = destination.appendingPathComponent(ModelConfig.fileName)
        let decoded = try JSONDecoder().decode(SwitchTransformersConfig.self, from: Data(text.utf8))
        try decoded.validate(file: target.path)
        try AtomicFile.write(Data(text.utf8), to: target)
    }

    /// Writes the model's current weights (after training) as a folder transformers loads: every parameter
    /// under its own name in `dtype`, config.json copied from `configSource` with the expert counts patched.
    public func save(to directory: URL, configSource: URL, dtype: DType = .f32) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = try parameters.map { (name: $0.name, tensor: try $0.tensor()) }
        try SafeTensorsWriter.writeCheckpoint(tensors, dtype: dtype, to: directory)
        try Self.writeConfig(source: configSource, to: directory, expertsPerLayer: sparseBlocks.map(\.expertCount))
        if let expertMask {
            try ExpertMaskFile.write(kept: expertMask.map { k in k.indices.filter { k[$0] } }, to: directory)
        }
    }
}

extension ExpertMaskFile {
    static func apply(in directory: URL, to model: SwitchTransformersModel) throws {
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        let blocks = model.sparseBlocks
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let kept = root["kept"] as? [[Int]], kept.count == blocks.count,
            zip(kept, blocks).allSatisfy({ row, b in !row.isEmpty && row.allSatisfy { $0 >= 0 && $0 < b.expertCount } })
        else {
            throw ModelError.unsupported(file: url.path, feature: "a mask that is not one expert list per sparse layer")
        }
        model.maskExperts(zip(kept, blocks).map { row, b in (0..<b.expertCount).map(Set(row).contains) })
    }
}
