import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

/// The loop end to end on a micro model: budget accounting, what is picked, determinism, frozen
/// tensors, and resumption equal to an uninterrupted run.
struct ActiveLearningLoopTests {
    @Test func roundSizesSpendExactlyTheBudget() {
        var p = ActiveLearningLoop.Parameters()
        (p.budget, p.batchSize, p.initialSize) = (13, 4, 3)
        #expect(p.roundSizes == [3, 4, 4, 2])
        p.initialSize = 0
        #expect(p.roundSizes == [4, 4, 4, 1])
        p.initialSize = 20
        #expect(p.roundSizes == [13])
    }

    @Test func budgetAccountingAndPicksFollowTheTable() throws {
        // Pool entropy rises with the index except for a few, so after the random seed set each
        // round takes the most uncertain examples left.
        let table = (0..<30).map { i -> [Double] in
            let p = 0.5 + 0.49 * Double((i * 7) % 30) / 29
            return [p, 1 - p]
        }
        let task = TableTask(table: table, vocab: 23)
        var p = ActiveLearningLoop.Parameters()
        (p.budget, p.batchSize, p.initialSize, p.stepsPerRound, p.trainingBatchSize) = (13, 4, 3, 2, 2)
        p.learningRate = 1e-3
        p.schedule = .continued  // selection only; the gate holds examples out (`GatedScheduleTests`)
        let result = try ActiveLearningLoop.run(
            model: try TrainingFixtures.microModel(vocab: 23), task: task, parameters: p)
        #expect(result.labeled.count == 13 && Set(result.labeled).count == 13)
        #expect(result.curve.map(\.labeled) == [0, 3, 7, 11, 13])
        #expect(result.labeledIDs == result.labeled.map { 1000 + $0 })
        #expect(result.completed)
        let seed = Set(result.labeled.prefix(3))
        #expect(seed == Set(QueryStrategy.randomSample(Array(0..<30), count: 3, seed: 0, round: 0, purpose: 0)))
        let ranked = (0..<30).filter { !seed.contains($0) }.sorted {
            (QueryStrategy.entropy(table[$0]), -$0) > (QueryStrategy.entropy(table[$1]), -$1)
        }
        #expect(Array(result.labeled.dropFirst(3)) == Array(ranked.prefix(10)))
    }

    @Test(arguments: QueryStrategy.allCases.filter { $0 != .nll })
    func everyClassificationStrategyRuns(_ strategy: QueryStrategy) throws {
        var p = RealignmentFixtures.parameters(strategy)
        p.stepsPerRound = 1
        let result = try ActiveLearningLoop.run(
            model: try RealignmentFixtures.model(), task: try RealignmentFixtures.classificationTask(), parameters: p)
        #expect(result.labeled.count == 10 && Set(result.labeled).count == 10)
        #expect(result.curve.count == 4 && result.curve.allSatisfy { (0...1).contains($0.metric) })
    }

    @Test func sameSeedSameRunAndFrozenTensorsStayBitIdentical() throws {
        let task = try RealignmentFixtures.classificationTask()
        let model = try RealignmentFixtures.model()
        let before = try RealignmentFixtures.weights(model)
        let a = try ActiveLearningLoop.run(model: model, task: task, parameters: RealignmentFixtures.parameters())
        let after = try RealignmentFixtures.weights(model)
        let other = try RealignmentFixtures.model()
        let b = try ActiveLearningLoop.run(model: other, task: task, parameters: RealignmentFixtures.parameters())
        #expect(a.curve == b.curve && a.labeled == b.labeled)
        #expect(try RealignmentFixtures.weights(other) == after)
        var changed = 0
        for (name, value) in before {
            let isExpert = name.contains(".experts.")
            if isExpert && after[name] != value { changed += 1 }
            if !isExpert { #expect(after[name] == value, "\(name) changed with --trainable experts") }
        }
        #expect(changed > 0)
        var p = RealignmentFixtures.parameters()
        p.seed = 12
        let c = try ActiveLearningLoop.run(model: try RealignmentFixtures.model(), task: task, parameters: p)
        #expect(c.labeled != a.labeled)
    }

    /// Mask-mode pruning: only the experts the routers may still choose are fine-tuned.
    @Test func maskedExpertsStayFrozen() throws {
        let model = try RealignmentFixtures.model()
        model.maskExperts([[true, false, true, false], [false, true, true, false]])
        let before = try RealignmentFixtures.weights(model)
        var p = RealignmentFixtures.parameters()
        p.trainable = .expertsAndRouter
        _ = try ActiveLearningLoop.run(model: model, task: try RealignmentFixtures.classificationTask(), parameters: p)
        let after = try RealignmentFixtures.weights(model)
        for (layer, kept) in [(0, [0, 2]), (1, [1, 2])] {
            for e in 0..<4 {
                let names = before.keys.filter { $0.hasPrefix("model.layers.\(layer).block_sparse_moe.experts.\(e).") }
                #expect(names.count == 3)
                for name in names {
                    #expect((after[name] == before[name]) == !kept.contains(e), "\(name)")
                }
            }
        }
    }

    @Test func textTasksRunWithTokenStrategies() throws {
        let documents = BuiltinCorpus(seed: 2).documents(count: 12).map { String($0.text.prefix(60)) }
        let summaries = BuiltinCorpus(seed: 2).summaries(count: 12).enumerated().map {
            SummarizationExample(
                id: $0.offset, document: String($0.element.document.prefix(50)),
                summary: String($0.element.summary.prefix(20)))
        }
        let encoder = CharacterEncoder(
            texts: documents + summaries.flatMap { [$0.document, $0.summary] } + ["\nSummary: "])
        let lm = try LanguageModelingPool(
            documents: documents, evaluationText: documents.joined(separator: " "), encoder: encoder, maxLength: 32)
        let summarization = try SummarizationPool(
            pool: summaries, evaluation: Array(summaries.prefix(3)), encoder: encoder, maxLength: 96)
        for task in [lm as ActiveLearningTask, summarization] {
            for strategy in [QueryStrategy.entropy, .nll, .coreset, .random] {
                var p = RealignmentFixtures.parameters(strategy)
                (p.budget, p.stepsPerRound) = (7, 1)
                let result = try ActiveLearningLoop.run(
                    model: try TrainingFixtures.microModel(vocab: encoder.vocabSize), task: task, parameters: p)
                #expect(result.labeled.count == 7 && Set(result.labeled).count == 7)
                #expect(result.curve.allSatisfy { $0.metric > 1 && $0.metric.isFinite })
            }
            var p = RealignmentFixtures.parameters(.margin)
            p.budget = 7
            #expect(throws: RealignmentError.strategyNotApplicable(strategy: "margin")) {
                try ActiveLearningLoop.run(
                    model: try TrainingFixtures.microModel(vocab: encoder.vocabSize), task: task, parameters: p)
            }
        }
    }

    @Test func inputErrors() throws {
        let task = try RealignmentFixtures.classificationTask()
        var p = RealignmentFixtures.parameters()
        p.budget = 25
        #expect(throws: RealignmentError.poolTooSmall(pool: 24, budget: 25)) {
            try ActiveLearningLoop.run(model: try RealignmentFixtures.model(), task: task, parameters: p)
        }
        p = RealignmentFixtures.parameters()
        p.batchSize = 0
        #expect(throws: RealignmentError.self) {
            try ActiveLearningLoop.run(model: try RealignmentFixtures.model(), task: task, parameters: p)
        }
        var unlabeled = RealignmentFixtures.pool
        unlabeled[3].label = nil
        #expect(throws: RealignmentError.self) { try RealignmentFixtures.classificationTask(pool: unlabeled) }
    }
}

/// The restart schedule: a round's model is the pruned model fine-tuned on that round's labels
/// alone, whatever came before.
struct FineTuningScheduleTests {
    @Test func restartRoundEqualsTrainingFromThePrunedWeights() throws {
        let task = try RealignmentFixtures.classificationTask()
        var p = RealignmentFixtures.parameters(.random)
        p.stepsPerRound = 3
        #expect(ActiveLearningLoop.Parameters().fineTuning == .gated)  // the default
        p.schedule = .restart
        let model = try RealignmentFixtures.model()
        let result = try ActiveLearningLoop.run(model: model, task: task, parameters: p)
        // Again by hand: the pruned weights, one trainer, the last round's batches of all labels.
        let reference = try RealignmentFixtures.model()
        let trainer = try Trainer(model: reference, parameters: p.training)
        let examples = result.labeled.flatMap(task.labeledExamples)
        let sampler = TrainingSampler(
            count: examples.count, batchSize: p.trainingBatchSize,
            seed: QueryStrategy.derivedSeed(p.seed, purpose: 4, round: p.roundSizes.count - 1))
        for step in 0..<p.stepsPerRound { _ = try trainer.step(sampler.indices(step: step).map { examples[$0] }) }
        #expect(try RealignmentFixtures.weights(reference) == RealignmentFixtures.weights(model))
        // The learning rate decays within a round (cosine to 10%).
        #expect(trainer.schedule.learningRate(at: 0) == p.learningRate)
        #expect(abs(trainer.schedule.learningRate(at: p.stepsPerRound) - 0.1 * p.learningRate) < 1e-9)
    }

    @Test func continuedScheduleStillCarriesWeightsOver() throws {
        let task = try RealignmentFixtures.classificationTask()
        var p = RealignmentFixtures.parameters(.random)
        p.schedule = .continued
        let continued = try RealignmentFixtures.model()
        let a = try ActiveLearningLoop.run(model: continued, task: task, parameters: p)
        p.schedule = .restart
        let restarted = try RealignmentFixtures.model()
        let b = try ActiveLearningLoop.run(model: restarted, task: task, parameters: p)
        #expect(a.labeled == b.labeled)  // random picks do not depend on the weights
        #expect(try RealignmentFixtures.weights(continued) != RealignmentFixtures.weights(restarted))
    }
}
