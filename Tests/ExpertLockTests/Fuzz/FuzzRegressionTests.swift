import Foundation
import MoEModels
import Testing
import ExpertLock

/// Inputs `expertlock-fuzz` (fuzz/README.md) found crashing or hanging an ExpertLock parser,
/// kept under Fixtures/fuzz/<target>/ (verbatim, except merge-overflow.json, rebuilt by hand
/// from the seed the fuzzer mutated). Each must now be refused with the parser's InputError.
struct FuzzRegressionTests {
    static func input(_ target: String, _ name: String) throws -> Data {
        try Data(
            contentsOf: Fixtures.packageRoot.appendingPathComponent(
                "Tests/ExpertLockTests/Fixtures/fuzz/\(target)/\(name)"))
    }

    /// Hang, then out of memory: integer labels name classes 0...max, and a label of 100,000,001
    /// made the reader build 100 million label names.
    @Test func jsonlLabelOfAHundredMillionIsRefused() throws {
        let data = try Self.input("jsonl", "label-100000001.jsonl")
        #expect(
            throws: DatasetError.malformed(
                file: "x.jsonl", line: 1, problem: "\"label\" must be an integer from 0 to 9999 or a string")
        ) { try DatasetLoader.load(data: data, file: "x.jsonl") }
        let (dataset, skipped) = try DatasetLoader.load(data: data, file: "x.jsonl", skipBad: true)
        #expect(skipped == 1)
        #expect(dataset.count == 2)
    }

    /// Trap (index out of range): a plan with more `kept` rows than `originalCounts`.
    @Test func planWithMoreKeptRowsThanLayersIsRefused() throws {
        let data = try Self.input("plan", "three-kept-rows-two-counts.json")
        #expect(
            throws: PruningError.unreadablePlan(
                file: "plan.json", reason: "'kept' has 3 layers but 'originalCounts' has 2")
        ) { try PruningPlan.decode(data, file: "plan.json") }
        // A plan built in code can have the same shape; validate() must refuse it, not trap.
        let plan = PruningPlan(kept: [[0, 1], [1, 2], [0, 3]], originalCounts: [4, 4], rule: "test")
        let signature = try JSONDecoder().decode(
            ModelSignature.self,
            from: Data(
                #"""
                {"model_type":"mixtral","layers":2,"sparse_layers":[0,1],"experts_per_layer":[4,4],"hidden_size":8,\#
                "vocab_size":32}
                """#.utf8))
        #expect(throws: PruningError.self) { try plan.validate(for: signature, minimumPerLayer: 2) }
    }

    /// Trap inside Foundation: `JSONSerialization.data` aborts (it does not throw) when the
    /// "signature" to re-serialise is a string rather than an object.
    @Test func attributionWhoseSignatureIsNotAnObjectIsRefused() throws {
        let data = try Self.input("attribution", "signature-not-an-object.json")
        #expect(throws: AttributionError.unreadable(file: "a.json", reason: "missing or malformed 'signature'")) {
            try ExpertAttribution.decode(data, file: "a.json")
        }
    }

    /// Trap (index out of range): a signature with fewer expert counts than sparse layers.
    @Test func attributionWithFewerExpertCountsThanLayersIsRefused() throws {
        let data = try Self.input("attribution", "signature-short-expert-counts.json")
        #expect(
            throws: AttributionError.unreadable(
                file: "a.json", reason: "'signature' lists 1 expert counts for 2 sparse layers")
        ) { try ExpertAttribution.decode(data, file: "a.json") }
    }

    /// Trap (arithmetic overflow): merging two files whose fixed-point sums add past Int64.max.
    @Test func mergeThatOverflowsTheStatisticsThrows() throws {
        let attribution = try ExpertAttribution.decode(Self.input("attribution", "merge-overflow.json"), file: "a.json")
        #expect(throws: AttributionError.mergeOverflow(first: attribution.model, second: attribution.model)) {
            try attribution.merged(with: attribution)
        }
    }
}
