import Foundation
import TensorCore
import Testing

@testable import ExpertLock
@testable import MoEModels

/// Active-learning re-alignment of an encoder-decoder (`TextToTextPool` through `ActiveLearningLoop.run`) on the
/// trained tiny switch model of scripts/fixtures/make_switch_audit_fixture.py, its experts masked to two per
/// sparse layer.
struct TextToTextPoolTests {
    static let folder = TextToTextTests.folder

    static func task() throws -> TextToTextPool {
        let tokenizer = try Tokenizer.load(directory: folder)
        func examples(_ file: String) throws -> (ClassificationTask, [ClassificationExample]) {
            guard
                case .classification(let task, let items) = try DatasetLoader.load(
                    folder.appendingPathComponent(file)
                ).0
            else { throw CocoaError(.fileReadCorruptFile) }
            return (task, items)
        }
        let (task, pool) = try examples("pool.tsv")
        return try TextToTextPool(
            pool: pool, evaluation: try examples("dev.tsv").1, task: task, tokenizer: tokenizer, decoderStart: 0)
    }

    static func prunedModel() throws -> SwitchTransformersModel {
        let model = try SwitchTransformersModel.load(directory: folder, residency: .resident)
        model.maskExperts(model.sparseBlocks.map { b in (0..<b.expertCount).map { $0 < 2 } })
        return model
    }

    static func parameters(_ strategy: QueryStrategy, seed: UInt64 = 1) -> ActiveLearningLoop.Parameters {
        var p = ActiveLearningLoop.Parameters()
        p.strategy = strategy
        p.budget = 12
        p.batchSize = 4
        p.initialSize = 4
        p.stepsPerRound = 3
        p.trainingBatchSize = 4
        p.learningRate = 3e-3
        p.seed = seed
        p.schedule = .continued  // the pool of 48 leaves no room for the gate's default split of 64
        return p
    }

    static var classificationStrategies: [QueryStrategy] {
        QueryStrategy.allCases.filter { $0.applies(toClassification: true) }
    }

    /// Every classification strategy labels exactly the budget of distinct pool examples, evaluates before and
    /// after each round, and fine-tunes only the kept experts.
    @Test(arguments: classificationStrategies)
    func everyStrategyRunsOnTheEncoderDecoder(_ strategy: QueryStrategy) throws {
        let task = try Self.task()
        let model = try Self.prunedModel()
        let frozen = try model.parameters.filter { !$0.name.contains(".mlp.experts.") }.map { ($0, try $0.tensor()) }
        let before = try TextToText.accuracy(
            model, tokenizer: try Tokenizer.load(directory: Self.folder), task: .sst2, examples: task.evaluation)
        let result = try ActiveLearningLoop.run(model: model, task: task, parameters: Self.parameters(strategy))
        #expect(result.completed)
        #expect(result.labeled.count == 12 && Set(result.labeled).count == 12)
        #expect(result.labeledIDs == result.labeled.map { task.pool[$0].id })
        #expect(result.curve.map(\.labeled) == [0, 4, 8, 12])
        #expect(result.curve[0].metric == before.accuracy)
        #expect(result.curve[0].outcomes == before.outcomes)
        for (p, value) in frozen { #expect(try p.tensor().data == value.data, "\(p.name) changed") }
    }

    /// The same seed gives the same labels, curve and weights; another seed other labels.
    @Test func runsAreDeterministic() throws {
        let task = try Self.task()
        func run(seed: UInt64) throws -> (ActiveLearningLoop.Result, [Float]) {
            let model = try Self.prunedModel()
            let r = try ActiveLearningLoop.run(
                model: model, task: task, parameters: Self.parameters(.badge, seed: seed))
            return (r, try model.sparseBlocks[1].experts[0].wi.tensor().data)
        }
        let (a, wa) = try run(seed: 3)
        let (b, wb) = try run(seed: 3)
        let (c, _) = try run(seed: 4)
        #expect(a.labeled == b.labeled && a.curve == b.curve && wa == wb)
        #expect(a.labeled != c.labeled)
    }

    /// Scores: the softmax over the label words' log-likelihoods, and the encoder output mean-pooled over the prompt.
    @Test func scoresAreLabelWordProbabilitiesAndEncoderMeans() throws {
        let task = try Self.task()
        let model = try Self.prunedModel()
        let scores = try task.score(model: model, indices: [0, 5], predictions: true, embeddings: true)
        for (score, i) in zip(scores, [0, 5]) {
            let memory = try model.encode(task.sources[i]).value
            let ll = try TextToText.logLikelihoods(model, source: task.sources[i], targets: task.labels)
            let p = try #require(score.probabilities)
            #expect(abs(p[1] / p[0] - exp(ll[1] - ll[0])) < 1e-9 * max(1, exp(ll[1] - ll[0])))
            #expect(abs(p.reduce(0, +) - 1) < 1e-12)
            let e = try #require(score.embedding)
            #expect(e.count == model.config.dModel)
            let c0 = (0..<memory.rows).reduce(Float(0)) { $0 + memory.data[$1 * memory.lastDim] } / Float(memory.rows)
            #expect(abs(e[0] - c0) < 1e-6)
        }
        // The oracle: prompt → the label word with </s>, after the decoder's start token.
        let example = task.labeledExamples(0)[0]
        #expect(example.source == task.sources[0])
        #expect(example.ids == [0] + task.labels[task.pool[0].label!])
        #expect(example.firstTarget == 1)
    }

    /// Stopped after round 1 and resumed from its state folder, a run ends as an uninterrupted one.
    @Test func resumeEqualsTheUninterruptedRun() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let task = try Self.task()
        let p = Self.parameters(.entropy)
        let straightModel = try Self.prunedModel()
        let straight = try ActiveLearningLoop.run(
            model: straightModel, task: task, parameters: p, stateDirectory: root.appendingPathComponent("a"))
        let state = root.appendingPathComponent("b")
        let stopped = try ActiveLearningLoop.run(
            model: try Self.prunedModel(), task: task, parameters: p, stateDirectory: state
        ) { $0.phase == .roundComplete && $0.round == 1 ? .stop : .more }
        #expect(!stopped.completed)
        let resumedModel = try Self.prunedModel()
        let resumed = try ActiveLearningLoop.run(
            model: resumedModel, task: task, parameters: p, stateDirectory: state, resume: true)
        #expect(resumed.completed && resumed.startRound == 2)
        #expect(resumed.labeled == straight.labeled)
        #expect(resumed.curve == straight.curve)
        for (x, y) in zip(straightModel.parameters, resumedModel.parameters) {
            #expect(try x.tensor().data == y.tensor().data, "\(x.name)")
        }
    }
}
