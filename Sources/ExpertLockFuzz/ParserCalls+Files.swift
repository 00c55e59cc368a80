import Crypto
import ExpertLock
import Foundation
import MoEModels

/// Targets for the files beside a model and the state files of resumable commands: the signed
/// manifest and update log, key files, prompt templates, trainer and re-alignment state, LoRA
/// adapter configs, expert masks, and the resume states of `attribute` and `sweep`.
///
/// Targets that need a model copy the small test fixture `qwen2_moe_bf16_norm_tied` (2 sparse
/// layers of 4 experts) into the scratch folder once per session.
extension ParserCalls {
    /// The package root, from this file's path (the fuzzer runs from a checkout).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtureModel = packageRoot.appendingPathComponent(
        "Tests/MoEModelsTests/Fixtures/models/qwen2_moe_bf16_norm_tied")

    /// scratch/model: config.json and model.safetensors of the fixture.
    static func writeModel(_ scratch: FuzzScratch) throws {
        let folder = scratch.directory.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["config.json", "model.safetensors"] {
            let target = folder.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: fixtureModel.appendingPathComponent(name), to: target)
        }
    }

    static func modelFolder(_ scratch: FuzzScratch) -> URL { scratch.directory.appendingPathComponent("model") }

    // MARK: - Manifest and update log

    /// The public key the manifest and log seeds were signed with (`fuzz/corpus/signing-key/fuzz-key`,
    /// a throwaway key made for the fuzzer).
    static let seedPublicKey = "fuzz/corpus/signing-key/fuzz-key.pub"

    static func publicKey() throws -> Curve25519.Signing.PublicKey {
        try SigningKey.readPublicKey(packageRoot.appendingPathComponent(seedPublicKey))
    }

    /// The manifest seed the update-log target checks logs against.
    static let seedManifest = "fuzz/corpus/manifest/expertlock_manifest.json"

    /// A manifest as `log verify` reads it, then the whole verification against the fixture model.
    static func manifest(_ data: Data, _ scratch: FuzzScratch) throws {
        let url = try scratch.write(data, to: "manifest.json")
        let manifest = try ModelManifest.read(url)
        _ = manifest.digest
        let report = try LogVerifier.verify(
            model: modelFolder(scratch), manifest: manifest, log: UpdateLog(), publicKey: try publicKey())
        _ = report.valid
    }

    /// An update log as `log verify` reads it, replayed over the seed manifest and the fixture model.
    static func updateLog(_ data: Data, _ scratch: FuzzScratch) throws {
        let url = try scratch.write(data, to: UpdateLog.fileName)
        let log = try UpdateLog.read(url)
        let manifest = try ModelManifest.read(packageRoot.appendingPathComponent(seedManifest))
        let report = try LogVerifier.verify(
            model: modelFolder(scratch), manifest: manifest, log: log, publicKey: try publicKey())
        _ = report.valid
        // What was read writes back and reads back the same entries.
        try log.write(to: scratch.directory.appendingPathComponent("log-copy.jsonl"))
        let back = try UpdateLog.read(scratch.directory.appendingPathComponent("log-copy.jsonl"))
        guard back.entries == log.entries else { throw InvariantViolation("update log entries change in a write-back") }
    }

    // MARK: - Keys

    /// A key file read as a private and as a public key; an accepted private key signs a message
    /// its public key verifies.
    static func signingKey(_ data: Data, _ scratch: FuzzScratch) throws {
        let url = try scratch.write(data, to: "key")
        let message = Data("expertlock fuzz".utf8)
        if let key = try? SigningKey.readPrivateKey(url) {
            let signature = try key.signature(for: message)
            guard key.publicKey.isValidSignature(signature, for: message) else {
                throw InvariantViolation("an accepted private key's signature does not verify")
            }
        }
        _ = try SigningKey.readPublicKey(url)
    }

    /// A typed key file (issue 23): parsed; a typed file written back reads back the same kind and
    /// bytes; a file typed public is never accepted as a private key, nor one typed private as a
    /// public key; an accepted private key signs a message its public key verifies.
    static func typedKey(_ data: Data, _ scratch: FuzzScratch) throws {
        let parsed = try SigningKey.parseKeyFile(data, file: "key")
        let url = try scratch.write(data, to: "key")
        if let kind = parsed.kind {
            let back = try SigningKey.parseKeyFile(SigningKey.fileContents(kind, key: parsed.bytes), file: "copy")
            guard back == parsed else { throw InvariantViolation("a typed key file changes in a write-back") }
        }
        let asPrivate = try? SigningKey.readPrivateKey(url)
        if parsed.kind == .publicKey && asPrivate != nil {
            throw InvariantViolation("a file typed as a public key was accepted as a private key")
        }
        if let key = asPrivate {
            let message = Data("expertlock fuzz".utf8)
            guard key.publicKey.isValidSignature(try key.signature(for: message), for: message) else {
                throw InvariantViolation("an accepted private key's signature does not verify")
            }
        }
        let asPublic = try? SigningKey.readPublicKey(url)
        if parsed.kind == .privateKey && asPublic != nil {
            throw InvariantViolation("a file typed as a private key was accepted as a public key")
        }
    }

    // MARK: - Prompt template

    static func promptTemplate(_ data: Data, _ scratch: FuzzScratch) throws {
        let template = try PromptTemplate.load(from: scratch.write(data, to: "template.json"))
        for task in [ClassificationTask.sst2, ClassificationTask(name: .mnli, labelNames: ["a", "b", "c"])] {
            guard (try? template.validate(for: task)) != nil else { continue }
            _ = template.prompt(for: ClassificationExample(id: 0, text: "a {text} b {", textPair: "c}"))
            _ = template.prompt(for: ClassificationExample(id: 1, text: String(repeating: "{}", count: 100)))
        }
    }

    // MARK: - Training and re-alignment state

    static func trainerState(_ data: Data, _ scratch: FuzzScratch) throws {
        let folder = scratch.directory.appendingPathComponent("checkpoint-1")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try data.write(to: folder.appendingPathComponent(TrainingCheckpoint.stateFileName))
        let state = try TrainingCheckpoint.readState(folder)
        _ = state.logHistory.last
    }

    /// The run the `realign-state` seed was saved by (`fuzz/corpus/realign-state/state.json`, the
    /// settings of `RealignCommandTests`): `--resume` only trusts a state written with the same
    /// parameters and data fingerprint, so the target checks inputs against the seed's.
    static let realignExpected: (parameters: ActiveLearningLoop.Parameters, fingerprint: String)? = {
        let url = packageRoot.appendingPathComponent("fuzz/corpus/realign-state/state.json")
        guard let data = FileManager.default.contents(atPath: url.path),
            let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let fingerprint = root["fingerprint"] as? String, let parameters = root["parameters"] as? [String: Any],
            let parametersData = try? JSONSerialization.data(withJSONObject: parameters),
            let decoded = try? JSONDecoder().decode(ActiveLearningLoop.Parameters.self, from: parametersData)
        else { return nil }
        return (decoded, fingerprint)
    }()

    static func realignState(_ data: Data, _ scratch: FuzzScratch) throws {
        guard let expected = realignExpected else {
            throw InvariantViolation(
                "fuzz/corpus/realign-state/state.json is missing: the target has no run to check against")
        }
        try ActiveLearningCheckpoint.checkStateFile(
            data, file: "state.json", parameters: expected.parameters, fingerprint: expected.fingerprint, poolSize: 48)
    }

    // MARK: - Model folder companions

    /// `adapter_config.json` beside a fixed `adapter_model.safetensors` (rank 2 on every attention
    /// and expert projection of the fixture).
    static func writeModelWithAdapter(_ scratch: FuzzScratch) throws {
        try writeModel(scratch)
        let model = try ModelLoader.load(directory: modelFolder(scratch), residency: .resident)
        let targets = model.parameters.filter {
            $0.shape.count == 2 && ($0.name.contains("proj") || $0.name.contains("experts"))
        }
        model.attachLoRA(to: targets, rank: 2, alpha: 4, seed: 1)
        let adapter = scratch.directory.appendingPathComponent("adapter")
        try model.saveLoRA(to: adapter)
    }

    static func loraConfig(_ data: Data, _ scratch: FuzzScratch) throws {
        let adapter = scratch.directory.appendingPathComponent("adapter")
        try data.write(to: adapter.appendingPathComponent(MoEModel.adapterConfigFileName))
        let model = try ModelLoader.load(directory: modelFolder(scratch), residency: .resident)
        try model.loadLoRA(from: adapter)
        _ = try model.forward(TokenBatch([1, 2, 3]))
    }

    /// `expertlock_mask.json` in the fixture's folder, loaded with the model, which then runs.
    static func mask(_ data: Data, _ scratch: FuzzScratch) throws {
        let url = modelFolder(scratch).appendingPathComponent(ExpertMaskFile.fileName)
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let model = try ModelLoader.load(directory: modelFolder(scratch))
        _ = try model.forward(TokenBatch([1, 2, 3]))
    }

    // MARK: - Resume states of attribute and sweep

    static func attributeState(_ data: Data, _ scratch: FuzzScratch) throws {
        let state = try AttributionResumeState.decode(data, file: ".a.json.state")
        _ = try state.partial.merged(with: state.partial)
        try state.write(to: scratch.directory.appendingPathComponent("state-copy"))
        guard try AttributionResumeState.read(scratch.directory.appendingPathComponent("state-copy")) == state else {
            throw InvariantViolation("an accepted attribute state reads back different after writing")
        }
    }

    static func sweepState(_ data: Data, _ scratch: FuzzScratch) throws {
        let state = try SweepResumeState.decode(data, file: ".s.sweep-state")
        _ = state.attribution.globalRanking(criterion: .soft)
        try state.write(to: scratch.directory.appendingPathComponent("state-copy"))
        let back = try SweepResumeState.read(scratch.directory.appendingPathComponent("state-copy"))
        // NaN metrics compare unequal to themselves: compare the encodings instead.
        guard let back, back.fingerprint == state.fingerprint, back.attribution == state.attribution,
            back.progress.points.count == state.progress.points.count
        else { throw InvariantViolation("an accepted sweep state reads back different after writing") }
    }
}
