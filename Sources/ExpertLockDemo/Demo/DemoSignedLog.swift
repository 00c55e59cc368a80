import ExpertLock
import Crypto
import Foundation
import MoEModels

/// The demo's signed-log stage (issue #7): the owner generates a key, locks the standard model and
/// fine-tunes it twice with LoRA through `SelectiveRealignment` (two signed entries); the demo then
/// makes the tampered copies an attacker would and asks `LogVerifier` about each, exactly as
/// `expertlock log verify` does. Every folder is kept under `signed-log/`, so each verdict can be
/// re-checked from the command line.
enum DemoSignedLog {
    static let ownerKey = "owner.key"

    static func run(
        original: URL, examples: [TrainingExample], sizes: DemoSizes, output: URL, progress: (Double) -> Void
    ) throws -> DemoResults.SignedLogResult {
        let fm = FileManager.default
        let root = output.appendingPathComponent("signed-log")
        try? fm.removeItem(at: root)  // the stage is cheap; a rerun starts from a fresh key
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

        let keyURL = folder(ownerKey)
        let publicKey = try SigningKey.generate(to: keyURL)
        let key = try SigningKey.readPrivateKey(keyURL)
        try SelectiveRealignment.lock(model: original, key: key, output: folder("locked"))
        progress(0.1)

        // The owner's two honest runs: LoRA merged into the weights, then LoRA kept as adapters.
        var input = folder("locked")
        for (i, merge) in [true, false].enumerated() {
            let session = try SelectiveRealignment.begin(model: input, key: key)
            let model = try ModelLoader.load(directory: input, residency: .resident)
            var p = Training.Parameters()
            p.steps = 2 * sizes.realignSteps
            p.batchSize = 8
            p.sequenceLength = sizes.sequenceLength
            p.learningRate = 1e-3
            p.warmupSteps = 1
            p.seed = UInt64(i)
            p.trainable = .lora
            p.lora = LoRAOptions(rank: 4, alpha: 8, merge: merge)
            let out = folder("owner-run-\(i + 1)")
            let result = try Training.train(
                model: model, examples: examples, parameters: p,
                output: Training.Output(directory: out, configSource: input.appendingPathComponent("config.json")))
            try OutputDirectory.copyCompanionFiles(from: original, to: out)
            try session.finish(output: out, examples: examples, steps: result.steps)
            input = out
            progress(0.1 + 0.35 * Double(i + 1))
        }
        let honest = input

        var checks: [DemoResults.SignedLogCheck] = []
        func check(
            _ name: String, _ attack: String, expectValid: Bool, _ dir: URL,
            key: Curve25519.Signing.PublicKey = publicKey
        )
            throws
        {
            let manifest = try ModelManifest.read(dir.appendingPathComponent(ModelManifest.fileName))
            let report = try LogVerifier.verify(
                model: dir, manifest: manifest, log: UpdateLog.read(directory: dir), publicKey: key)
            // Log problems first, then the differences that name experts, then the rest.
            let order: [TensorDifference.Kind] = [
                .expertRemoved, .expertMasked, .valuesChanged, .shapeChanged, .configChanged, .expertMoved, .missing,
                .unexpected, .maskChanged,
            ]
            let differences = report.differences.enumerated().sorted { a, b in
                let (ra, rb) = (order.firstIndex(of: a.element.kind) ?? 99, order.firstIndex(of: b.element.kind) ?? 99)
                return ra != rb ? ra < rb : a.offset < b.offset
            }.map(\.element)
            var details =
                report.problems.map { "\($0.kind.rawValue): \($0.detail)" }
                + differences.map { d in "\(d.kind.rawValue): " + (d.tensor.map { "\($0): " } ?? "") + d.detail }
            if details.count > 3 { details = Array(details.prefix(3)) + ["… and \(details.count - 3) more"] }
            checks.append(
                .init(
                    name: name, attack: attack, folder: "signed-log/\(dir.lastPathComponent)", expectValid: expectValid,
                    valid: report.valid, summary: report.summary, details: details,
                    entries: report.entries))
        }
        try check(
            "honest owner", "two LoRA runs signed by the owner (merged, then adapters)", expectValid: true, honest)

        // One changed weight: one element of one expert's down projection, by 1e-3.
        let model = try ModelLoader.load(directory: honest, residency: .resident)
        let lastLayer = model.moeBlocks.last?.layer ?? 0
        guard
            let target = model.parameters.first(where: {
                TensorRole(name: $0.name) == .expert(layer: lastLayer, expert: 3) && $0.name.contains("w2")
            }) ?? model.parameters.first(where: { if case .expert = TensorRole(name: $0.name) { true } else { false } })
        else { throw DemoError.stage("signed log: the model has no expert tensor to tamper with") }
        let tampered = try copy(honest, to: folder("tampered-weight")) { m in
            guard let p = m.parameters.first(where: { $0.name == target.name }) else {
                throw DemoError.stage("signed log: \(target.name) is missing from the reloaded model")
            }
            var value = try p.tensor()
            value.data[0] += 1e-3
            p.assign(value)
            return m
        }
        try check("one changed weight", "\(target.name)[0] += 0.001", expectValid: false, tampered)

        // One removed expert (pruning by removal renumbers the rest of the layer).
        let counts = model.moeBlocks.map(\.expertCount)
        let removedExpert = 5 % max(1, counts.last ?? 1)
        let removed = try copy(honest, to: folder("removed-expert")) { m in
            try m.keepingExperts(
                counts.enumerated().map { l, n in (0..<n).filter { l != counts.count - 1 || $0 != removedExpert } })
        }
        try check(
            "one removed expert", "expert \(removedExpert) of layer \(lastLayer) removed", expectValid: false, removed)

        // The two log entries swapped.
        let reordered = try copy(honest, to: folder("reordered-log"))
        var log = try UpdateLog.read(directory: honest)
        log.entries.reverse()
        try log.write(to: reordered.appendingPathComponent(UpdateLog.fileName))
        try check("re-ordered log", "log entries 0 and 1 swapped", expectValid: false, reordered)

        // A stranger re-signs the last entry with their own key.
        let stranger = Curve25519.Signing.PrivateKey()
        let resigned = try copy(honest, to: folder("log-signed-by-another-key"))
        var strangerLog = try UpdateLog.read(directory: honest)
        if !strangerLog.entries.isEmpty { try strangerLog.entries[strangerLog.entries.count - 1].sign(with: stranger) }
        try strangerLog.write(to: resigned.appendingPathComponent(UpdateLog.fileName))
        try check(
            "log signed by another key", "last entry re-signed with a stranger's key", expectValid: false, resigned)

        // The attacker prunes and locks the result under their own key.
        let relockedSource = try copy(removed, to: folder(".relocked-source"), withLog: false)
        try SelectiveRealignment.lock(model: relockedSource, key: stranger, output: folder("relocked-by-another-key"))
        try? fm.removeItem(at: relockedSource)
        try check(
            "re-locked by another key", "expert removed, then locked with a stranger's key", expectValid: false,
            folder("relocked-by-another-key"))
        progress(1)
        return DemoResults.SignedLogResult(publicKey: SigningKey.text(publicKey), checks: checks)
    }

    /// A copy of a locked folder (model files, manifest and log), its weights `edit`ed and re-saved.
    static func copy(
        _ source: URL, to destination: URL, withLog: Bool = true, _ edit: ((MoEModel) throws -> MoEModel)? = nil
    ) throws -> URL {
        let fm = FileManager.default
        try? fm.removeItem(at: destination)
        try fm.createDirectory(at: destination, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source.path) where !name.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            let from = source.appendingPathComponent(name)
            guard fm.fileExists(atPath: from.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if !withLog && (name == ModelManifest.fileName || name == UpdateLog.fileName) { continue }
            try fm.copyItem(at: from, to: destination.appendingPathComponent(name))
        }
        if let edit {
            let model = try edit(try ModelLoader.load(directory: source, residency: .resident))
            for name in try fm.contentsOfDirectory(atPath: destination.path)
            where name.hasPrefix("model")
                && (name.hasSuffix(".safetensors") || name.hasSuffix(".safetensors.index.json"))
            {
                try fm.removeItem(at: destination.appendingPathComponent(name))
            }
            try model.save(to: destination, dtype: .f32, configSource: source.appendingPathComponent("config.json"))
        }
        return destination
    }
}

extension DemoResults {
    /// One verification of the signed-log stage.
    public struct SignedLogCheck: Sendable, Codable {
        public var name: String
        /// What was done to the owner's last checkpoint.
        public var attack: String
        public var folder: String
        public var expectValid: Bool
        public var valid: Bool
        public var summary: String
        /// The verifier's first findings (kind: tensor detail).
        public var details: [String]
        public var entries: Int

        /// The verifier said what it should: valid for the owner, not valid for every attack.
        public var passed: Bool { valid == expectValid }
    }

    public struct SignedLogResult: Sendable, Codable {
        /// The owner's public key (base64), as the manifest records it.
        public var publicKey: String
        public var checks: [SignedLogCheck]
    }
}
