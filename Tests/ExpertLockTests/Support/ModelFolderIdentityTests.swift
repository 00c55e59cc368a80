import Foundation
import Testing

@testable import ExpertLock

/// The resume states' model fingerprint: stable for the same folder, different when the weights or
/// the config change under the same path.
struct ModelFolderIdentityTests {
    @Test func changesWithTheWeightsAndTheConfig() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Fixtures.model(Fixtures.modelCases[0]), to: model)
        let original = ModelFolderIdentity.fingerprint(of: model)
        #expect(original.count == 64)
        #expect(ModelFolderIdentity.fingerprint(of: model) == original)

        // Other weights in the same file (every data byte changed, as training would), same shapes.
        let weights = try #require(
            try FileManager.default.contentsOfDirectory(atPath: model.path).first { $0.hasSuffix(".safetensors") })
        let url = model.appendingPathComponent(weights)
        var data = try Data(contentsOf: url)
        let header = 8 + Int(data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        for i in header..<data.count { data[i] ^= 0x01 }
        try data.write(to: url)
        let retrained = ModelFolderIdentity.fingerprint(of: model)
        #expect(retrained != original)

        let config = model.appendingPathComponent("config.json")
        try (try Data(contentsOf: config) + Data(" ".utf8)).write(to: config)
        #expect(ModelFolderIdentity.fingerprint(of: model) != retrained)
    }
}
