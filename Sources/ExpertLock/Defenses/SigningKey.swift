import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The owner's Ed25519 key pair on disk (RFC 8032, through swift-crypto's `Curve25519.Signing`).
///
/// File format, chosen so a key can be pasted into a secret store or an environment variable:
/// `KEY` holds the 32-byte private key (the RFC 8032 seed) and `KEY.pub` the 32-byte public key,
/// each as one line of standard base64 (44 characters) followed by a newline. Reading also
/// accepts a file of exactly 32 raw bytes. The private key file is created with mode 0600 and
/// never replaced unless asked, so a typo cannot destroy the only copy of a key.
public enum SigningKey {
    public static let publicKeySuffix = ".pub"

    /// Creates a fresh key pair at `url` and `url.pub`. Returns the public key.
    @discardableResult
    public static func generate(to url: URL, overwrite: Bool = false) throws -> Curve25519.Signing.PublicKey {
        let key = Curve25519.Signing.PrivateKey()
        let publicURL = URL(fileURLWithPath: url.path + publicKeySuffix)
        for file in [url, publicURL] where FileManager.default.fileExists(atPath: file.path) {
            guard overwrite else { throw DefenseError.outputExists(file: file.path) }
            try? FileManager.default.removeItem(at: file)
        }
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try writeExclusively(Data((key.rawRepresentation.base64EncodedString() + "\n").utf8), to: url, mode: 0o600)
        try writeExclusively(
            Data((key.publicKey.rawRepresentation.base64EncodedString() + "\n").utf8), to: publicURL, mode: 0o644)
        return key.publicKey
    }

    /// The two files have the same format, so 32 bytes of a public key would read as a valid
    /// private key and sign under an unrelated identity: a `.pub` file is refused, and a private
    /// key must match the public key beside it when there is one.
    public static func readPrivateKey(_ url: URL) throws -> Curve25519.Signing.PrivateKey {
        if url.path.hasSuffix(publicKeySuffix) {
            throw DefenseError.badKey(file: url.path, reason: "a public key (\(publicKeySuffix)); pass the private key file")
        }
        let raw = try readKeyBytes(url)
        let key: Curve25519.Signing.PrivateKey
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        } catch {
            throw DefenseError.badKey(file: url.path, reason: "not an Ed25519 private key")
        }
        let publicURL = URL(fileURLWithPath: url.path + publicKeySuffix)
        if FileManager.default.fileExists(atPath: publicURL.path),
            try readPublicKey(publicURL).rawRepresentation != key.publicKey.rawRepresentation
        {
            throw DefenseError.badKey(file: url.path, reason: "does not match its public key \(publicURL.path)")
        }
        return key
    }

    public static func readPublicKey(_ url: URL) throws -> Curve25519.Signing.PublicKey {
        let raw = try readKeyBytes(url)
        do {
            return try Curve25519.Signing.PublicKey(rawRepresentation: raw)
        } catch {
            throw DefenseError.badKey(file: url.path, reason: "not an Ed25519 public key")
        }
    }

    /// The public key as the manifest records it (base64 of the 32 raw bytes).
    public static func text(_ key: Curve25519.Signing.PublicKey) -> String {
        key.rawRepresentation.base64EncodedString()
    }

    /// 32 raw bytes, or one line of base64 that decodes to 32 bytes.
    static func readKeyBytes(_ url: URL) throws -> Data {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DefenseError.badKey(file: url.path, reason: "missing or unreadable")
        }
        if data.count == 32 { return data }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let decoded = Data(base64Encoded: text), decoded.count == 32 else {
            throw DefenseError.badKey(
                file: url.path, reason: "expected 32 bytes, raw or as one line of base64 (got \(data.count) bytes)")
        }
        return decoded
    }

    /// Creates `url` with `mode` (O_EXCL: never follows or reuses an existing file), then writes.
    static func writeExclusively(_ data: Data, to url: URL, mode: mode_t) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw DefenseError.badKey(file: url.path, reason: "cannot create: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else {
            throw DefenseError.badKey(file: url.path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}
