import Crypto
import Foundation
import MoEModels

/// `expertlock_manifest.json`: what a locked model is, signed by its owner.
///
/// It lists every tensor of the checkpoint (name, dtype, shape, SHA-256 of the values, per-expert
/// row hashes for routers and fused expert tensors), the SHA-256 of the config, and the owner's
/// public key, with an Ed25519 signature over all of it (`CanonicalMessage`). The manifest is the
/// root of the update log: the first entry's `previous` is the manifest's `digest`, so a log cannot
/// be moved onto another model. The key in the file is informational; verification always uses the
/// public key the verifier is given.
public struct ModelManifest: Codable, Sendable, Equatable {
    public static let fileName = "expertlock_manifest.json"
    public static let currentFormat = "expertlock-manifest-1"

    public var format: String
    public var modelType: String
    public var configSHA256: String
    /// SHA-256 of `expertlock_mask.json` when the locked model has one: masking prunes experts
    /// without changing any tensor, so the mask is part of what is locked.
    public var maskSHA256: String?
    /// SHA-256 of the tokenizer files (`CheckpointTensors.tokenizerSHA256`) when the locked model
    /// has them; nil in manifests written before tokenizers were locked, whose signatures cover
    /// the same message as before.
    public var tokenizerSHA256: String?
    /// ISO 8601 time of locking (UTC).
    public var created: String
    /// Base64 of the owner's 32-byte Ed25519 public key.
    public var publicKey: String
    /// Sorted by name.
    public var tensors: [TensorRecord]
    /// Base64 Ed25519 signature over `signedMessage`.
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case format
        case modelType = "model_type"
        case configSHA256 = "config_sha256"
        case maskSHA256 = "mask_sha256"
        case tokenizerSHA256 = "tokenizer_sha256"
        case created
        case publicKey = "public_key"
        case tensors, signature
    }

    /// Hashes every tensor of the model folder and signs the result.
    public static func create(
        directory: URL, key: Curve25519.Signing.PrivateKey, created: Date = Date()
    ) throws -> ModelManifest {
        let modelType = try CheckpointTensors.modelType(directory: directory)
        let records = try CheckpointTensors(directory: directory).records()
        var manifest = ModelManifest(
            format: currentFormat, modelType: modelType,
            configSHA256: try CheckpointTensors.configSHA256(directory: directory),
            maskSHA256: CheckpointTensors.maskSHA256(directory: directory),
            tokenizerSHA256: CheckpointTensors.tokenizerSHA256(directory: directory),
            created: timestamp(created), publicKey: SigningKey.text(key.publicKey),
            tensors: records.values.sorted { $0.name < $1.name }, signature: "")
        manifest.signature = try key.signature(for: manifest.signedMessage).base64EncodedString()
        return manifest
    }

    /// The bytes the signature covers: every field but the signature.
    var signedMessage: Data {
        var m = CanonicalMessage(domain: "expertlock-manifest-v1")
        m.append(format)
        m.append(modelType)
        m.append(configSHA256)
        m.append(maskSHA256 ?? "")
        if let tokenizerSHA256 {  // absent from older manifests: their message is unchanged
            m.append("tokenizer")
            m.append(tokenizerSHA256)
        }
        m.append(created)
        m.append(publicKey)
        m.append(tensors.count)
        for record in tensors.sorted(by: { $0.name < $1.name }) { m.append(record) }
        return m.bytes
    }

    public func isSignatureValid(publicKey: Curve25519.Signing.PublicKey) -> Bool {
        guard let signature = Data(base64Encoded: signature) else { return false }
        return publicKey.isValidSignature(signature, for: signedMessage)
    }

    /// The chain anchor: SHA-256 of the signed message followed by the signature.
    public var digest: String {
        sha256Hex(signedMessage + (Data(base64Encoded: signature) ?? Data(signature.utf8)))
    }

    /// The tensors by name.
    public var tensorsByName: [String: TensorRecord] {
        Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public static func read(_ url: URL) throws -> ModelManifest {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DefenseError.badManifest(file: url.path, reason: "missing or unreadable")
        }
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(ModelManifest.self, from: data)
        } catch {
            throw DefenseError.badManifest(file: url.path, reason: "not an ExpertLock manifest (\(error))")
        }
        guard manifest.format == currentFormat else {
            throw DefenseError.badManifest(file: url.path, reason: "unknown format '\(manifest.format)'")
        }
        return manifest
    }

    /// Writes the manifest as pretty JSON, atomically.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(self) + Data("\n".utf8), to: url)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
