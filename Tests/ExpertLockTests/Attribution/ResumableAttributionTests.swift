import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// `Attribution.runResumable`: stopped anywhere and resumed, the statistics equal one
/// uninterrupted run bit for bit; a state made for other batches is refused.
struct ResumableAttributionTests {
    static func setUp() throws -> (MoEModel, [TokenBatch]) {
        let model = try ModelLoader.load(directory: Fixtures.model("qwen2_moe_bf16_norm_tied"))
        var rng = SplitMix64(seed: 4)
        let ids = (0..<300).map { _ in Int(rng.next() % UInt64(model.config.vocabSize)) }
        return (model, CorpusBatches.batches(CorpusBatches.chunks(ids, length: 16), batchSize: 2))
    }

    @Test func stoppedAndResumedEqualsOneRun() throws {
        let (model, batches) = try Self.setUp()
        let straight = try Attribution.run(model: model, modelPath: "m", batches: batches)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resumable-attr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = AttributionResumeState.url(forOutput: dir.appendingPathComponent("a.json"))
        #expect(state.lastPathComponent == ".a.json.state")
        for (stopAt, saveEvery) in [(1, 1), (4, 3), (7, 2)] {
            try? FileManager.default.removeItem(at: state)
            _ = try Attribution.runResumable(
                model: model, modelPath: "m", batches: batches, stateURL: state, resume: false, saveEvery: saveEvery
            ) { done, _, _ in done < stopAt }
            let saved = try #require(try AttributionResumeState.read(state))
            #expect(saved.batchesDone == stopAt)
            let resumed = try Attribution.runResumable(
                model: model, modelPath: "m", batches: batches, stateURL: state, resume: true, saveEvery: saveEvery)
            #expect(resumed == straight, "stop at \(stopAt), save every \(saveEvery)")
        }
        // A finished state resumes to the same result without running anything.
        let again = try Attribution.runResumable(
            model: model, modelPath: "m", batches: batches, stateURL: state, resume: true
        ) {
            _, _, _ in
            Issue.record("nothing should run"); return true
        }
        #expect(again == straight)
        // Other batches: refused.
        #expect(throws: AttributionError.self) {
            try Attribution.runResumable(
                model: model, modelPath: "m", batches: Array(batches.dropLast()), stateURL: state, resume: true)
        }
        // A damaged state names its file.
        try Data("{\"format\": 1}".utf8).write(to: state)
        let error = #expect(throws: AttributionError.self) {
            try Attribution.runResumable(model: model, modelPath: "m", batches: batches, stateURL: state, resume: true)
        }
        #expect(error?.description.contains(".a.json.state") == true)
    }

    @Test func sweepResumesAtTheNextPoint() throws {
        let (model, batches) = try Self.setUp()
        let attribution = try Attribution.run(model: model, modelPath: "m", batches: batches)
        let ids = batches.prefix(3).flatMap(\.ids)
        let parameters = PrunabilitySweep.Parameters(keeps: [4, 2, 1], criteria: [.soft, .frequency], randomSeeds: 2)
        func evaluate(_ m: MoEModel) throws -> Double {
            try Perplexity.evaluate(model: m, ids: ids, parameters: .init(context: 16)).perplexity
        }
        let straight = try PrunabilitySweep.run(
            model: model, attribution: attribution, metricName: "perplexity", higherIsBetter: false,
            parameters: parameters, evaluate: evaluate)
        for stopAt in [1, 5, 11] {
            var saved = PrunabilitySweep.Progress()
            _ = try PrunabilitySweep.run(
                model: model, attribution: attribution, metricName: "perplexity", higherIsBetter: false,
                parameters: parameters, evaluate: evaluate, progress: { done, _ in done < stopAt }, save: { saved = $0 }
            )
            #expect(saved.points.count == stopAt)
            // Through the state file, as the CLI does.
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-state-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: url) }
            try SweepResumeState(fingerprint: "f", attribution: attribution, progress: saved).write(to: url)
            let read = try #require(try SweepResumeState.read(url))
            #expect(read.progress == saved && read.attribution == attribution)
            var evaluations = 0
            let resumed = try PrunabilitySweep.run(
                model: model, attribution: read.attribution, metricName: "perplexity", higherIsBetter: false,
                parameters: parameters,
                evaluate: {
                    evaluations += 1; return try evaluate($0)
                }, resume: read.progress)
            #expect(resumed == straight)
            #expect(evaluations == straight.points.count - stopAt)
        }
        // Points of another sweep: refused.
        var other = PrunabilitySweep.Progress(full: 1, points: straight.points)
        other.points[0].k = 3
        #expect(throws: PruningError.self) {
            try PrunabilitySweep.run(
                model: model, attribution: attribution, metricName: "perplexity", higherIsBetter: false,
                parameters: parameters, evaluate: evaluate, resume: other)
        }
    }
}
