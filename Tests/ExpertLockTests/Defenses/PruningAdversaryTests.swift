import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Pruning-aware adversarial training: the step's sub-model, the hinge, and the gradient of the
/// whole training loss (full model + adversarial term) against central finite differences on a
/// tiny model.
struct PruningAdversaryTests {
    static func setUp(strength: Float) throws -> (Trainer, TrainingBatch) {
        let model = try TrainingFixtures.microModel(vocab: 20)
        var parameters = Training.Parameters()
        parameters.steps = 10
        parameters.batchSize = 2
        parameters.sequenceLength = 8
        parameters.loadBalancingCoefficient = 0
        parameters.seed = 5
        parameters.entanglement = EntanglementRegularizer(method: .pruningAdversarial, strength: strength)
        let trainer = try Trainer(model: model, parameters: parameters)
        let examples = TrainingFixtures.tokenExamples(vocab: 20, count: 2, length: 8, seed: 4)
        return (trainer, TrainingBatch(examples, pad: 0))
    }

    static func routerLogits(_ model: MoEModel, _ batch: TrainingBatch) throws -> [Tensor] {
        try model.forward(batch.tokens, options: ForwardOptions(recordRouterLogits: true)).routerLogits
    }

    @Test func drawIsSeededAndKeepsTheTopExpertsByTheBatchsRouting() throws {
        let (trainer, batch) = try Self.setUp(strength: 1)
        let logits = try Self.routerLogits(trainer.model, batch)
        var seen = Set<String>()
        for step in 0..<40 {
            let d = PruningAdversary.draw(routerLogits: logits, batch: batch.tokens, topK: 2, seed: 5, step: step)
            #expect(d == PruningAdversary.draw(routerLogits: logits, batch: batch.tokens, topK: 2, seed: 5, step: step))
            #expect((1...2).contains(d.k))
            #expect(d.keep.allSatisfy { $0.filter { $0 }.count == d.k })
            seen.insert(d.criterion.rawValue)
            if d.criterion == .soft {
                for (l, t) in logits.enumerated() {
                    let e = t.lastDim
                    let mass = (0..<e).map { j in
                        (0..<t.rows).reduce(0.0) { total, r in
                            let row = (0..<e).map { Double(t.data[r * e + $0]) }
                            let m = row.max()!
                            return total + exp(row[j] - m) / row.reduce(0) { $0 + exp($1 - m) }
                        }
                    }
                    let best = mass.indices.max { mass[$0] < mass[$1] }!
                    #expect(d.keep[l][best], "layer \(l): the expert with the most soft mass is kept")
                }
            }
        }
        #expect(seen == Set(PruningAdversary.Criterion.allCases.map(\.rawValue)))
    }

    @Test func hingeStopsAtTheMargin() {
        let below = Variable(Tensor(scalar: 2.5), requiresGrad: true)
        let p = try? #require(PruningAdversary.penalty(prunedLoss: below, fullLoss: 2, strength: 0.5))
        #expect(p?.value.scalar == 0.5 * (2 + PruningAdversary.margin - 2.5))
        let beyond = Variable(Tensor(scalar: 2 + PruningAdversary.margin + 0.1), requiresGrad: true)
        #expect(PruningAdversary.penalty(prunedLoss: beyond, fullLoss: 2, strength: 0.5) == nil)
    }

    /// d/dθ [L_full(θ) + s · (c − L_pruned(θ))] with the step's sub-model and c = L_full(θ₀) + margin
    /// held fixed (the ceiling is detached by design) equals the trainer's backward.
    @Test func gradientMatchesFiniteDifferences() throws {
        let strength: Float = 0.7
        let (trainer, batch) = try Self.setUp(strength: strength)
        let model = trainer.model
        let (total, lm, _, _) = try trainer.loss(batch)
        let draw = PruningAdversary.draw(
            routerLogits: try Self.routerLogits(model, batch), batch: batch.tokens, topK: 2, seed: 5, step: 0)
        let ceiling = lm.value.scalar + PruningAdversary.margin
        func losses() throws -> (full: Float, pruned: Float, logits: [Tensor]) {
            let out = try model.forward(batch.tokens, options: ForwardOptions(recordRouterLogits: true))
            let full = out.languageModelLoss(targets: batch.targets, ignoreIndex: TrainingBatch.ignoreIndex)
            model.maskExperts(draw.keep)
            defer { model.maskExperts(nil) }
            let pruned = try model.forward(batch.tokens, options: ForwardOptions())
                .languageModelLoss(targets: batch.targets, ignoreIndex: TrainingBatch.ignoreIndex)
            return (full.value.scalar, pruned.value.scalar, out.routerLogits)
        }
        let base = try losses()
        #expect(base.pruned < ceiling, "the hinge is active at θ₀, so the term has a gradient")
        #expect(abs(total.value.scalar - (base.full + strength * (ceiling - base.pruned))) < 1e-4)
        total.backward()
        var checked = 0
        var pick = SplitMix64(seed: 8)
        for p in model.parameters {
            let leaf = try #require(p.residentVariable)
            guard let grad = leaf.grad else { continue }
            for _ in 0..<2 {
                let i = Int(pick.next() % UInt64(leaf.value.count))
                let original = leaf.value.data[i]
                let h: Float = 1e-2
                leaf.value.data[i] = original + h
                let up = try losses()
                leaf.value.data[i] = original - h
                let down = try losses()
                leaf.value.data[i] = original
                // A perturbation that changes which experts the sub-model keeps or routes to is a kink.
                let upDraw = PruningAdversary.draw(
                    routerLogits: up.logits, batch: batch.tokens, topK: 2, seed: 5, step: 0)
                let downDraw = PruningAdversary.draw(
                    routerLogits: down.logits, batch: batch.tokens, topK: 2, seed: 5, step: 0)
                guard upDraw == draw, downDraw == draw else { continue }
                let f = { (l: (full: Float, pruned: Float, logits: [Tensor])) in
                    l.full + strength * (ceiling - l.pruned)
                }
                let numeric = (f(up) - f(down)) / (2 * h)
                let analytic = grad.data[i]
                #expect(
                    abs(numeric - analytic) <= 3e-3 + 3e-2 * abs(analytic),
                    "\(p.name)[\(i)]: \(numeric) vs \(analytic)")
                checked += 1
            }
        }
        #expect(checked > model.parameters.count)
        // The model is left as it was: no mask, no hooks.
        #expect(model.expertMask == nil)
    }
}
