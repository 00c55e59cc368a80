import Foundation
import TensorCore

/// An adapter folder that does not fit the model; each case names the file and the problem.
public enum LoRAError: InputError, Equatable {
    case invalidConfig(file: String, reason: String)
    case unknownModule(file: String, name: String)
    case shapeMismatch(file: String, name: String, expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case .invalidConfig(let file, let reason): "\(file): \(reason)"
        case .unknownModule(let file, let name): "\(file): '\(name)' adapts no weight of this model"
        case .shapeMismatch(let file, let name, let expected, let actual):
            "\(file): '\(name)' has shape \(actual), expected \(expected)"
        }
    }
}

/// LoRA adapters on a model, saved and loaded in PEFT's file layout: `adapter_config.json` and
/// `adapter_model.safetensors` with keys `base_model.model.<module>.lora_A.weight` / `lora_B.weight`.
extension MoEModel {
    public static let adapterConfigFileName = "adapter_config.json"
    public static let adapterWeightsFileName = "adapter_model.safetensors"
    static let peftPrefix = "base_model.model."

    /// The attached adapters, in parameter order.
    public var loraAdapters: [LoRAAdapter] { parameters.compactMap(\.adapter) }

    /// Attaches a fresh adapter (B = 0) to each of `targets` (2-D weights used as projections:
    /// attention and expert projections). Each adapter's A is drawn from a generator seeded with
    /// `seed` and the weight's name, so the values do not depend on the order of `targets`.
    public func attachLoRA(to targets: [Parameter], rank: Int, alpha: Float, seed: UInt64) {
        for p in targets {
            var rng = SplitMix64(seed: seed ^ Self.nameHash(p.name))
            p.adapter = LoRAAdapter(base: p, rank: rank, alpha: alpha, rng: &rng)
        }
    }

    /// Folds every adapter into its weight (W ← W + (α/r)·B·A) and removes the adapters.
    public func mergeLoRA() throws {
        for p in parameters {
            guard let adapter = p.adapter else { continue }
            p.assign(try p.tensor().adding(try adapter.delta()))
            p.adapter = nil
        }
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` (F32) into `directory`, atomically.
    /// `target_modules` is a regular expression matching exactly the adapted modules (PEFT
    /// full-matches a string against module names).
    public func saveLoRA(to directory: URL, baseModel: String? = nil) throws {
        let adapters = loraAdapters
        guard let first = adapters.first else { return }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [(name: String, tensor: Tensor)] = []
        for adapter in adapters {
            tensors.append((Self.peftPrefix + adapter.a.name, try adapter.a.tensor()))
            tensors.append((Self.peftPrefix + adapter.b.name, try adapter.b.tensor()))
        }
        try SafeTensorsWriter.write(
            tensors, dtype: .f32, metadata: ["format": "pt"],
            to: directory.appendingPathComponent(Self.adapterWeightsFileName))
        let modules = adapters.map { NSRegularExpression.escapedPattern(for: LoRAAdapter.moduleName($0.baseName)) }
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": first.rank, "lora_alpha": Double("\(first.alpha)") ?? 0,
            "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false, "use_rslora": false, "use_dora": false,
            "inference_mode": true, "init_lora_weights": true, "base_model_name_or_path": baseModel ?? NSNull(),
            "target_modules": "(" + modules.joined(separator: "|") + ")",
        ]
        try AtomicFile.write(
            JSONText.pretty(config) + "\n", to: directory.appendingPathComponent(Self.adapterConfigFileName))
    }

    /// Attaches the adapters saved in `directory` by `saveLoRA` (or PEFT). Every adapter must name a
    /// weight of this model with matching shapes; nothing is attached when one does not.
    public func loadLoRA(from directory: URL, trainable: Bool = false) throws {
        let configURL = directory.appendingPathComponent(Self.adapterConfigFileName)
        let configFile = configURL.path
        guard let data = FileManager.default.contents(atPath: configFile),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw LoRAError.invalidConfig(file: configFile, reason: "missing or not a JSON object") }
        guard let rank = (object["r"] as? NSNumber)?.intValue, rank >= 1 else {
            throw LoRAError.invalidConfig(file: configFile, reason: "'r' must be a positive integer")
        }
        let alpha = (object["lora_alpha"] as? NSNumber)?.floatValue ?? Float(rank)
        if (object["use_rslora"] as? Bool) == true || (object["use_dora"] as? Bool) == true {
            throw LoRAError.invalidConfig(file: configFile, reason: "rsLoRA and DoRA adapters are not supported")
        }
        let weightsURL = directory.appendingPathComponent(Self.adapterWeightsFileName)
        let file = try SafeTensorsFile(url: weightsURL)
        var byName: [String: Parameter] = [:]
        for p in parameters { byName[p.name] = p }
        var pending: [(Parameter, LoRAAdapter)] = []
        for name in file.tensorNames where name.hasSuffix(".lora_A.weight") {
            var module = String(name.dropLast(".lora_A.weight".count))
            if module.hasPrefix(Self.peftPrefix) { module.removeFirst(Self.peftPrefix.count) }
            guard let base = byName[module + ".weight"], base.shape.count == 2 else {
                throw LoRAError.unknownModule(file: weightsURL.path, name: name)
            }
            let bName = String(name.dropLast(".lora_A.weight".count)) + ".lora_B.weight"
            guard file.info(bName) != nil else { throw LoRAError.unknownModule(file: weightsURL.path, name: bName) }
            let a = try file.tensor(name)
            let b = try file.tensor(bName)
            if a.shape != [rank, base.shape[1]] {
                throw LoRAError.shapeMismatch(
                    file: weightsURL.path, name: name, expected: [rank, base.shape[1]], actual: a.shape)
            }
            if b.shape != [base.shape[0], rank] {
                throw LoRAError.shapeMismatch(
                    file: weightsURL.path, name: bName, expected: [base.shape[0], rank], actual: b.shape)
            }
            pending.append((base, LoRAAdapter(baseName: base.name, alpha: alpha, a: a, b: b, trainable: trainable)))
        }
        for (base, adapter) in pending { base.adapter = adapter }
    }

    /// FNV-1a of a name: a platform-independent per-tensor seed offset.
    static func nameHash(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }
}
