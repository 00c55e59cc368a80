import ExpertLock
import Foundation
import Testing

@Suite struct JSONLinesReaderTests {
    @Test func readsTextDocuments() throws {
        let url = try DatasetFiles.write("pool.jsonl", "{\"text\": \"one\"}\n\n{\"text\": \"two\", \"meta\": [1]}\n")
        guard case .text(let documents) = try DatasetLoader.load(url).0 else {
            Issue.record("expected text")
            return
        }
        #expect(documents.map(\.text) == ["one", "two"])
    }

    @Test func readsIntegerAndStringLabels() throws {
        let ints = try DatasetFiles.write(
            "a.jsonl", "{\"text\":\"x\",\"label\":2}\n{\"text\":\"y\",\"label\":0,\"id\":9}\n")
        guard case .classification(let task, let examples) = try DatasetLoader.load(ints).0 else {
            Issue.record("expected classification")
            return
        }
        #expect(task == ClassificationTask(name: .custom, labelNames: ["0", "1", "2"]))
        #expect(
            examples == [
                ClassificationExample(id: 0, text: "x", label: 2), ClassificationExample(id: 9, text: "y", label: 0),
            ])

        let strings = try DatasetFiles.write(
            "b.json", "{\"text\":\"x\",\"label\":\"pos\"}\n{\"text\":\"y\",\"label\":\"neg\"}\n")
        guard case .classification(let task2, let examples2) = try DatasetLoader.load(strings).0 else {
            Issue.record("expected classification")
            return
        }
        #expect(task2.labelNames == ["neg", "pos"])
        #expect(examples2.map(\.label) == [1, 0])
    }

    /// Issue 23, item 11: MNLI in its usual public JSONL form (premise, hypothesis, label as an
    /// index or a name, -1 unlabelled), QNLI likewise, and text_pair as a custom pair's second text.
    @Test func readsMNLIAndQNLIAndPairs() throws {
        let mnli = try DatasetFiles.write(
            "mnli.jsonl",
            "{\"premise\":\"p1\",\"hypothesis\":\"h1\",\"label\":2,\"idx\":4}\n"
                + "{\"premise\":\"p2\",\"hypothesis\":\"h2\",\"label\":\"neutral\"}\n"
                + "{\"premise\":\"p3\",\"hypothesis\":\"h3\",\"label\":-1}\n")
        guard case .classification(let task, let examples) = try DatasetLoader.load(mnli).0 else {
            Issue.record("expected classification")
            return
        }
        #expect(task == .mnli)
        #expect(
            examples == [
                ClassificationExample(id: 4, text: "p1", textPair: "h1", label: 2),
                ClassificationExample(id: 1, text: "p2", textPair: "h2", label: 1),
                ClassificationExample(id: 2, text: "p3", textPair: "h3", label: nil),
            ])
        let bad = try DatasetFiles.write("bad.jsonl", "{\"premise\":\"p\",\"hypothesis\":\"h\",\"label\":7}\n")
        #expect(throws: DatasetError.self) { try DatasetLoader.load(bad) }
        let qnli = try DatasetFiles.write(
            "qnli.jsonl", "{\"question\":\"q\",\"sentence\":\"s\",\"label\":\"not_entailment\"}\n")
        guard case .classification(let qTask, let qExamples) = try DatasetLoader.load(qnli).0 else {
            Issue.record("expected classification")
            return
        }
        #expect(qTask == .qnli && qExamples == [ClassificationExample(id: 0, text: "q", textPair: "s", label: 1)])
        let pairs = try DatasetFiles.write("e.jsonl", "{\"text\":\"a\",\"text_pair\":\"b\",\"label\":1}\n")
        guard case .classification(_, let pExamples) = try DatasetLoader.load(pairs).0 else {
            Issue.record("expected classification")
            return
        }
        #expect(pExamples.first?.textPair == "b")
    }

    @Test func readsSummarization() throws {
        let url = try DatasetFiles.write("s.jsonl", "{\"document\":\"long text\",\"summary\":\"short\"}\r\n")
        guard case .summarization(let examples) = try DatasetLoader.load(url).0 else {
            Issue.record("expected summarization")
            return
        }
        #expect(examples == [SummarizationExample(id: 0, document: "long text", summary: "short")])
    }

    @Test(arguments: [
        ("{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\"\n", 2, "invalid JSON"),
        ("{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\"}\n", 2, "missing key \"label\""),
        (
            "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",\"label\":\"x\"}\n", 2,
            "label is a string but earlier labels are integers"
        ),
        ("{\"text\":\"a\",\"label\":1.5}\n", 1, "\"label\" must be an integer from 0 to 9999 or a string"),
        ("{\"text\":3}\n", 1, "\"text\" must be a string"),
        (
            "{\"title\":\"a\"}\n", 1,
            "missing key: expected \"text\", \"text\" and \"label\", \"premise\", \"hypothesis\" and \"label\" (MNLI), "
                + "\"question\", \"sentence\" and \"label\" (QNLI), or \"document\" and \"summary\""
        ),
        ("[{\"text\":\"a\"}]\n", 1, "expected one JSON object per line (JSON Lines), found an array"),
        ("{\"document\":\"a\",\"summary\":\"b\"}\n{\"document\":\"c\"}\n", 2, "missing key \"summary\""),
    ])
    func malformedRows(contents: String, line: Int, problem: String) throws {
        let url = try DatasetFiles.write("bad.jsonl", contents)
        #expect(throws: DatasetError.malformed(file: url.path, line: line, problem: problem)) {
            try DatasetLoader.load(url)
        }
    }

    @Test func skipBadCountsSkippedRows() throws {
        let url = try DatasetFiles.write(
            "mixed.jsonl", "{\"text\":\"a\",\"label\":1}\nnot json\n{\"text\":\"b\"}\n{\"text\":\"c\",\"label\":0}\n")
        let (dataset, skipped) = try DatasetLoader.load(url, skipBad: true)
        #expect(skipped == 2)
        guard case .classification(_, let examples) = dataset else {
            Issue.record("expected classification")
            return
        }
        #expect(examples.map(\.text) == ["a", "c"])
        #expect(examples.map(\.id) == [0, 3])
    }
}
