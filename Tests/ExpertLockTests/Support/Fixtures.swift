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

    static let familyCases = [
        "deepseek_v3_f32_qlora_groups", "deepseek_v3_bf16_yarn_shared2", "glm4_moe_f32_partial_qknorm_groups",
        "glm4_moe_bf16_mqa_full_rotary", "deepseek_v2_f32_greedy_qlora_dense", "deepseek_v2_bf16_grouped_yarn",
        "glm4_moe_lite_f32_qlora_groups", "glm4_moe_lite_bf16_dense_last_yarn",
    ]

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
