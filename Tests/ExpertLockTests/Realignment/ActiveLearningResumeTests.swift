import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// A run interrupted in the middle of a round and resumed ends exactly as an uninterrupted one:
/// same labeled examples in the same order, same curve, bit-identical weights.
struct ActiveLearningResumeTests {
    static func parameters(_ subset: TrainableSubset, _ strategy: QueryStrategy) -> ActiveLearningLoop.Parameters {
        var p = RealignmentFixtures.parameters(strategy)
        p.trainable = subset
        p.stepsPerRound = 4
        p.saveEvery = 2
        return p
    }

    static func straight(_ p: ActiveLearningLoop.Parameters, _ directory: URL) throws
        -> (ActiveLearningLoop.Result, [String: Tensor])
    {
        let model = try RealignmentFixtures.model()
        let result = try ActiveLearningLoop.run(
            model: model, task: try RealignmentFixtures.classificationTask(), parameters: p, stateDirectory: directory)
        return (result, try RealignmentFixtures.weights(model))
    }

    /// Copies the state folder when the callback sees step 3 of round 2 — after the save at step 2,
    /// with no write under way, exactly what a SIGKILL at that moment leaves — then resumes from
    /// the copy in a fresh process-like setting (a newly loaded model).
    @Test(arguments: [
        (TrainableSubset.experts, QueryStrategy.entropy), (.lora, .margin), (.expertsAndRouter, .coreset),
    ])
    func resumeFromAKillSnapshotEqualsTheUninterruptedRun(_ subset: TrainableSubset, _ strategy: QueryStrategy) throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let p = Self.parameters(subset, strategy)
        let (expected, expectedWeights) = try Self.straight(p, root.appendingPathComponent("straight"))

        let live = root.appendingPathComponent("live")
        let killed = root.appendingPathComponent("killed")
        var snapshotLabeled = 0
        _ = try ActiveLearningLoop.run(
            model: try RealignmentFixtures.model(), task: try RealignmentFixtures.classificationTask(), parameters: p,
            stateDirectory: live
        ) { progress in
            if progress.phase == .trained && progress.round == 2 && progress.step == 3 {
                try? FileManager.default.copyItem(at: live, to: killed)
                snapshotLabeled = progress.labeled
                return .stop
            }
            return .more
        }
        #expect(snapshotLabeled == 4 + 3 + 3)
        let saved = ActiveLearningCheckpoint.states(in: killed)
        #expect(saved.count == 1)
        let state = try JSONDecoder().decode(
            ActiveLearningState.self,
            from: Data(contentsOf: saved[0].url.appendingPathComponent(ActiveLearningCheckpoint.stateFileName)))
        #expect(state.round == 2 && state.stepInRound == 2 && state.labeled.count == 10)

        let model = try RealignmentFixtures.model()
        let resumed = try ActiveLearningLoop.run(
            model: model, task: try RealignmentFixtures.classificationTask(), parameters: p, stateDirectory: killed,
            resume: true)
        #expect(resumed.startRound == 2 && resumed.completed)
        #expect(resumed.labeled == expected.labeled && resumed.curve == expected.curve)
        #expect(Set(resumed.labeled).count == p.budget)
        #expect(try RealignmentFixtures.weights(model) == expectedWeights)
    }

    @Test func gracefulStopAtARoundEndThenResume() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var p = Self.parameters(.experts, .leastConfidence)
        p.saveEvery = nil
        let (expected, expectedWeights) = try Self.straight(p, root.appendingPathComponent("straight"))
        let dir = root.appendingPathComponent("stopped")
        let first = try ActiveLearningLoop.run(
            model: try RealignmentFixtures.model(), task: try RealignmentFixtures.classificationTask(), parameters: p,
            stateDirectory: dir
        ) { $0.phase == .roundComplete && $0.round == 0 ? .stop : .more }
        #expect(!first.completed && first.curve.count == 2)
        // A partial folder from a kill during a save is ignored and removed.
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent(".state-9.partial-abc"), withIntermediateDirectories: true)
        let model = try RealignmentFixtures.model()
        let resumed = try ActiveLearningLoop.run(
            model: model, task: try RealignmentFixtures.classificationTask(), parameters: p, stateDirectory: dir,
            resume: true)
        #expect(resumed.labeled == expected.labeled && resumed.curve == expected.curve)
        #expect(try RealignmentFixtures.weights(model) == expectedWeights)
        // Resuming a finished run returns its result without training.
        let again = try ActiveLearningLoop.run(
            model: try RealignmentFixtures.model(), task: try RealignmentFixtures.classificationTask(), parameters: p,
            stateDirectory: dir, resume: true)
        #expect(again.labeled == expected.labeled && again.startRound == 3)
    }

    @Test func stateFolderRules() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var p = Self.parameters(.experts, .entropy)
        p.stepsPerRound = 1
        let dir = root.appendingPathComponent("run")
        _ = try Self.straight(p, dir)
        #expect(throws: RealignmentError.outputExists(path: dir.path)) { try Self.straight(p, dir) }
        var other = p
        other.seed = 99
        #expect(throws: RealignmentError.self) {
            try ActiveLearningLoop.run(
                model: try RealignmentFixtures.model(), task: try RealignmentFixtures.classificationTask(),
                parameters: other, stateDirectory: dir, resume: true)
        }
        // Resume in an empty folder starts from the beginning.
        let fresh = try ActiveLearningLoop.run(
            model: try RealignmentFixtures.model(), task: try RealignmentFixtures.classificationTask(), parameters: p,
            stateDirectory: root.appendingPathComponent("new"), resume: true)
        #expect(fresh.startRound == 0 && fresh.completed)
    }
}
