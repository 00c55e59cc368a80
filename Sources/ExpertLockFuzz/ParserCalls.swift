import ExpertLock
import Foundation
import MoEModels

/// The bodies of the targets that need more than one call: each parses an input the way a
/// command would, then uses what it accepted (reads every tensor, writes the file back) so that
/// an input the parser lets through but later code cannot handle is caught here too.
enum ParserCalls {
    // MARK: - safetensors

    static func safetensors(_ data: Data, _ scratch: FuzzScratch) throws {
        let file = try SafeTensorsFile(url: scratch.write(data, to: "input.safetensors"))
        var stored: [StoredTensor] = []
        for info in file.tensorInfos {
            try touch(file, info)
            stored.append(try file.storedTensor(info.name))
        }
        // What was read must write back and read back the same (names, dtypes, shapes, bytes).
        // Except an empty tensor name: the reference library reads and writes one, the writer
        // refuses it on purpose (`SafeTensorsWriter.validate`), so pruning such a file is refused.
        if file.tensorNames.contains("") { return }
        let copy = scratch.directory.appendingPathComponent("copy.safetensors")
        do {
            try SafeTensorsWriter.write(stored, metadata: file.metadata, to: copy)
        } catch {
            throw InvariantViolation("an accepted file does not write back: \(error)")
        }
        let back = try SafeTensorsFile(url: copy)
        guard back.metadata == file.metadata else { throw InvariantViolation("metadata changed in a write-back") }
        for info in file.tensorInfos {
            guard let other = back.info(info.name), other.dtype == info.dtype, other.shape == info.shape,
                try back.storedTensor(info.name).bytes == file.storedTensor(info.name).bytes
            else { throw InvariantViolation("tensor '\(info.name)' changed in a write-back") }
        }
    }

    /// Reads a tensor every way a command can: raw bytes (all of them touched, so a range outside
    /// the mapping faults here), Float32 conversion, and row slices at both ends.
    static func touch(_ file: SafeTensorsFile, _ info: TensorInfo) throws {
        let sum = try file.withRawBytes(info.name) { bytes, _ in bytes.reduce(UInt8(0), &+) }
        _ = sum
        if info.dtype.isConvertibleToFloat { _ = try file.tensor(info.name) }
        if let rows = info.shape.first, rows > 0 {
            _ = try file.storedTensor(info.name, rows: 0..<1)
            _ = try file.storedTensor(info.name, rows: (rows - 1)..<rows)
        }
    }

    // MARK: - Checkpoint index

    static let shardNames = [
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "extra.safetensors",
    ]

    /// The shards the index seeds name (the layout of Tests/MoEModelsTests/Fixtures/checkpoints/sharded)
    /// plus one the index does not list, so mutated shard names can point at a real file.
    static func writeShards(_ scratch: FuzzScratch) throws {
        let folder = scratch.directory.appendingPathComponent("checkpoint")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func tensor(_ name: String, _ dtype: DType, _ shape: [Int]) -> StoredTensor {
            let count = shape.reduce(1, *) * dtype.byteSize
            return StoredTensor(
                name: name, dtype: dtype, shape: shape,
                bytes: Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) }))
        }
        let shards: [[StoredTensor]] = [
            [
                tensor("model.layers.0.mlp.experts.0.w1.weight", .bf16, [4, 6]),
                tensor("model.layers.0.mlp.experts.1.w1.weight", .bf16, [4, 6]),
            ],
            [tensor("model.layers.0.mlp.gate.weight", .f32, [2, 6]), tensor("lm_head.weight", .f16, [3, 6])],
            [tensor("extra.weight", .f32, [5])],
        ]
        for (name, tensors) in zip(shardNames, shards) {
            try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent(name))
        }
    }

    static func safetensorsIndex(_ data: Data, _ scratch: FuzzScratch) throws {
        let folder = scratch.directory.appendingPathComponent("checkpoint")
        try data.write(to: folder.appendingPathComponent(SafeTensorsWriter.indexFileName))
        let checkpoint = try SafeTensorsCheckpoint(directory: folder)
        for name in checkpoint.tensorNames {
            guard let file = checkpoint.file(containing: name), let info = file.info(name) else {
                throw InvariantViolation("listed tensor '\(name)' has no file")
            }
            try touch(file, info)
        }
        _ = checkpoint.totalBytes
    }

    // MARK: - config.json

    static func config(_ data: Data, _ scratch: FuzzScratch) throws {
        let config = try ModelConfig.decode(data)
        _ = config.sparseLayers
        _ = (0..<min(config.numHiddenLayers, 64)).map(config.expertCount(layer:))
        // What ExpertLock writes must read back as valid.
        let encoded = try JSONEncoder().encode(config)
        do {
            _ = try ModelConfig.decode(encoded)
        } catch {
            throw InvariantViolation("an accepted config does not decode after encoding: \(error)")
        }
    }

    // MARK: - Data files

    static func dataset(_ data: Data, _ file: String, _ format: DataFormat) throws {
        // Skipping bad rows must never turn a refusal into a crash, and `limit` must stop early.
        _ = try? DatasetLoader.load(data: data, file: file, format: format, skipBad: true, limit: 3)
        _ = try? DatasetLoader.load(data: data, file: file, format: format, skipBad: true)
        _ = try DatasetLoader.load(data: data, file: file, format: format)
    }

    // MARK: - Attribution

    static func attribution(_ data: Data, _ scratch: FuzzScratch) throws {
        let attribution = try ExpertAttribution.decode(data, file: "attribution.json")
        for criterion in AttributionCriterion.allCases {
            _ = attribution.globalRanking(criterion: criterion)
            for layer in attribution.statistics.indices { _ = attribution.ranking(layer: layer, criterion: criterion) }
        }
        // `write(to:)` serialises `jsonObject()`: it must be valid JSON and read back equal.
        let object = attribution.jsonObject()
        guard JSONSerialization.isValidJSONObject(object) else {
            throw InvariantViolation("jsonObject() of an accepted file is not valid JSON (NaN or infinity?)")
        }
        let text = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        let back: ExpertAttribution
        do {
            back = try ExpertAttribution.decode(text, file: "written.json")
        } catch {
            throw InvariantViolation("an accepted file does not read back after writing: \(error)")
        }
        guard back == attribution else {
            throw InvariantViolation("an accepted file reads back different after writing")
        }
        _ = try attribution.merged(with: attribution)
    }

    // MARK: - Pruning plan

    /// The model the plan seeds were made for: sparse layers 0 and 1, four experts each.
    static let planSignature: ModelSignature = {
        let json =
            #"{"model_type":"mixtral","layers":2,"sparse_layers":[0,1],"experts_per_layer":[4,4],"hidden_size":8,"#
            + #""vocab_size":32}"#
        return try! JSONDecoder().decode(ModelSignature.self, from: Data(json.utf8))  // constant input
    }()

    static func plan(_ data: Data, _ scratch: FuzzScratch) throws {
        let plan = try PruningPlan.decode(data, file: "plan.json")
        try plan.validate(for: planSignature, minimumPerLayer: 2)
        _ = plan.keepFlags
        _ = plan.isUniform
        let back = try PruningPlan.decode(JSONEncoder().encode(plan), file: "written.json")
        guard back == plan else { throw InvariantViolation("a validated plan changes in an encode/decode round trip") }
    }
}
