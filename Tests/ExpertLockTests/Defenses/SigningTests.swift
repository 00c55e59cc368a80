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
        // Base64 text of 32 bytes; raw 32 bytes are read too.
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasSuffix("\n") && Data(base64Encoded: text.trimmingCharacters(in: .newlines))?.count == 32)
        let raw = dir.appendingPathComponent("raw")
        try privateKey.rawRepresentation.write(to: raw)
        #expect(try SigningKey.readPrivateKey(raw).rawRepresentation == privateKey.rawRepresentation)
        // Never replaced silently; garbage is a clear error.
        #expect(throws: DefenseError.self) { try SigningKey.generate(to: url) }
        try Data("not a key".utf8).write(to: raw)
        #expect(throws: DefenseError.self) { try SigningKey.readPublicKey(raw) }
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
