import Foundation

/// Locations of the committed fixtures and of ../shared/data, derived from this file's path so the
/// tests run from any working directory.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A tiny transformers checkpoint made by scripts/fixtures/make_model_fixtures.py.
    static func model(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/models/\(name)")
    }

    static let modelCases = [
        "mixtral_f32_gqa2", "mixtral_bf16_tied_mqa", "qwen2_moe_f32_shared_dense", "qwen2_moe_bf16_norm_tied",
        "qwen3_moe_f32_headdim", "qwen3_moe_bf16_bias_tied", "olmoe_f32_mha", "olmoe_bf16_gqa_clip_norm",
    ]

    /// A checkpoint of a family added as components, made by scripts/fixtures/make_family_fixtures.py.
    static func family(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/families/\(name)")
    }

    /// Every family fixture the script wrote (adding cases to the script adds them here).
    static let familyCases: [String] = {
        let root = packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/families")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasPrefix("_") }.sorted()
    }()

    /// ../shared/data beside the package, when present.
    static let sharedData: URL? = {
        let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }()

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("expertlock-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
