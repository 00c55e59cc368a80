import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

/// The demo's provenance and signed-log stages on a micro model (the full pipeline runs in CI's
/// `demo --quick` smoke test).
struct DemoStagesTests {
    /// A saved micro model (4 experts, 2 sparse layers) over printable ASCII.
    static func savedModel(in root: URL, seed: UInt64) throws -> (URL, CharacterEncoder) {
        let encoder = CharacterEncoder(texts: [String((32...126).map { Character(UnicodeScalar($0)) })])
        let dir = root.appendingPathComponent("models/standard")
        try TrainingFixtures.microModel(vocab: encoder.vocabSize, seed: seed).save(to: dir)
        return (dir, encoder)
    }

    @Test func provenanceNamesTheKeptExpertsAndNotTheOtherSeed() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (original, encoder) = try Self.savedModel(in: root, seed: 1)
        let corpus = BuiltinCorpus(seed: 5)
        let task = ClassificationTask(name: .custom, labelNames: BuiltinCorpus.sentimentLabels)
        func examples(_ count: Int, _ split: CorpusSplit) -> [ClassificationExample] {
            corpus.sentiment(count: count, split: split).enumerated().map {
                ClassificationExample(id: $0, text: $1.text, textPair: $1.textPair, label: $1.label)
            }
        }
        let pool = try ClassificationPool(
            pool: examples(40, .train), evaluation: examples(8, .valid), task: task, encoder: encoder, maxLength: 48)
        let plan = PruningPlan(kept: [[1, 3], [0, 2]], originalCounts: [4, 4], rule: "top-2 per layer")
        let other = try TrainingFixtures.microModel(vocab: encoder.vocabSize, seed: 2)

        let result = try DemoProvenance.run(
            original: original, plan: plan, otherSeed: other, otherSeedValue: 2, pool: pool, sizes: .quick, output: root
        ) { _ in }
        let derivative = try #require(result.suspects.first { $0.plannedKept != nil })
        let control = try #require(result.suspects.first { $0.plannedKept == nil })
        #expect(derivative.report.keptExperts == plan.kept && derivative.correct, "\(derivative.report)")
        #expect(control.report.verdict == .notDerived && control.correct, "\(control.report)")
        // The derivative is saved, re-aligned (its weights moved) and has 2 experts per layer.
        let saved = try ModelLoader.load(directory: root.appendingPathComponent("models/derivative"))
        #expect(saved.moeBlocks.map(\.expertCount) == [2, 2])
        #expect(derivative.highestMatch < 1 && derivative.lowestMatch > 0.9)
    }

    @Test func signedLogPassesTheOwnerAndNamesEveryTampering() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (original, encoder) = try Self.savedModel(in: root, seed: 1)
        let examples = TrainingFixtures.tokenExamples(vocab: encoder.vocabSize, count: 8, length: 10, seed: 4)
        var sizes = DemoSizes.quick
        sizes.sequenceLength = 10
        sizes.realignSteps = 2
        let result = try DemoSignedLog.run(original: original, examples: examples, sizes: sizes, output: root) { _ in }
        let failed = result.checks.filter { !$0.passed }
        #expect(failed.isEmpty, "\(failed)")
        let byName = Dictionary(uniqueKeysWithValues: result.checks.map { ($0.name, $0) })
        #expect(byName["honest owner"]?.valid == true && byName["honest owner"]?.entries == 2)
        let weight = try #require(byName["one changed weight"])
        #expect(weight.details.count == 1, "\(weight.details)")
        #expect(
            weight.details.first?.hasPrefix(
                "values_changed: model.layers.1.block_sparse_moe.experts.3.w2.weight: values changed") == true)
        #expect(byName["one removed expert"]?.details.contains { $0.hasPrefix("expert_removed") } == true)
        #expect(byName["re-ordered log"]?.details.contains { $0.hasPrefix("entry_index") } == true)
        #expect(byName["log signed by another key"]?.details.contains { $0.hasPrefix("entry_signature") } == true)
        #expect(byName["re-locked by another key"]?.details.first?.hasPrefix("manifest_signature") == true)

        // The report shows both sections.
        var results = DemoResults(
            sizes: sizes, seed: 0, entanglement: EntanglementRegularizer(method: .routingSpread, strength: 0.5))
        results.signedLog = result
        let report = root.appendingPathComponent("report")
        try DemoReport.write(results, to: report)
        let text = try String(contentsOf: report.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(text.contains("## Signed update log") && text.contains("6 of 6 cases came out as expected"))
    }
}
