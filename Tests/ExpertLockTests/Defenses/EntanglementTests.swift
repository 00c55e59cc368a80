import Foundation
import Testing
import MoEModels
import TensorCore
@testable import ExpertLock

struct EntanglementTests {
    static func trainer(_ method: EntanglementRegularizer.Method?, strength: Float = 1, steps: Int = 30) throws -> (
        Trainer, [TrainingExample]
    ) {
        let model = try TrainingFixtures.microModel(vocab: 20)
        for p in model.parameters { try p.setTrainable(true) }
        var parameters = Training.Parameters()
        parameters.steps = steps
        parameters.batchSize = 4
        parameters.sequenceLength = 16
        parameters.learningRate = 3e-3
        parameters.entanglement = method.map { EntanglementRegularizer(method: $0, strength: strength) }
        return (
            try Trainer(model: model, parameters: parameters),
            TrainingFixtures.tokenExamples(vocab: 20, count: 16, length: 16, seed: 3)
        )
    }

    /// Each method trains with a finite loss that includes its penalty, and leaves no mask behind (the draws
    /// and the recorded outputs are per pass: the model has no place to keep them).
    @Test(arguments: EntanglementRegularizer.Method.allCases)
    func trainsWithEachMethod(_ method: EntanglementRegularizer.Method) throws {
        let (trainer, examples) = try Self.trainer(method, strength: method == .expertDropout ? 0.5 : 1)
        let (plain, _) = try Self.trainer(nil)
        let batch = TrainingBatch(Array(examples.prefix(4)), pad: 0)
        let regularized = try trainer.loss(batch).total.value.scalar
        let baseline = try plain.loss(batch).total.value.scalar
        switch method {
        case .outputAgreement: #expect(regularized > baseline)  // same init, plus a penalty
        case .routingSpread: #expect(regularized >= baseline)  // zero while routing is still flat
        case .expertDropout: #expect(regularized.isFinite)
        case .pruningAdversarial: #expect(regularized >= baseline)  // plus a hinge that is ≥ 0
        }
        for i in 0..<5 {
            let r = try trainer.step(Array(examples[(i * 3)..<(i * 3 + 4)]))
            #expect(r.loss.isFinite)
        }
        #expect(trainer.model.expertMask == nil)
    }

    /// Output agreement pulls routed experts' outputs together as training goes on.
    @Test func outputAgreementReducesDisagreement() throws {
        let (trainer, examples) = try Self.trainer(.outputAgreement, strength: 5, steps: 60)
        let batch = TrainingBatch(Array(examples.prefix(4)), pad: 0)
        func disagreement() throws -> Float {
            var options = ForwardOptions()
            ExpertEntanglement(outputAgreement: true).apply(to: &options, model: trainer.model)
            let output = try trainer.model.forward(batch.tokens, options: options)
            return ExpertEntanglement.agreementLoss(output, batch: batch.tokens)!.value.scalar
        }
        let before = try disagreement()
        for i in 0..<40 { _ = try trainer.step(Array(examples[(i % 4 * 3)..<(i % 4 * 3 + 4)])) }
        #expect(try disagreement() < before * 0.7)
    }

    /// Expert dropout hides experts but always leaves top-k, and the same seed and step drop the same ones.
    @Test func expertDropoutKeepsTopKAndRepeats() {
        let hooks = ExpertEntanglement(dropoutRate: 0.9, seed: 42)
        for layer in 0..<20 {
            let keep = hooks.dropoutKeep(layer: layer, experts: 8, topK: 2, base: nil)!
            #expect(keep.filter { $0 }.count >= 2)
            #expect(keep == hooks.dropoutKeep(layer: layer, experts: 8, topK: 2, base: nil))
        }
        let base = [true, false, true, true, false, true, true, true]
        let keep = hooks.dropoutKeep(layer: 0, experts: 8, topK: 2, base: base)!
        #expect(!keep[1] && !keep[4])
    }

    @Test func badStrengthIsAnInputError() {
        var parameters = Training.Parameters()
        parameters.entanglement = EntanglementRegularizer(method: .expertDropout, strength: 1.5)
        #expect(throws: EntanglementError.self) { try parameters.validate() }
    }
}
