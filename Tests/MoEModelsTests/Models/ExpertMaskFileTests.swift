import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// `expertlock_mask.json` as the loader reads it.
struct ExpertMaskFileTests {
    /// A mask keeping fewer experts than top-k loads (`prune --mode mask --drop` writes such masks) and routes
    /// to every expert it keeps, as the model with the other experts removed does.
    @Test func maskBelowTopKLoadsAndMatchesRemoval() throws {
        try TestSupport.withTemporaryDirectory { dir in
            for file in ["config.json", "model.safetensors"] {
                try FileManager.default.copyItem(
                    at: ModelParityTests.fixture("mixtral_f32_gqa2").appendingPathComponent(file),
                    to: dir.appendingPathComponent(file))
            }
            let model = try ModelLoader.load(directory: dir)  // 4 experts, top-2
            let kept = model.moeBlocks.map { _ in [2] }
            try ExpertMaskFile.write(kept: kept, to: dir)
            let masked = try ModelLoader.load(directory: dir)
            let ids = [3, 1, 4, 1, 5, 9, 2, 6]
            let a = try masked.forward(TokenBatch(ids)).logits.value
            let b = try model.keepingExperts(kept).forward(TokenBatch(ids)).logits.value
            #expect(zip(a.data, b.data).allSatisfy { abs($0 - $1) <= 1e-5 })
            try ExpertMaskFile.write(kept: model.moeBlocks.map { _ in [] }, to: dir)
            #expect(throws: ModelError.self) { try ModelLoader.load(directory: dir) }
        }
    }
}
