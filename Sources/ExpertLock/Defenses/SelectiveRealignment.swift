import Crypto
import Foundation
import MoEModels
import TensorCore

/// Owner-controlled fine-tuning of a locked model (the paper's "selective re-alignment"): only the
/// owner, holding the private key, can produce a checkpoint that verifies, and only through LoRA.
///
/// - `lock` copies a model folder and adds a signed `ModelManifest`; the input is never modified.
/// - A training run on a locked model first `begin`s a session, which refuses anything but
///   `--trainable lora`, and refuses an input that does not verify under the owner's key (signing
///   on top of a tampered model would launder the tampering).
/// - After the run has written its output folder, `Session.finish` compares the output's tensors
///   with the input's state, checks that only LoRA could have made the change (adapter tensors,
///   or attention/expert projections with unchanged shapes when the adapters were merged), and
///   writes the manifest and the input's log plus one new signed entry into the output folder.
///
/// One entry is appended per finished run (the final save), covering steps 1…N of that run; the
/// run's intermediate `checkpoint-N/` folders are for resuming and are not locked models.
public enum SelectiveRealignment {
    /// Writes `output` as a copy of the model folder `model` (top-level files; checkpoint
    /// sub-folders, an old manifest and an old log are left out) plus a manifest signed with `key`.
    /// Files are hard-linked when the file system allows (they are never written in place) and
    /// copied otherwise.
    @discardableResult
    public static func lock(
        model: URL, key: Curve25519.Signing.PrivateKey, output: URL, overwrite: Bool = false, date: Date = Date()
    ) throws -> ModelManifest {
        _ = try CheckpointTensors.modelType(directory: model)
        var manifest: ModelManifest?
        try OutputDirectory.write(to: output, overwrite: overwrite, inputs: [model]) { staging in
            let fm = FileManager.default
            let skipped: Set<String> = [ModelManifest.fileName, UpdateLog.fileName]
            for name in try fm.contentsOfDirectory(atPath: model.path).sorted() {
                let source = model.appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                guard !name.hasPrefix("."), !skipped.contains(name),
                    fm.fileExists(atPath: source.path, isDirectory: &isDirectory), !isDirectory.boolValue
                else { continue }
                // A copy (a copy-on-write clone where the file system can), never a hard link:
                // the locked copy's bytes must not be the input's, or training it would change
                // the input model.
                try FileCopy.copy(from: source, to: staging.appendingPathComponent(name))
            }
            let signed = try ModelManifest.create(directory: staging, key: key, created: date)
            try signed.write(to: staging.appendingPathComponent(ModelManifest.fileName))
            manifest = signed
        }
        guard let manifest else { throw DefenseError.badManifest(file: output.path, reason: "not written") }
        return manifest
    }

    /// Whether a folder is a locked model (has a manifest).
    public static func isLocked(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(ModelManifest.fileName).path)
    }

    /// The training policy: nil when `model` is not locked and no key is given (an ordinary run);
    /// a session when the owner trains a locked model with LoRA; an error otherwise (a key without
    /// a locked model, a locked model without a key, or a mode other than LoRA).
    public static func begin(model: URL?, keyFile: URL?, trainable: TrainableSubset) throws -> Session? {
        let locked = model.map(isLocked) ?? false
        guard let keyFile else {
            if let model, locked {
                throw DefenseError.lockedModelPolicy(
                    directory: model.path, reason: "training it needs the owner's --key, so the update is signed")
            }
            return nil
        }
        guard let model, locked else { throw DefenseError.notLocked(directory: model?.path ?? "(no --model)") }
        guard trainable == .lora else {
            throw DefenseError.lockedModelPolicy(
                directory: model.path, reason: "only --trainable lora is allowed, not '\(trainable.rawValue)'")
        }
        return try begin(model: model, key: SigningKey.readPrivateKey(keyFile))
    }

    /// Verifies the locked model under the key's public half and opens a session on it.
    public static func begin(model: URL, key: Curve25519.Signing.PrivateKey) throws -> Session {
        let manifest = try ModelManifest.read(model.appendingPathComponent(ModelManifest.fileName))
        let log = try UpdateLog.read(directory: model)
        let (report, state) = try LogVerifier.verifyReturningState(
            model: model, manifest: manifest, log: log, publicKey: key.publicKey)
        guard report.valid else {
            let first =
                (report.problems.map(\.detail)
                + report.differences.map { d in
                    (d.tensor.map { "\($0): " } ?? "") + d.detail
                }).prefix(3)
            throw DefenseError.lockedInputInvalid(
                directory: model.path, summary: report.summary + " (" + first.joined(separator: "; ") + ")")
        }
        return Session(input: model, manifest: manifest, log: log, state: state, key: key)
    }

    /// A run on a verified locked model, waiting for its output.
    public struct Session {
        public let input: URL
        public let manifest: ModelManifest
        public let log: UpdateLog
        /// The input's tensors (equal to the manifest plus the log: it verified).
        public let state: [String: TensorRecord]
        let key: Curve25519.Signing.PrivateKey

        /// Describes what the run changed from the input to `output`, signs it as the next log
        /// entry and writes the manifest and the extended log into `output`.
        @discardableResult
        public func finish(
            output: URL, examples: [TrainingExample], steps: Int, trainable: TrainableSubset = .lora,
            date: Date = Date()
        ) throws -> UpdateLogEntry {
            // The locked mask goes along byte for byte (saving a masked model writes the same
            // experts, but in its own formatting, which the manifest would count as a change).
            let mask = input.appendingPathComponent(ExpertMaskFile.fileName)
            let outputMask = output.appendingPathComponent(ExpertMaskFile.fileName)
            if let data = FileManager.default.contents(atPath: mask.path) {
                try AtomicFile.write(data, to: outputMask)
            }
            let outputTensors = try CheckpointTensors(directory: output)
            let after = try outputTensors.records()
            var changed: [TensorRecord] = []
            for (name, record) in after.sorted(by: { $0.key < $1.key }) {
                let role = record.role
                guard let before = state[name] else {
                    guard role.isAdapter else {
                        throw DefenseError.unauthorizedChange(
                            directory: output.path, tensor: name,
                            reason: "is new, and a LoRA run adds adapter tensors only")
                    }
                    changed.append(record)
                    continue
                }
                guard before.sha256 != record.sha256 || before.shape != record.shape else { continue }
                guard role.isAdapter || (role.isLoRATarget && before.shape == record.shape) else {
                    throw DefenseError.unauthorizedChange(
                        directory: output.path, tensor: name, reason: "changed, and LoRA cannot change it")
                }
                changed.append(record)
            }
            let removed = state.keys.filter { after[$0] == nil }.sorted()
            if let base = removed.first(where: { !TensorRole(name: $0).isAdapter }) {
                throw DefenseError.unauthorizedChange(directory: output.path, tensor: base, reason: "was removed")
            }
            let merged = changed.contains { !$0.role.isAdapter }
            var entry = UpdateLogEntry(
                index: log.entries.count, previous: log.entries.last?.digest ?? manifest.digest, firstStep: 1,
                lastStep: steps, dataSHA256: UpdateLog.dataHash(examples),
                updateSHA256: try updateHash(
                    changed: changed.map(\.name), removed: removed, before: CheckpointTensors(directory: input),
                    after: outputTensors),
                update: merged ? "merged" : "adapter", trainable: trainable.rawValue,
                configSHA256: try CheckpointTensors.configSHA256(directory: output), tensors: changed, removed: removed,
                timestamp: ModelManifest.timestamp(date), signature: "")
            try entry.sign(with: key)
            try manifest.write(to: output.appendingPathComponent(ModelManifest.fileName))
            var extended = log
            extended.unreadable = []
            extended.entries.append(entry)
            try extended.write(to: output.appendingPathComponent(UpdateLog.fileName))
            return entry
        }
    }

    /// SHA-256 of an update: for each changed tensor by sorted name, its name and then the Float32
    /// little-endian bytes of new − old (a changed weight) or of its values (a new adapter tensor);
    /// then the removed names.
    static func updateHash(
        changed: [String], removed: [String], before: CheckpointTensors, after: CheckpointTensors
    ) throws -> String {
        var hasher = SHA256()
        for name in changed.sorted() {
            hasher.update(data: Data(name.utf8))
            var value = try after.tensor(name)
            if before.info(name) != nil {
                value = value.adding(try before.tensor(name).scaled(by: -1))
            }
            value.withUnsafeBufferPointer { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }
        for name in removed { hasher.update(data: Data(("removed:" + name).utf8)) }
        return hex(hasher.finalize())
    }
}
