import Foundation
import TensorCore
import Testing

@testable import ExpertLock
@testable import MoEModels

/// Switch Transformer training against transformers 5.25 in training mode (dropout and jitter off): the loss terms
/// and the gradients of `scripts/fixtures/make_switch_training_fixture.py`, on four tiny checkpoints (token
/// dropping at capacity 2, a stack with sparse step 1, a trained model, an untied gelu_new model).
struct Seq2SeqTrainerTests {
    struct Expected: Decodable {
        struct Case: Decodable {
            let folder: String
            let encoder_ids: [[Int]]
            let labels: [[Int]]
            let loss: Double
            let lm_loss: Double
            let encoder_z_loss: Double
            let encoder_aux_loss: Double
            let decoder_z_loss: Double
            let decoder_aux_loss: Double
            let min_top1_gap: Double
            let grads: [String: [Double]]
        }
        let cases: [Case]
    }

    static let root = Fixtures.packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/switch")

    static func expected(in directory: URL = root) throws -> Expected {
        try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: directory.appendingPathComponent("training_expected.json")))
    }

    /// The checkpoints compared: the committed fixtures, plus the held-out cases that
    /// scripts/checks/switch_training_heldout.py writes into EXPERTLOCK_SWITCH_TRAINING_HELDOUT (a folder of
    /// checkpoints with their training_expected.json) when that variable is set.
    static var caseFolders: [String] {
        var folders = [
            "switch_f32_cap2_tied", "switch_bf16_untied_step1", "switch_sst2_trained", "switch_train_untied",
        ]
        .map { root.appendingPathComponent($0).path }
        if let held = ProcessInfo.processInfo.environment["EXPERTLOCK_SWITCH_TRAINING_HELDOUT"], !held.isEmpty {
            let directory = URL(fileURLWithPath: held)
            // An unreadable held-out file still yields a case, which then fails instead of vanishing.
            let names = (try? expected(in: directory).cases.map(\.folder)) ?? ["unreadable training_expected.json"]
            folders += names.map { directory.appendingPathComponent($0).path }
        }
        return folders
    }

    /// transformers' labels as examples: the decoder's start token, then the labels; a leading -100 becomes the
    /// pad token transformers' `_shift_right` puts there, and is not a target.
    static func examples(_ c: Expected.Case, start: Int) -> [TrainingExample] {
        zip(c.encoder_ids, c.labels).map { source, labels in
            let ignored = labels.prefix { $0 == -100 }.count
            var e = TrainingExample(source: source, target: labels.map { $0 == -100 ? 0 : $0 }, decoderStart: start)
            e.firstTarget = 1 + ignored
            return e
        }
    }

    @Test(arguments: caseFolders)
    func lossAndGradientsMatchTransformers(path: String) throws {
        let folder = URL(fileURLWithPath: path)
        let c = try #require(
            try Self.expected(in: folder.deletingLastPathComponent()).cases.first {
                $0.folder == folder.lastPathComponent
            })
        #expect(c.min_top1_gap > 1e-4, "a near-tie in routing would make the comparison fragile")
        let model = try SwitchTransformersModel.load(directory: folder, residency: .resident)
        var p = Training.Parameters()
        p.trainable = .all
        let trainer = try Seq2SeqTrainer(model: model, parameters: p)
        #expect(trainer.zLossCoefficient == Float(model.config.routerZLossCoef))
        #expect(trainer.auxiliaryCoefficient == Float(model.config.routerAuxLossCoef))
        let start = model.config.decoderStartTokenId ?? 0
        let (total, lm, aux, z, targets) = try trainer.loss(Self.examples(c, start: start))
        #expect(targets == c.labels.joined().filter { $0 != -100 }.count)
        #expect(abs(Double(lm.value.scalar) - c.lm_loss) < 1e-5 * max(1, c.lm_loss))
        let zSum = c.encoder_z_loss + c.decoder_z_loss
        let auxSum = c.encoder_aux_loss + c.decoder_aux_loss
        #expect(abs(Double(z?.value.scalar ?? 0) - zSum) < 1e-4 * max(1, zSum), "z \(String(describing: z?.value))")
        #expect(abs(Double(aux?.value.scalar ?? 0) - auxSum) < 1e-5, "aux \(String(describing: aux?.value))")
        if model.config.decoderSparseStep == 1 { #expect(c.decoder_z_loss == 0 && c.decoder_aux_loss == 0) }
        #expect(
            abs(Double(total.value.scalar) - c.loss) < 1e-5 * max(1, c.loss),
            "total \(total.value.scalar) vs \(c.loss)")

        total.backward()
        let byName = Dictionary(model.parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(c.grads.count >= 6)
        for (name, theirs) in c.grads {
            let parameter = try #require(byName[name], "\(name) is no parameter")
            let grad = try #require(parameter.residentVariable?.grad, "\(name) has no gradient")
            #expect(grad.count == theirs.count)
            let scale = theirs.map { abs($0) }.max() ?? 0
            let worst = zip(grad.data, theirs).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(worst <= 1e-6 + 1e-4 * scale, "\(name): worst |Δ| \(worst), largest gradient \(scale)")
        }
    }

    /// A step changes only the chosen subset (experts of kept slots), leaves everything else bit-identical, and a
    /// few steps on one batch lower its loss.
    @Test func stepsTrainOnlyTheSubsetAndLowerTheLoss() throws {
        let model = try SwitchTransformersModel.load(
            directory: Self.root.appendingPathComponent("switch_sst2_trained"), residency: .resident)
        model.maskExperts(model.sparseBlocks.map { b in (0..<b.expertCount).map { $0 != 0 } })
        let before = try model.parameters.map { try $0.tensor() }
        var p = Training.Parameters()
        p.trainable = .experts
        p.learningRate = 3e-3
        p.warmupSteps = 0
        p.steps = 8
        let trainer = try Seq2SeqTrainer(model: model, parameters: p)
        let c = try #require(try Self.expected().cases.first { $0.folder == "switch_sst2_trained" })
        let batch = Self.examples(c, start: 0)
        let first = try trainer.step(batch)
        var last = first
        for _ in 1..<8 { last = try trainer.step(batch) }
        #expect(trainer.step == 8)
        #expect(
            last.languageModelLoss < first.languageModelLoss,
            "\(first.languageModelLoss) → \(last.languageModelLoss)")
        let trained = Set(trainer.trainableParameters.map(\.name))
        #expect(trained.count == model.sparseBlocks.reduce(0) { $0 + 2 * ($1.expertCount - 1) })
        var changedCount = 0
        for (parameter, old) in zip(model.parameters, before) {
            guard try parameter.tensor().data != old.data else { continue }
            #expect(trained.contains(parameter.name), "\(parameter.name) is frozen but changed")
            changedCount += 1
        }
        #expect(changedCount > 0)
    }

    @Test func loraIsRefused() throws {
        let model = try SwitchTransformersModel.load(
            directory: Self.root.appendingPathComponent("switch_sst2_trained"), residency: .resident)
        var p = Training.Parameters()
        p.trainable = .lora
        #expect(throws: TrainingError.self) { _ = try Seq2SeqTrainer(model: model, parameters: p) }
    }
}
