import Foundation
import Testing

@testable import ExpertLock

struct PromptTemplateTests {
    @Test func glueDefaultsAreTheHarnessPrompts() {
        let sst2 = PromptTemplate.defaults(for: .sst2)
        #expect(
            sst2.prompt(for: ClassificationExample(id: 0, text: "A fine film."))
                == "A fine film.\nQuestion: Is this sentence positive or negative?\nAnswer:")
        #expect(sst2.verbalizers == [" negative", " positive"])
        let mnli = PromptTemplate.defaults(for: .mnli)
        #expect(
            mnli.prompt(for: ClassificationExample(id: 0, text: "P.", textPair: "H."))
                == "P.\nQuestion: H. True, False or Neither?\nAnswer:")
        #expect(mnli.verbalizers == [" True", " Neither", " False"])
        let qnli = PromptTemplate.defaults(for: .qnli)
        #expect(
            qnli.prompt(for: ClassificationExample(id: 0, text: "Q?", textPair: "S."))
                == "Q?\nS.\nQuestion: Does this response answer the question?\nAnswer:")
        #expect(qnli.verbalizers == [" yes", " no"])
    }

    @Test func customDefaultDropsTheMissingPairLine() {
        let task = ClassificationTask(name: .custom, labelNames: ["sports", "finance"])
        let template = PromptTemplate.defaults(for: task)
        #expect(template.verbalizers == [" sports", " finance"])
        #expect(template.prompt(for: ClassificationExample(id: 0, text: "Goal!")) == "Goal!\nAnswer:")
        #expect(template.prompt(for: ClassificationExample(id: 0, text: "A", textPair: "B")) == "A\nB\nAnswer:")
    }

    @Test func placeholdersAreReplacedOnce() {
        let template = PromptTemplate(template: "[{text}] ({text_pair}) {other}", verbalizers: [" a", " b"])
        let example = ClassificationExample(id: 0, text: "{text_pair}", textPair: "{text}")
        #expect(template.prompt(for: example) == "[{text_pair}] ({text}) {other}")
        #expect(SummarizationPrompt().prompt(document: "Doc {document}") == "Doc {document}\nSummary:")
    }

    @Test func loadsAUserTemplate() throws {
        let folder = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("template.json")
        try Data(#"{"template": "Review: {text}\nSentiment:", "verbalizers": [" bad", " good"]}"#.utf8).write(to: url)
        let template = try PromptTemplate.load(from: url)
        #expect(template == PromptTemplate(template: "Review: {text}\nSentiment:", verbalizers: [" bad", " good"]))
        try template.validate(for: .sst2, file: url.path)
        #expect(throws: PromptTemplateError.labelCount(file: url.path, task: "mnli", labels: 3, verbalizers: 2)) {
            try template.validate(for: .mnli, file: url.path)
        }
    }

    @Test(arguments: [
        (#"["a"]"#, "not a JSON object"),
        (#"{"verbalizers": [" a", " b"]}"#, "\"template\" must be a string"),
        (#"{"template": "{text}", "verbalizers": " a"}"#, "\"verbalizers\" must be an array of strings"),
        (#"{"template": "no placeholder", "verbalizers": [" a", " b"]}"#, "no {text} placeholder"),
        (#"{"template": "{text}", "verbalizers": [" a"]}"#, "at least two"),
        (#"{"template": "{text}", "verbalizers": [" a", " a"]}"#, "duplicate"),
        (#"{"template": "{text}", "verbalizers": [" a", " b"], "extra": 1}"#, "unknown key"),
    ])
    func badTemplateFilesNameTheFile(_ json: String, _ problem: String) throws {
        let folder = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("bad.json")
        try Data(json.utf8).write(to: url)
        do {
            _ = try PromptTemplate.load(from: url)
            Issue.record("\(json) loaded")
        } catch let error as PromptTemplateError {
            #expect(error.description.hasPrefix(url.path + ": "))
            #expect(error.description.contains(problem), "\(error)")
        }
        #expect(throws: PromptTemplateError.self) {
            try PromptTemplate.load(from: folder.appendingPathComponent("missing.json"))
        }
    }
}
