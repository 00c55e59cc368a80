import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// The gated schedule (`FineTuningSchedule.gated`): the metric on the held-out split never gets
/// worse as labels grow, a rejected round goes back to the kept model exactly, the split is the same
/// for every strategy of a seed and never labeled by the loop, and a run stopped inside a round
/// resumes from that round's start to the uninterrupted result.
struct GatedScheduleTests {
    static func parameters(_ strategy: QueryStrategy = .entropy) -> ActiveLearningLoop.Parameters {
        var p = RealignmentFixtures.parameters(strategy)
        p.schedule = .gated
        p.validationSize = 6
        return p
    }

    @Test func theSplitIsHeldOutSharedAndTheKeptModelStaysInPlace() throws {
        let task = try RealignmentFixtures.classificationTask()
        let p = Self.parameters()
        let model = try RealignmentFixtures.model()
        let result = try ActiveLearningLoop.run(model: model, task: task, parameters: p)
        let split = ActiveLearningLoop.heldOutSplit(poolSize: task.poolSize, parameters: p)
        #expect(split.count == 6 && result.validationIDs == split.map(task.poolID))
        #expect(result.labeled.count == p.budget && Set(result.labeled).isDisjoint(with: split))
        #expect(result.curve.first?.kept == true && result.curve.allSatisfy { $0.validation != nil })
        let kept = result.curve.filter { $0.kept == true }.compactMap(\.validation)
        #expect(kept == kept.sorted(), "a kept round lowered held-out accuracy: \(kept)")
        // The model left in place is the last kept one, as far as both metrics see.
        let final = try task.evaluateWithOutcomes(model: model)
        #expect(final.metric == result.curve.last!.metric && final.outcomes == result.curve.last!.outcomes)
        #expect(try task.validationMetric(model: model, indices: split).value == kept.last)
        // Another strategy with the same seed is judged on the same split; another seed on another.
        let random = try ActiveLearningLoop.run(
            model: try RealignmentFixtures.model(), task: task, parameters: Self.parameters(.random))
        #expect(random.validationIDs == result.validationIDs)
        var other = p
        other.seed += 1
        #expect(ActiveLearningLoop.heldOutSplit(poolSize: task.poolSize, parameters: other) != split)
    }

    /// `TableTask` (perplexity, lower is better) whose held-out metric is a script, one value a call,
    /// so that which rounds the gate keeps is known in advance; training is real.
    final class Script: @unchecked Sendable {
        var values: [Double]
        var calls = 0
        init(_ values: [Double]) { self.values = values }
    }

    struct ScriptedTask: ActiveLearningTask {
        let base: TableTask
        let script: Script
        var poolSize: Int { base.poolSize }
        var isClassification: Bool { true }
        var metric: TaskMetric { base.metric }
        var fingerprint: String { base.fingerprint }
        func poolID(_ index: Int) -> Int { base.poolID(index) }
        func labeledExamples(_ index: Int) -> [TrainingExample] { base.labeledExamples(index) }
        func score(model: MoEModel, indices: [Int], predictions: Bool, embeddings: Bool) throws -> [PoolScore] {
            try base.score(model: model, indices: indices, predictions: predictions, embeddings: embeddings)
        }
        func evaluate(model: MoEModel) throws -> Double { try base.evaluate(model: model) }
        func validationMetric(model: MoEModel, indices: [Int]) throws -> (metric: TaskMetric, value: Double) {
            defer { script.calls += 1 }
            return (.perplexity, script.values[script.calls])
        }
    }

    @Test func aRejectedRoundGoesBackToTheKeptModelExactly() throws {
        let table = (0..<30).map { i -> [Double] in [0.5 + 0.01 * Double(i), 0.5 - 0.01 * Double(i)] }
        // Pruned 10, round 0 kept (9 ≤ 10), round 1 rejected (9.5 > 9), round 2 rejected (9.2 > 9).
        let script = Script([10, 9, 9.5, 9.2])
        let task = ScriptedTask(base: TableTask(table: table, vocab: 23), script: script)
        var p = Self.parameters(.random)
        p.learningRate = 3e-2
        let model = try TrainingFixtures.microModel(vocab: 23)
        var afterRound: [Int: [String: Tensor]] = [:]
        var beforeGate: [Int: [String: Tensor]] = [:]
        let result = try ActiveLearningLoop.run(model: model, task: task, parameters: p) { progress in
            if progress.phase == .trained && progress.step == progress.steps {
                beforeGate[progress.round] = try? RealignmentFixtures.weights(model)
            }
            if progress.phase == .roundComplete { afterRound[progress.round] = try? RealignmentFixtures.weights(model) }
            return .more
        }
        #expect(script.calls == 4)
        #expect(result.curve.map(\.kept) == [true, true, false, false])
        #expect(result.curve.map(\.validation) == [10, 9, 9.5, 9.2])
        #expect(result.curve[2].metric == result.curve[1].metric && result.curve[3].metric == result.curve[1].metric)
        #expect(result.curve.map(\.labeled) == [0, 4, 7, 10])
        // Rounds 1 and 2 trained (their weights before the gate differ from the kept ones) and were undone.
        let kept = try #require(afterRound[0])
        #expect(beforeGate[1] != kept && beforeGate[2] != kept && beforeGate[1] != beforeGate[2])
        #expect(afterRound[1] == kept && afterRound[2] == kept)
        #expect(try RealignmentFixtures.weights(model) == kept)
        #expect(try task.evaluate(model: model) == result.curve[1].metric)
        // The report says how many rounds the gate kept.
        let report = RealignmentReport(results: [result], reference: 20)
        #expect(report.gate == RealignmentReport.Gate(heldOut: 6, rounds: 3, kept: 1))
        #expect(report.markdown().contains("1 of 3 rounds kept their update"))
    }

    @Test func aStopInsideARoundResumesFromItsStart() throws {
        let task = try RealignmentFixtures.classificationTask()
        let p = Self.parameters()
        let straightModel = try RealignmentFixtures.model()
        let straight = try ActiveLearningLoop.run(model: straightModel, task: task, parameters: p)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gated-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let stopped = try ActiveLearningLoop.run(
            model: try RealignmentFixtures.model(), task: task, parameters: p, stateDirectory: directory
        ) { progress in progress.phase == .trained && progress.round == 2 && progress.step == 2 ? .stop : .more }
        #expect(!stopped.completed)
        // Nothing was saved inside the round: the latest state is the end of round 1.
        let latest = try #require(ActiveLearningCheckpoint.states(in: directory).last)
        let data = try #require(
            FileManager.default.contents(atPath: latest.url.appendingPathComponent("state.json").path))
        let state = try JSONFileStyle.decode(ActiveLearningState.self, from: data)
        #expect(state.round == 2 && state.stepInRound == 0)

        let resumedModel = try RealignmentFixtures.model()
        let resumed = try ActiveLearningLoop.run(
            model: resumedModel, task: task, parameters: p, stateDirectory: directory, resume: true)
        #expect(resumed.completed && resumed.startRound == 2)
        #expect(resumed.labeled == straight.labeled && resumed.curve == straight.curve)
        #expect(try RealignmentFixtures.weights(resumedModel) == RealignmentFixtures.weights(straightModel))
    }

    @Test func settingsTheGateCannotHonourAreRefused() throws {
        var p = Self.parameters()
        p.saveEvery = 2
        #expect(throws: RealignmentError.self) { try p.validate() }
        p.saveEvery = nil
        p.validationSize = 0
        #expect(throws: RealignmentError.self) { try p.validate() }
        p.validationSize = 20  // 20 held out + 10 labels > 24 examples
        #expect(throws: RealignmentError.poolTooSmall(pool: 24, budget: 10, heldOut: 20)) {
            try ActiveLearningLoop.run(
                model: try RealignmentFixtures.model(), task: try RealignmentFixtures.classificationTask(),
                parameters: p)
        }
        p.schedule = .continued  // the other schedules hold nothing out
        #expect(p.heldOutCount == 0)
    }
}
