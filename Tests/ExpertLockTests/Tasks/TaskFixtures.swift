import Foundation
import MoEModels

@testable import ExpertLock

/// The tiny WordLevel tokenizer and the transformers class scores written by
/// scripts/fixtures/make_task_fixtures.py (Fixtures/tasks).
struct TaskFixtures: Decodable {
    struct Sequence: Decodable {
        let ids: [Int]
        let target_start: Int
    }

    struct Example: Decodable {
        let text: String
        let text_pair: String?
        let label: Int?
        let prompt: String
        let sequences: [Sequence]
        let scores: [Double]
    }

    struct Case: Decodable {
        let model: String
        let task: String
        let max_length: Int
        let examples: [Example]

        var classificationTask: ClassificationTask {
            switch task {
            case "sst2": .sst2
            case "mnli": .mnli
            default: .qnli
            }
        }

        var classificationExamples: [ClassificationExample] {
            examples.enumerated().map { i, e in
                ClassificationExample(id: i, text: e.text, textPair: e.text_pair, label: e.label)
            }
        }
    }

    let cases: [Case]

    static let folder = Fixtures.packageRoot.appendingPathComponent("Tests/ExpertLockTests/Fixtures/tasks")

    static func load() throws -> TaskFixtures {
        try JSONDecoder().decode(
            TaskFixtures.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
    }

    static func tokenizer() throws -> Tokenizer { try Tokenizer.load(directory: folder) }

    /// The id of the added "\n" token.
    static let newlineId = 51
}
