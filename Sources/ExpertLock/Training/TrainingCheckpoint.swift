import Foundation
import MoEModels
import TensorCore

/// `trainer_state.json`: where a run stands, and what it must be resumed with.
public struct TrainerState: Codable, Sendable, Equatable {
    public struct LogEntry: Codable, Sendable, Equatable {
        public var step: Int
        public var loss: Float
        public var learningRate: Float

        enum CodingKeys: String, CodingKey {
            case step, loss
            case learningRate = "learning_rate"
        }
    }

    public var globalStep: Int
    public var parameters: Training.Parameters
    /// FNV-1a of the training examples: a resumed run must see the same data.
    public var dataFingerprint: String
    public var examples: Int
    public var logHistory: [LogEntry]

    enum CodingKeys: String, CodingKey {
        case globalStep = "global_step"
        case parameters
        case dataFingerprint = "data_fingerprint"
        case examples
        case logHistory = "log_history"
    }
}

/// Checkpoint folders of a run, after transformers' `Trainer`:
///
///     out/checkpoint-<step>/   config.json, model.safetensors (F32), [adapter_config.json,
///                              adapter_model.safetensors], optimizer.safetensors, trainer_state.json
///     out/                     the final model in the same layout (no optimizer state)
///
/// A checkpoint is written into `checkpoint-<step>.partial-<random>` and renamed when complete, so a
/// kill at any moment leaves either the old set of checkpoints or the new one; `resume` takes the
/// highest complete `checkpoint-<step>`. Weights are F32 so a resumed run is bit-exact.
public enum TrainingCheckpoint {
    public static let stateFileName = "trainer_state.json"
    public static let optimizerFileName = "optimizer.safetensors"
    static let prefix = "checkpoint-"

    /// Complete checkpoints in `directory`, by step.
    public static func checkpoints(in directory: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix(prefix), let step = Int(name.dropFirst(prefix.count)) else { return nil }
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(stateFileName).path) else {
                return nil
            }
            return (step, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// Checks the output folder before a run: new or empty unless resuming; when resuming, returns
    /// the latest checkpoint after checking it was made with the same settings and data. Removes
    /// partial checkpoints left by a kill.
    static func prepare(_ directory: URL, resume: Bool, parameters: Training.Parameters, fingerprint: String) throws
        -> (directory: URL, state: TrainerState)?
    {
        let fm = FileManager.default
        let existing = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in existing where name.hasPrefix(prefix) && name.contains(".partial-") {
            try? fm.removeItem(at: directory.appendingPathComponent(name))
        }
        guard resume else {
            if existing.contains(where: { !$0.hasPrefix(".") }) {
                throw TrainingError.outputExists(path: directory.path)
            }
            return nil
        }
        guard let latest = checkpoints(in: directory).last else {
            throw TrainingError.nothingToResume(path: directory.path)
        }
        let state = try readState(latest.url)
        let file = latest.url.appendingPathComponent(stateFileName).path
        if state.parameters.resumeKey() != parameters.resumeKey() {
            throw TrainingError.resumeMismatch(file: file, reason: "it was written with other training parameters")
        }
        if state.dataFingerprint != fingerprint {
            throw TrainingError.resumeMismatch(file: file, reason: "it was trained on other data")
        }
        return (latest.url, state)
    }

    /// Writes `checkpoint-<step>` and deletes checkpoints beyond `keepCheckpoints`. Returns its folder.
    @discardableResult
    static func write(trainer: Trainer, state: TrainerState, output: Training.Output) throws -> URL {
        let fm = FileManager.default
        let final = output.directory.appendingPathComponent("\(prefix)\(state.globalStep)")
        let staging = output.directory.appendingPathComponent(
            "\(prefix)\(state.globalStep).partial-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))")
        try writeModel(trainer.model, to: staging, output: output, merge: false)
        let optimizerState = trainer.optimizer.exportState().sorted { $0.key < $1.key }.map {
            (name: $0.key, tensor: $0.value)
        }
        try SafeTensorsWriter.write(optimizerState, dtype: .f32, to: staging.appendingPathComponent(optimizerFileName))
        try writeState(state, to: staging)
        if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
        try fm.moveItem(at: staging, to: final)
        for old in checkpoints(in: output.directory).dropLast(trainer.parameters.keepCheckpoints) {
            try? fm.removeItem(at: old.url)
        }
        return final
    }

    /// The final model in the output folder itself (each file atomic), LoRA merged if asked.
    static func writeFinal(trainer: Trainer, state: TrainerState, output: Training.Output) throws {
        try writeModel(trainer.model, to: output.directory, output: output, merge: trainer.parameters.lora.merge)
        try writeState(state, to: output.directory)
    }

    static func writeModel(_ model: MoEModel, to directory: URL, output: Training.Output, merge: Bool) throws {
        if merge { try model.mergeLoRA() }
        try model.save(to: directory, dtype: .f32, configSource: output.configSource)
        for name in [MoEModel.adapterConfigFileName, MoEModel.adapterWeightsFileName] {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
        try model.saveLoRA(to: directory, baseModel: output.baseModelName)
    }

    static func writeState(_ state: TrainerState, to directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(state), to: directory.appendingPathComponent(stateFileName))
    }

    public static func readState(_ checkpoint: URL) throws -> TrainerState {
        let url = checkpoint.appendingPathComponent(stateFileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingError.badCheckpoint(file: url.path, reason: "missing")
        }
        do {
            return try JSONDecoder().decode(TrainerState.self, from: data)
        } catch {
            throw TrainingError.badCheckpoint(file: url.path, reason: "not a trainer state: \(error)")
        }
    }

    /// Replaces every weight of `model` with the checkpoint's (same names and shapes), and attaches
    /// its LoRA adapters when `lora`.
    static func restoreWeights(of model: MoEModel, from checkpoint: URL, lora: Bool) throws {
        let stored = try SafeTensorsCheckpoint(directory: checkpoint)
        var values: [(Parameter, Tensor)] = []
        for p in model.parameters {
            guard let info = stored.info(p.name) else {
                throw ModelError.missingTensor(file: checkpoint.path, name: p.name)
            }
            guard info.shape == p.shape else {
                throw ModelError.shapeMismatch(
                    file: checkpoint.path, name: p.name, expected: p.shape, actual: info.shape)
            }
            values.append((p, try stored.tensor(p.name)))
        }
        for (p, value) in values { p.assign(value) }
        for p in model.parameters { p.adapter = nil }
        if lora { try model.loadLoRA(from: checkpoint, trainable: true) }
    }

    static func restoreOptimizer(_ optimizer: Optimizer, from checkpoint: URL) throws {
        let url = checkpoint.appendingPathComponent(optimizerFileName)
        let file = try SafeTensorsFile(url: url)
        var state: [String: Tensor] = [:]
        for name in file.tensorNames { state[name] = try file.tensor(name) }
        try optimizer.importState(state)
    }

    /// FNV-1a over every example's ids and first target, as 16 hex digits.
    public static func fingerprint(_ examples: [TrainingExample]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ x: Int) {
            var v = UInt64(bitPattern: Int64(x))
            for _ in 0..<8 {
                hash = (hash ^ (v & 0xFF)) &* 0x100_0000_01B3
                v >>= 8
            }
        }
        mix(examples.count)
        for e in examples {
            mix(e.ids.count)
            mix(e.firstTarget)
            for id in e.ids { mix(id) }
        }
        return String(hash, radix: 16)
    }
}
