import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// `copy()` gives an independent model with the same outputs; `masked(_:)` shares the weights and
/// differs only in its expert mask, which equals passing the mask for one call; the model keeps no
/// per-pass state.
struct ModelCopyTests {
    static func model() throws -> MoEModel {
        try MoEModel.randomlyInitialized(config: ModelConfig.preset("tiny", vocabSize: 40)!, seed: 3)
    }

    static let batch = TokenBatch(padding: [[1, 5, 9, 2, 7], [3, 3, 8]])

    @Test func copyIsIndependent() throws {
        let model = try Self.model()
        model.maskExperts(model.moeBlocks.map { b in (0..<b.expertCount).map { $0 != 1 } })
        let copy = try model.copy()
        #expect(copy.expertMask == model.expertMask)
        #expect(try copy.forward(Self.batch).logits.value.data == model.forward(Self.batch).logits.value.data)
        let p = copy.moeBlocks[0].experts[0].up
        try p.setTrainable(true)
        p.assign(try p.tensor().scaled(by: 2))
        #expect(try model.moeBlocks[0].experts[0].up.tensor().data != p.tensor().data)
        #expect(!model.moeBlocks[0].experts[0].up.isTrainable)
    }

    @Test func maskedSharesWeightsAndEqualsAPerCallMask() throws {
        let model = try Self.model()
        let mask = model.moeBlocks.map { b in (0..<b.expertCount).map { $0 % 3 != 0 } }
        let masked = model.masked(mask)
        #expect(model.expertMask == nil)
        #expect(masked.parameters.map(ObjectIdentifier.init) == model.parameters.map(ObjectIdentifier.init))
        var options = ForwardOptions()
        options.expertMask = mask
        let perCall = try model.forward(Self.batch, options: options).logits.value.data
        let viaView = try masked.forward(Self.batch).logits.value.data
        let full = try model.forward(Self.batch).logits.value.data
        #expect(perCall == viaView)
        #expect(perCall != full)
        // The per-call mask left the model as it was.
        #expect(try model.forward(Self.batch).logits.value.data == full)
    }
}
