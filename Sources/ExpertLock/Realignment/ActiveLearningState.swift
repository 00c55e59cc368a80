import Foundation
import MoEModels
import TensorCore

/// Where an active-learning run stands: enough to continue it exactly after a kill.
///
/// Nothing random is saved: the seed set, random picks, candidate subsets and training batches are
/// pure functions of (seed, round, step). The trainable weights and AdamW moments are saved in F32
/// beside this file, so a resumed run computes bit for bit what the uninterrupted one would.
struct ActiveLearningState: Codable, Equatable {
    var version = 1
    var parameters: ActiveLearningLoop.Parameters
    /// `ActiveLearningTask.fingerprint`: a resumed run must see the same pool, data and settings.
    var fingerprint: String
    var metric: TaskMetric
    /// The round in progress, or the next one to start.
    var round: Int
    /// Optimizer steps of `round` done; 0 means its examples are not chosen yet.
    var stepInRound: Int
    /// Pool indices in the order they were labeled (the round in progress included when
    /// `stepInRound > 0`).
    var labeled: [Int]
    /// Metric after pruning (labeled 0) and after each completed round.
    var curve: [LearningCurvePoint]
    /// Every round done.
    var finished: Bool
    /// Save counter, the suffix of the state folder.
    var sequence: Int

    enum CodingKeys: String, CodingKey {
        case version, parameters, fingerprint, metric, round, labeled, curve, finished, sequence
        case stepInRound = "step_in_round"
    }

    /// Checks the invariant between rounds and labels (a hand-edited or foreign file fails here).
    func validate(file: String, poolSize: Int) throws {
        let sizes = parameters.roundSizes
        guard round >= 0, round <= sizes.count, stepInRound >= 0, stepInRound < max(1, parameters.stepsPerRound),
            round < sizes.count || stepInRound == 0
        else { throw RealignmentError.badState(file: file, reason: "round \(round), step \(stepInRound) out of range") }
        let expected = sizes.prefix(round).reduce(0, +) + (stepInRound > 0 ? sizes[round] : 0)
        guard labeled.count == expected, Set(labeled).count == labeled.count,
            labeled.allSatisfy({ $0 >= 0 && $0 < poolSize })
        else {
            throw RealignmentError.badState(
                file: file,
                reason: "\(labeled.count) labeled examples where round \(round) needs \(expected) distinct ones")
        }
        guard curve.count == round + 1 else {
            throw RealignmentError.badState(file: file, reason: "\(curve.count) curve points after \(round) rounds")
        }
    }
}

/// State folders of a run: `state-<n>/` holding `state.json`, `trainable.safetensors` (the
/// trainable weights or LoRA factors) and `optimizer.safetensors`. A folder is written as
/// `.state-<n>.partial-<random>` and renamed when complete, then older ones are deleted, so a kill
/// at any moment leaves at least one complete state (or none before the first save).
public enum ActiveLearningCheckpoint {
    static let prefix = "state-"
    static let stateFileName = "state.json"
    static let weightsFileName = "trainable.safetensors"
    static let optimizerFileName = "optimizer.safetensors"

    /// Complete state folders, by sequence number.
    static func states(in directory: URL) -> [(sequence: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix(prefix), let n = Int(name.dropFirst(prefix.count)) else { return nil }
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(stateFileName).path) else {
                return nil
            }
            return (n, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// Checks the folder before a run and returns the state to continue from, if any. Without
    /// `resume` the folder must be new or empty; with it, the latest state must have been written
    /// with the same parameters and data (none yet: the run starts from the beginning). Partial
    /// folders left by a kill are removed.
    static func prepare(
        _ directory: URL, resume: Bool, parameters: ActiveLearningLoop.Parameters, fingerprint: String, poolSize: Int
    ) throws -> (state: ActiveLearningState, url: URL)? {
        let fm = FileManager.default
        let existing = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in existing where name.hasPrefix("." + prefix) && name.contains(".partial-") {
            try? fm.removeItem(at: directory.appendingPathComponent(name))
        }
        guard resume else {
            if existing.contains(where: { !$0.hasPrefix(".") }) {
                throw RealignmentError.outputExists(path: directory.path)
            }
            return nil
        }
        guard let latest = states(in: directory).last else { return nil }
        let file = latest.url.appendingPathComponent(stateFileName)
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw RealignmentError.badState(file: file.path, reason: "cannot read the file")
        }
        let state = try checkedState(
            data, file: file.path, parameters: parameters, fingerprint: fingerprint, poolSize: poolSize)
        return (state, latest.url)
    }

    /// Decodes a `state.json` and checks it belongs to this run and is consistent, as `--resume`
    /// does before trusting it.
    static func checkedState(
        _ data: Data, file: String, parameters: ActiveLearningLoop.Parameters, fingerprint: String, poolSize: Int
    ) throws -> ActiveLearningState {
        let state: ActiveLearningState
        do {
            state = try JSONFileStyle.decode(ActiveLearningState.self, from: data)
        } catch {
            throw RealignmentError.badState(file: file, reason: "not an active-learning state")
        }
        if state.parameters.resumeKey != parameters.resumeKey {
            throw RealignmentError.resumeMismatch(file: file, reason: "it was written with other parameters")
        }
        if state.fingerprint != fingerprint {
            throw RealignmentError.resumeMismatch(file: file, reason: "it was written for other data or settings")
        }
        try state.validate(file: file, poolSize: poolSize)
        return state
    }

    /// `checkedState` for the fuzzer (`expertlock-fuzz realign-state`), which sees only the public
    /// API: throws what `--resume` would throw for these bytes.
    public static func checkStateFile(
        _ data: Data, file: String, parameters: ActiveLearningLoop.Parameters, fingerprint: String, poolSize: Int
    ) throws {
        _ = try checkedState(data, file: file, parameters: parameters, fingerprint: fingerprint, poolSize: poolSize)
    }

    /// Writes `state-<sequence>` and removes older states.
    static func write(_ state: ActiveLearningState, trainer: any RealignmentTrainer, to directory: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let final = directory.appendingPathComponent("\(prefix)\(state.sequence)")
        let staging = directory.appendingPathComponent(
            ".\(prefix)\(state.sequence).partial-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))")
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        do {
            let weights = try trainer.trainableParameters.map { (name: $0.name, tensor: try $0.tensor()) }
            try SafeTensorsWriter.write(weights, dtype: .f32, to: staging.appendingPathComponent(weightsFileName))
            let moments = trainer.optimizer.exportState().sorted { $0.key < $1.key }.map {
                (name: $0.key, tensor: $0.value)
            }
            try SafeTensorsWriter.write(moments, dtype: .f32, to: staging.appendingPathComponent(optimizerFileName))
            try AtomicFile.write(
                try JSONFileStyle.encoder().encode(state), to: staging.appendingPathComponent(stateFileName))
            if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
            try fm.moveItem(at: staging, to: final)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        for old in states(in: directory) where old.sequence < state.sequence { try? fm.removeItem(at: old.url) }
    }

    /// Puts the saved trainable weights into `targets` (the model's `realignmentTargets`, LoRA
    /// adapters attached) before a trainer is built over them.
    static func restoreWeights(from url: URL, into targets: [Parameter]) throws {
        let file = try SafeTensorsFile(url: url.appendingPathComponent(weightsFileName))
        guard Set(file.tensorNames) == Set(targets.map(\.name)) else {
            throw RealignmentError.badState(
                file: url.appendingPathComponent(weightsFileName).path,
                reason: "holds \(file.tensorNames.count) tensors, the trainable subset has \(targets.count)")
        }
        for p in targets {
            let value = try file.tensor(p.name)
            guard value.shape == p.shape else {
                throw ModelError.shapeMismatch(
                    file: url.appendingPathComponent(weightsFileName).path, name: p.name, expected: p.shape,
                    actual: value.shape)
            }
            p.assign(value)
        }
    }

    /// Restores the AdamW state saved beside the weights.
    static func restoreOptimizer(from url: URL, into optimizer: Optimizer) throws {
        let file = try SafeTensorsFile(url: url.appendingPathComponent(optimizerFileName))
        var state: [String: Tensor] = [:]
        for name in file.tensorNames { state[name] = try file.tensor(name) }
        try optimizer.importState(state)
    }
}
