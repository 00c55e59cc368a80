import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The owner's Ed25519 key pair on disk (RFC 8032, through swift-crypto's `Curve25519.Signing`).
///
/// File format, chosen so a key can be pasted into a secret store or an environment variable and
/// so the two halves cannot be taken for each other: a header line naming the kind, then the
/// 32-byte key (the RFC 8032 seed for `KEY`, the public key for `KEY.pub`) as one line of standard
/// base64 (44 characters):
///
///     expertlock-key: ed25519-private
///     <base64>
///
/// (`ed25519-public` in `KEY.pub`). Files of older builds have no header (one line of base64, or
/// exactly 32 raw bytes) and are still read; for them the kind can only be guessed, so a
/// header-less private key named `*.pub` is refused, a private key must match the public key
/// beside it when there is one, and a header-less "public" key whose own `.pub` holds its public
/// half is recognised as a private key. The private key file is created with mode 0600 and never
/// replaced unless asked, so a typo cannot destroy the only copy of a key.
public enum SigningKey {
    public static let publicKeySuffix = ".pub"

    /// Which half of a key pair a file holds.
    public enum Kind: String, Sendable, CaseIterable {
        case privateKey = "ed25519-private"
        case publicKey = "ed25519-public"

        var noun: String { self == .privateKey ? "a private key" : "a public key" }
    }

    /// The header line's prefix; the kind follows it.
    public static let headerPrefix = "expertlock-key:"

    /// A key file as read: its kind (nil for a header-less file of an older build) and 32 bytes.
    public struct KeyFile: Sendable, Equatable {
        public var kind: Kind?
        public var bytes: Data
    }

    /// The bytes of a typed key file.
    public static func fileContents(_ kind: Kind, key bytes: Data) -> Data {
        Data("\(headerPrefix) \(kind.rawValue)\n\(bytes.base64EncodedString())\n".utf8)
    }

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
        try writeExclusively(fileContents(.privateKey, key: key.rawRepresentation), to: url, mode: 0o600)
        try writeExclusively(fileContents(.publicKey, key: key.publicKey.rawRepresentation), to: publicURL, mode: 0o644)
        return key.publicKey
    }

    /// Reads the owner's private key. A file typed as a public key is refused whatever its name
    /// (`cp owner.key.pub copy; lock --key copy` would otherwise sign under a key derived from the
    /// public bytes, a lock the owner's public key never verifies).
    public static func readPrivateKey(_ url: URL) throws -> Curve25519.Signing.PrivateKey {
        let file = try readKeyFile(url)
        if file.kind == .publicKey {
            throw DefenseError.badKey(
                file: url.path,
                reason: "is a public key (its header says \(Kind.publicKey.rawValue)); pass the private key "
                    + "file (KEY, not KEY\(publicKeySuffix))")
        }
        if file.kind == nil && url.path.hasSuffix(publicKeySuffix) {
            throw DefenseError.badKey(
                file: url.path, reason: "a public key (\(publicKeySuffix)); pass the private key file")
        }
        let key: Curve25519.Signing.PrivateKey
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: file.bytes)
        } catch {
            throw DefenseError.badKey(file: url.path, reason: "not an Ed25519 private key")
        }
        let publicURL = URL(fileURLWithPath: url.path + publicKeySuffix)
        if FileManager.default.fileExists(atPath: publicURL.path),
            try readKeyFile(publicURL).bytes != key.publicKey.rawRepresentation
        {
            throw DefenseError.badKey(file: url.path, reason: "does not match its public key \(publicURL.path)")
        }
        return key
    }

    /// Reads a public key. A file typed as a private key is refused (`log verify --public-key
    /// owner.key` would otherwise verify against 32 secret bytes read as a point and report
    /// "signed by another key"), as is a header-less one whose `.pub` holds its public half.
    public static func readPublicKey(_ url: URL) throws -> Curve25519.Signing.PublicKey {
        let file = try readKeyFile(url)
        if file.kind == .privateKey {
            throw DefenseError.badKey(
                file: url.path,
                reason: "is a private key (its header says \(Kind.privateKey.rawValue)); pass the public "
                    + "key file (KEY\(publicKeySuffix)), and keep this one secret")
        }
        if file.kind == nil, let asPrivate = try? Curve25519.Signing.PrivateKey(rawRepresentation: file.bytes),
            let beside = try? readKeyFile(URL(fileURLWithPath: url.path + publicKeySuffix)),
            beside.bytes == asPrivate.publicKey.rawRepresentation
        {
            throw DefenseError.badKey(
                file: url.path,
                reason: "is the private key of \(url.path)\(publicKeySuffix); pass that public key file instead")
        }
        do {
            return try Curve25519.Signing.PublicKey(rawRepresentation: file.bytes)
        } catch {
            throw DefenseError.badKey(file: url.path, reason: "not an Ed25519 public key")
        }
    }

    /// The public key as the manifest records it (base64 of the 32 raw bytes).
    public static func text(_ key: Curve25519.Signing.PublicKey) -> String {
        key.rawRepresentation.base64EncodedString()
    }

    /// Reads a key file: a typed file (header line, then one line of base64 of 32 bytes), or a
    /// header-less file of an older build (32 raw bytes, or one line of base64 of 32 bytes).
    public static func readKeyFile(_ url: URL) throws -> KeyFile {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DefenseError.badKey(file: url.path, reason: "missing or unreadable")
        }
        return try parseKeyFile(data, file: url.path)
    }

    /// Parses a key file held in memory; `file` is the name used in errors.
    public static func parseKeyFile(_ data: Data, file: String) throws -> KeyFile {
        if data.count == 32 && !data.starts(with: Data(headerPrefix.utf8)) { return KeyFile(kind: nil, bytes: data) }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        var kind: Kind?
        if let first = lines.first, first.hasPrefix(headerPrefix) {
            let name = first.dropFirst(headerPrefix.count).trimmingCharacters(in: .whitespaces)
            guard let typed = Kind(rawValue: name) else {
                let known = Kind.allCases.map(\.rawValue).joined(separator: " or ")
                throw DefenseError.badKey(
                    file: file, reason: "unknown key kind '\(name.prefix(40))' in its header (expected \(known))")
            }
            kind = typed
            lines.removeFirst()
        }
        guard lines.count == 1, let decoded = Data(base64Encoded: lines[0]), decoded.count == 32 else {
            let expected =
                kind.map { "after its header (\($0.noun)), one line of base64 of 32 bytes" }
                ?? "a header line and one line of base64 of 32 bytes (or, from older builds, 32 raw bytes)"
            throw DefenseError.badKey(file: file, reason: "expected \(expected) (got \(data.count) bytes)")
        }
        return KeyFile(kind: kind, bytes: decoded)
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
