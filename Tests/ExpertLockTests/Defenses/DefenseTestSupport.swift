import Crypto
import Foundation
import MoEModels
import TensorCore

@testable import ExpertLock

/// A locked micro model on disk, its owner's key, and helpers to tamper with copies of it.
struct LockedFixture {
    static let vocab = 19
    let root: URL
    let key: Curve25519.Signing.PrivateKey
    /// The locked model folder.
    let locked: URL

    init() throws {
        root = try Fixtures.temporaryDirectory()
        let original = root.appendingPathComponent("original")
        try TrainingFixtures.microModel(vocab: Self.vocab, seed: 7).save(to: original)
        let keyURL = root.appendingPathComponent("owner.key")
        try SigningKey.generate(to: keyURL)
        key = try SigningKey.readPrivateKey(keyURL)
        locked = root.appendingPathComponent("locked")
        try SelectiveRealignment.lock(model: original, key: key, output: locked)
    }

    func remove() { try? FileManager.default.removeItem(at: root) }

    static let examples = TrainingFixtures.tokenExamples(vocab: vocab, count: 8, length: 10, seed: 4)

    /// LoRA parameters of a short honest run.
    static func loraParameters(merge: Bool, steps: Int = 4) -> Training.Parameters {
        var p = Training.Parameters()
        p.steps = steps
        p.batchSize = 4
        p.sequenceLength = 10
        p.learningRate = 1e-2
        p.warmupSteps = 1
        p.trainable = .lora
        p.lora = LoRAOptions(rank: 2, alpha: 4, merge: merge)
        return p
    }

    /// The owner's run as `expertlock train --key` makes it: begin (verifies the input), train,
    /// save into `name`, finish (signs the entry). Returns the output folder.
    @discardableResult
    func ownerRun(from input: URL, to name: String, merge: Bool) throws -> URL {
        let session = try SelectiveRealignment.begin(model: input, key: key)
        let model = try ModelLoader.load(directory: input, residency: .resident)
        let output = root.appendingPathComponent(name)
        let parameters = Self.loraParameters(merge: merge)
        let result = try Training.train(
            model: model, examples: Self.examples, parameters: parameters,
            output: Training.Output(directory: output, configSource: input.appendingPathComponent("config.json")))
        try session.finish(output: output, examples: Self.examples, steps: result.steps)
        return output
    }

    /// A copy of `source` (model files, manifest and log) whose weights are `edit`ed and re-saved.
    func tamperedCopy(of source: URL, name: String, _ edit: (MoEModel) throws -> MoEModel) throws -> URL {
        let model = try edit(try ModelLoader.load(directory: source, residency: .resident))
        let out = root.appendingPathComponent(name)
        try model.save(to: out)
        for file in [ModelManifest.fileName, UpdateLog.fileName] {
            let from = source.appendingPathComponent(file)
            if FileManager.default.fileExists(atPath: from.path) {
                try FileManager.default.copyItem(at: from, to: out.appendingPathComponent(file))
            }
        }
        return out
    }

    func verify(_ directory: URL, publicKey: Curve25519.Signing.PublicKey? = nil, log: UpdateLog? = nil) throws
        -> LogVerification
    {
        let manifest = try ModelManifest.read(directory.appendingPathComponent(ModelManifest.fileName))
        return try LogVerifier.verify(
            model: directory, manifest: manifest, log: log ?? UpdateLog.read(directory: directory),
            publicKey: publicKey ?? key.publicKey)
    }
}
