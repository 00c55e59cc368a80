import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// The gradient of a whole model's training loss (chunked cross-entropy + load balancing + z-loss, LoRA
/// adapters attached, padding in the batch) against central finite differences.
struct ModelGradientTests {
    @Test func wholeModelLossMatchesFiniteDifferences() throws {
        let config = ModelConfig(
            modelType: "mixtral", vocabSize: 13, hiddenSize: 8, intermediateSize: 6, numHiddenLayers: 2,
            numAttentionHeads: 2, numKeyValueHeads: 1, numExperts: 4, numExpertsPerToken: 2)
        let model = try MoEModel.randomlyInitialized(config: config, seed: 21, initializerRange: 0.5)
        model.attachLoRA(
            to: [model.layers[1].attention.vProj, try #require(model.layers[0].moe).experts[1].up], rank: 2,
            alpha: 4, seed: 3)
        var rng = SplitMix64(seed: 4)
        for adapter in model.loraAdapters {
            adapter.b.assign(
                Tensor(
                    shape: adapter.b.shape, data: (0..<adapter.b.elementCount).map { _ in 0.3 * rng.nextGaussian() }),
                trainable: true)
        }
        let leaves = model.parameters + model.loraAdapters.flatMap(\.parameters)
        for p in leaves { try p.setTrainable(true) }

        let batch = TokenBatch(ids: [1, 7, 3, 9, 12, 4, 0, 5, 8, 2, 0, 0], batch: 2, seq: 6, lengths: [6, 4])
        let targets = [7, 3, 9, 12, 4, -100, 5, 8, 2, -100, -100, -100]
        func loss() throws -> (Variable, [[Int]]) {
            let out = try model.forward(
                batch, options: ForwardOptions(recordRouterLogits: true, loadBalancingLoss: true, routerZLoss: true))
            let ce = out.languageModelLoss(targets: targets)  // what Trainer takes
            let total = add(
                add(ce, scale(try #require(out.auxiliaryLoss), 0.5)), scale(try #require(out.routerZLoss), 0.1))
            let choices = out.routerLogits.map { topKRouting(Variable($0), k: 2, normalize: false).experts }
            return (total, choices)
        }
        let (base, routing) = try loss()
        base.backward()

        var checked = 0
        var pick = SplitMix64(seed: 9)
        for p in leaves {
            let leaf = try #require(p.residentVariable)
            let grad = try #require(leaf.grad, "\(p.name) has no gradient")
            for _ in 0..<2 {
                let i = Int(pick.next() % UInt64(leaf.value.count))
                let original = leaf.value.data[i]
                let h: Float = 1e-2
                leaf.value.data[i] = original + h
                let (up, routingUp) = try loss()
                leaf.value.data[i] = original - h
                let (down, routingDown) = try loss()
                leaf.value.data[i] = original
                // A perturbation that flips a top-k choice crosses a kink: no derivative to compare.
                guard routingUp == routing, routingDown == routing else { continue }
                let numeric = (up.value.scalar - down.value.scalar) / (2 * h)
                let analytic = grad.data[i]
                #expect(
                    abs(numeric - analytic) <= 2e-3 + 2e-2 * abs(analytic), "\(p.name)[\(i)]: \(numeric) vs \(analytic)"
                )
                checked += 1
            }
        }
        #expect(checked > leaves.count)  // most probes are away from routing kinks
    }
}
