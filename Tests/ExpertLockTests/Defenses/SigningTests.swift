import Crypto
import Foundation
import MoEModels
import Testing

@testable import ExpertLock

/// Key files and manifest signatures.
struct SigningTests {
    @Test func keyFilesRoundTripWithAPrivateFileMode() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("k")
        let publicKey = try SigningKey.generate(to: url)
        let privateKey = try SigningKey.readPrivateKey(url)
        #expect(privateKey.publicKey.rawRepresentation == publicKey.rawRepresentation)
        #expect(
            try SigningKey.readPublicKey(URL(fileURLWithPath: url.path + ".pub")).rawRepresentation
                == publicKey.rawRepresentation)
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // A header naming the kind, then base64 text of 32 bytes; raw 32 bytes are read too.
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines[0] == "expertlock-key: ed25519-private")
        #expect(Data(base64Encoded: String(lines[1]))?.count == 32)
        let raw = dir.appendingPathComponent("raw")
        try privateKey.rawRepresentation.write(to: raw)
        #expect(try SigningKey.readPrivateKey(raw).rawRepresentation == privateKey.rawRepresentation)
        // Never replaced silently; garbage is a clear error.
        #expect(throws: DefenseError.self) { try SigningKey.generate(to: url) }
        try Data("not a key".utf8).write(to: raw)
        #expect(throws: DefenseError.self) { try SigningKey.readPublicKey(raw) }
    }

    /// Issue 23, item 5: typed key files. A copy of the public key under any name is refused as
    /// a private key, a private key as a public one, naming the file; header-less files of older
    /// builds are still read.
    @Test func typedKeyFilesCannotBeSwapped() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("owner.key")
        let publicKey = try SigningKey.generate(to: url)
        let copy = dir.appendingPathComponent("pubcopy")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: url.path + ".pub"), to: copy)
        #expect(
            throws: DefenseError.badKey(
                file: copy.path,
                reason: "is a public key (its header says ed25519-public); pass the private key file (KEY, not KEY.pub)"
            )
        ) { try SigningKey.readPrivateKey(copy) }
        let asPublic = #expect(throws: DefenseError.self) { try SigningKey.readPublicKey(url) }
        #expect(asPublic?.description.contains("is a private key") == true)
        #expect(asPublic?.description.hasPrefix(url.path) == true)
        // Older, header-less files: still read; a private one given as public is recognised by its .pub.
        let key = try SigningKey.readPrivateKey(url)
        let legacy = dir.appendingPathComponent("legacy")
        try Data((key.rawRepresentation.base64EncodedString() + "\n").utf8).write(to: legacy)
        try Data((publicKey.rawRepresentation.base64EncodedString() + "\n").utf8)
            .write(to: URL(fileURLWithPath: legacy.path + ".pub"))
        #expect(try SigningKey.readPrivateKey(legacy).rawRepresentation == key.rawRepresentation)
        #expect(
            try SigningKey.readPublicKey(URL(fileURLWithPath: legacy.path + ".pub")).rawRepresentation
                == publicKey.rawRepresentation)
        #expect(throws: DefenseError.self) { try SigningKey.readPublicKey(legacy) }
        // An unknown kind and a header with no key are errors that name the file.
        for text in ["expertlock-key: rsa\nAAAA\n", "expertlock-key: ed25519-public\n"] {
            try Data(text.utf8).write(to: copy)
            let error = #expect(throws: DefenseError.self) { try SigningKey.readPublicKey(copy) }
            #expect(error?.description.hasPrefix(copy.path) == true)
        }
    }

    @Test func manifestSignatureVerifiesOnlyUnderTheOwnersKeyAndUnchanged() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let manifest = try ModelManifest.read(fixture.locked.appendingPathComponent(ModelManifest.fileName))
        #expect(manifest.isSignatureValid(publicKey: fixture.key.publicKey))
        #expect(!manifest.isSignatureValid(publicKey: Curve25519.Signing.PrivateKey().publicKey))
        // Every tensor is listed; routers carry one hash per expert row.
        let model = try ModelLoader.load(directory: fixture.locked)
        #expect(Set(manifest.tensors.map(\.name)) == Set(model.parameters.map(\.name)))
        let router = try #require(manifest.tensorsByName["model.layers.0.block_sparse_moe.gate.weight"])
        #expect(router.rowSHA256?.count == 4)
        var edited = manifest
        edited.tensors[0].sha256 = String(repeating: "0", count: 64)
        #expect(!edited.isSignatureValid(publicKey: fixture.key.publicKey))
        // The JSON file round-trips to the same signed content.
        let copy = fixture.root.appendingPathComponent("m.json")
        try manifest.write(to: copy)
        #expect(try ModelManifest.read(copy) == manifest)
        #expect(throws: DefenseError.self) { try ModelManifest.read(fixture.root.appendingPathComponent("none.json")) }
    }

    @Test func lockNeverModifiesTheInputAndRefusesAnExistingOutput() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let original = fixture.root.appendingPathComponent("original")
        let names = try FileManager.default.contentsOfDirectory(atPath: original.path)
        #expect(!names.contains(ModelManifest.fileName))
        #expect(throws: (any Error).self) {
            try SelectiveRealignment.lock(model: original, key: fixture.key, output: fixture.locked)
        }
        #expect(throws: (any Error).self) {
            try SelectiveRealignment.lock(model: original, key: fixture.key, output: original, overwrite: true)
        }
    }
}
