import Crypto
import Foundation
import MoEModels
import TensorCore

/// One tensor as the manifest and the update log record it: name, stored dtype, shape, and the
/// SHA-256 of its values.
///
/// The hash is over the values as little-endian Float32 for F32, F16 and BF16 tensors (the raw
/// bytes for integer tensors), not over the stored bytes: training writes Float32 checkpoints, so a
/// BF16 model whose LoRA run left the base weights untouched must still match its manifest, and the
/// conversion to Float32 is exact. A change of dtype that changes a value (F32 → BF16 rounding)
/// changes the hash; one that does not is not a difference. For routers and fused expert tensors
/// `rowSHA256` also holds one hash per index of dimension 0 (per expert), so the verifier can say
/// which experts were removed or reordered.
public struct TensorRecord: Codable, Sendable, Equatable {
    public var name: String
    /// The safetensors dtype as stored ("BF16", "F32", …); informational.
    public var dtype: String
    public var shape: [Int]
    /// Hex SHA-256 of the values.
    public var sha256: String
    /// Hex SHA-256 of each slice along dimension 0, for routers and fused expert tensors.
    public var rowSHA256: [String]?

    public init(name: String, dtype: String, shape: [Int], sha256: String, rowSHA256: [String]? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.sha256 = sha256
        self.rowSHA256 = rowSHA256
    }

    enum CodingKeys: String, CodingKey {
        case name, dtype, shape, sha256
        case rowSHA256 = "row_sha256"
    }

    public var role: TensorRole { TensorRole(name: name) }
}

/// Hex text of a digest.
func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    digest.map { String(format: "%02x", $0) }.joined()
}

/// SHA-256 of bytes, as hex.
func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

/// The tensors of a model folder, as the manifest and the verifier see them: the weight files
/// (`model.safetensors.index.json` and its shards, else every `*.safetensors` but the adapter and
/// optimizer files) plus the PEFT adapter file `adapter_model.safetensors` when present. Checkpoint
/// sub-folders (`checkpoint-N/`) are not part of the model.
public struct CheckpointTensors {
    public let directory: URL
    /// Tensor name -> the file holding it.
    private let location: [String: SafeTensorsFile]

    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DefenseError.badCheckpoint(file: directory.path, reason: "not a folder")
        }
        var files: [SafeTensorsFile] = []
        if fm.fileExists(atPath: directory.appendingPathComponent(SafeTensorsWriter.indexFileName).path) {
            files = try SafeTensorsCheckpoint(directory: directory).files
        } else {
            let skipped: Set<String> = [MoEModel.adapterWeightsFileName, "optimizer.safetensors"]
            let names = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() where name.hasSuffix(".safetensors") && !name.hasPrefix(".") {
                if skipped.contains(name) { continue }
                files.append(try SafeTensorsFile(url: directory.appendingPathComponent(name)))
            }
        }
        let adapter = directory.appendingPathComponent(MoEModel.adapterWeightsFileName)
        if fm.fileExists(atPath: adapter.path) { files.append(try SafeTensorsFile(url: adapter)) }
        guard !files.isEmpty else {
            throw DefenseError.badCheckpoint(file: directory.path, reason: "no .safetensors weights")
        }
        var location: [String: SafeTensorsFile] = [:]
        for file in files {
            for name in file.tensorNames {
                if let other = location[name] {
                    throw DefenseError.badCheckpoint(
                        file: file.url.path, reason: "tensor '\(name)' is also in \(other.url.lastPathComponent)")
                }
                location[name] = file
            }
        }
        self.location = location
    }

    public var names: [String] { location.keys.sorted() }

    public func info(_ name: String) -> TensorInfo? { location[name]?.info(name) }

    /// The values as Float32 (F32, F16, BF16 tensors).
    public func tensor(_ name: String) throws -> Tensor {
        guard let file = location[name] else {
            throw DefenseError.badCheckpoint(file: directory.path, reason: "no tensor '\(name)'")
        }
        return try file.tensor(name)
    }

    /// The record of one tensor (see `TensorRecord` for what is hashed).
    public func record(_ name: String) throws -> TensorRecord {
        guard let file = location[name], let info = file.info(name) else {
            throw DefenseError.badCheckpoint(file: directory.path, reason: "no tensor '\(name)'")
        }
        let wantRows = TensorRole(name: name).hasExpertRows && info.shape.count >= 2
        let rows = info.shape.first ?? 0
        func digest(_ bytes: UnsafeRawBufferPointer) -> (String, [String]?) {
            let whole = hex(SHA256.hash(data: bytes))
            guard wantRows, rows > 0 else { return (whole, nil) }
            let rowBytes = bytes.count / rows
            let rowHashes = (0..<rows).map { r in
                hex(SHA256.hash(data: UnsafeRawBufferPointer(rebasing: bytes[(r * rowBytes)..<((r + 1) * rowBytes)])))
            }
            return (whole, rowHashes)
        }
        let (whole, rowHashes): (String, [String]?)
        if info.dtype.isConvertibleToFloat && info.dtype != .f32 {
            let values = try file.tensor(name)
            (whole, rowHashes) = values.withUnsafeBufferPointer { digest(UnsafeRawBufferPointer($0)) }
        } else {
            (whole, rowHashes) = try file.withRawBytes(name) { bytes, _ in digest(bytes) }
        }
        return TensorRecord(
            name: name, dtype: info.dtype.rawValue, shape: info.shape, sha256: whole, rowSHA256: rowHashes)
    }

    /// Records of every tensor, by name. Tensors are hashed in parallel (SHA-256 is the cost).
    ///
    /// The slots hold strings and arrays: they are deinitialized before the buffer is freed
    /// (`deallocate` alone released none of them, which leaked ~20 KB per call on the fixture and
    /// grew the update-log fuzzer past 2 GB).
    public func records() throws -> [String: TensorRecord] {
        let names = self.names
        let buffer = UnsafeMutableBufferPointer<Result<TensorRecord, Error>?>.allocate(capacity: names.count)
        buffer.initialize(repeating: nil)
        defer {
            buffer.deinitialize()
            buffer.deallocate()
        }
        let shared = UncheckedSendable(buffer)
        Parallel.forEach(names.count) { range in
            for i in range { shared.value[i] = Result { try self.record(names[i]) } }
        }
        var out: [String: TensorRecord] = [:]
        for result in buffer {
            guard let record = try result?.get() else { continue }
            out[record.name] = record
        }
        return out
    }
}

extension CheckpointTensors {
    /// SHA-256 of the semantic content of `config.json`: the decoded `ModelConfig` re-encoded with
    /// sorted keys, without `torch_dtype` (a Float32 re-save of a BF16 model keeps its architecture).
    /// Formatting, key order and keys ExpertLock does not read do not change it. A switch_transformers config is
    /// decoded by its own reader (`SwitchTransformersConfig`, which reads no dtype).
    public static func configSHA256(directory: URL) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if SwitchTransformersModel.isSwitchCheckpoint(directory) {
            return sha256Hex(try encoder.encode(try SwitchTransformersConfig.load(from: directory)))
        }
        var config = try ModelConfig.load(from: directory.appendingPathComponent("config.json"))
        config.torchDtype = nil
        return sha256Hex(try encoder.encode(config))
    }

    /// The folder's `model_type`, once its config.json decodes and validates as ExpertLock reads that model
    /// (decoder-only families by `ModelConfig`, encoder-decoders by `SwitchTransformersConfig`).
    public static func modelType(directory: URL) throws -> String {
        if SwitchTransformersModel.isSwitchCheckpoint(directory) {
            _ = try SwitchTransformersConfig.load(from: directory)
            return SwitchTransformersConfig.modelType
        }
        return try ModelConfig.load(from: directory.appendingPathComponent("config.json")).modelType
    }

    /// Each sparse layer of the folder's config with its expert count, in the order of `expertlock_mask.json`
    /// (decoder layers; an encoder-decoder's encoder layers, then its decoder's); nil when the config is unreadable.
    static func sparseLayers(directory: URL) -> [(label: LayerLabel, experts: Int)]? {
        if SwitchTransformersModel.isSwitchCheckpoint(directory) {
            guard let config = try? SwitchTransformersConfig.load(from: directory) else { return nil }
            return config.sparseLayers.enumerated().map { position, layer in
                let label = LayerLabel(stack: layer.stack, layer: layer.block)
                return (label: label, experts: config.expertCount(sparseLayer: position))
            }
        }
        guard let config = try? ModelConfig.load(from: directory.appendingPathComponent("config.json")) else {
            return nil
        }
        return config.sparseLayers.map { layer in
            (label: LayerLabel(layer: layer), experts: config.expertsPerLayer?[layer] ?? config.numExperts)
        }
    }

    /// The files that define what the model's token ids mean, hashed with the lock: the companion
    /// files a derived checkpoint carries, but the generation settings.
    public static let tokenizerFiles = OutputDirectory.companionFiles.filter { $0 != "generation_config.json" }

    /// SHA-256 over the folder's tokenizer files (each name, length and bytes, in `tokenizerFiles`
    /// order; nil: the folder has none).
    public static func tokenizerSHA256(directory: URL) -> String? {
        var message = Data()
        var any = false
        for name in tokenizerFiles {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                continue
            }
            any = true
            message += Data((name + "\u{0}\(data.count)\u{0}").utf8) + data
        }
        return any ? sha256Hex(message) : nil
    }

    /// SHA-256 of the folder's `expertlock_mask.json` (nil: no mask).
    public static func maskSHA256(directory: URL) -> String? {
        FileManager.default.contents(atPath: directory.appendingPathComponent(ExpertMaskFile.fileName).path)
            .map(sha256Hex)
    }
}
