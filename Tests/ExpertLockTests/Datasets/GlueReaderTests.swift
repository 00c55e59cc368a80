import ExpertLock
import Foundation
import Testing

@Suite struct GlueReaderTests {
    private func classification(_ dataset: Dataset) throws -> (ClassificationTask, [ClassificationExample]) {
        guard case .classification(let task, let examples) = dataset else {
            Issue.record("expected a classification dataset")
            throw CancellationError()
        }
        return (task, examples)
    }

    @Test func readsSST2() throws {
        let url = try DatasetFiles.write("train.tsv", "sentence\tlabel\nit 's charming . \t1\nbleak \t0\n")
        let (dataset, skipped) = try DatasetLoader.load(url)
        let (task, examples) = try classification(dataset)
        #expect(task == .sst2 && skipped == 0)
        #expect(
            examples == [
                ClassificationExample(id: 0, text: "it 's charming . ", label: 1),
                ClassificationExample(id: 1, text: "bleak ", label: 0),
            ])
    }

    @Test func readsMNLIByColumnName() throws {
        let header =
            "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
            + "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tgold_label"
        let row1 =
            "7\t1\t1e\tfiction\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tThe cat \"sat.\tA cat sat.\tneutral\tneutral\tneutral"
        let row2 =
            "8\t2\t2e\tslate\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tIt rains.\tIt is "
            + "dry.\tcontradiction\tneutral\tcontradiction"
        let url = try DatasetFiles.write("dev_matched.tsv", header + "\r\n" + row1 + "\r\n" + row2 + "\r\n")
        let (task, examples) = try classification(try DatasetLoader.load(url).0)
        #expect(task == .mnli)
        #expect(examples.map(\.id) == [7, 8])
        #expect(examples.map(\.text) == ["The cat \"sat.", "It rains."])
        #expect(examples.map(\.textPair) == ["A cat sat.", "It is dry."])
        #expect(examples.map(\.label) == [1, 2])
    }

    @Test func readsQNLIAndUnlabeledTestFiles() throws {
        let dev = try DatasetFiles.write(
            "dev.tsv", "index\tquestion\tsentence\tlabel\n0\tWho?\tHe did.\tentailment\n1\tWhen?\tNo.\tnot_entailment\n"
        )
        let (task, examples) = try classification(try DatasetLoader.load(dev).0)
        #expect(task == .qnli && task.labelNames == ["entailment", "not_entailment"])
        #expect(examples.map(\.label) == [0, 1])
        #expect(examples[0].textPair == "He did.")

        let test = try DatasetFiles.write("test.tsv", "index\tsentence\n0\tfine .\n1\tbad .\n")
        let (testTask, testExamples) = try classification(try DatasetLoader.load(test).0)
        #expect(testTask == .sst2)
        #expect(testExamples.map(\.label) == [nil, nil])
    }

    @Test func malformedRowsNameFileAndLine() throws {
        let url = try DatasetFiles.write("train.tsv", "sentence\tlabel\ngood\t1\ntoo\tmany\t1\nbad\t7\nfine\t0\n")
        #expect(
            throws: DatasetError.malformed(
                file: url.path, line: 3, problem: "expected 2 tab-separated columns as in the header, found 3")
        ) {
            try DatasetLoader.load(url)
        }
        let (dataset, skipped) = try DatasetLoader.load(url, skipBad: true)
        let (_, examples) = try classification(dataset)
        #expect(skipped == 2)
        #expect(examples.map(\.text) == ["good", "fine"])
        #expect(examples.map(\.id) == [0, 3])
    }

    @Test func unknownLabelIsAnError() throws {
        let url = try DatasetFiles.write("dev.tsv", "index\tquestion\tsentence\tlabel\n0\tq\ts\tyes\n")
        do {
            _ = try DatasetLoader.load(url)
            Issue.record("expected an error")
        } catch let error as DatasetError {
            #expect(error.description.hasPrefix("\(url.path):2: label 'yes' is not a qnli label"))
        }
    }

    @Test func unknownHeaderIsAnError() throws {
        let url = try DatasetFiles.write("x.tsv", "foo\tbar\n1\t2\n")
        #expect(throws: DatasetError.self) { try DatasetLoader.load(url) }
        let empty = try DatasetFiles.write("empty.tsv", "")
        #expect(throws: DatasetError.self) { try DatasetLoader.load(empty) }
    }

    @Test func limitStopsEarly() throws {
        let url = try DatasetFiles.write("train.tsv", "sentence\tlabel\na\t1\nb\t0\nc\t1\n")
        #expect(try DatasetLoader.load(url, limit: 2).0.count == 2)
    }

    @Test(.enabled(if: DatasetFiles.shared("glue-sst2/dev.tsv") != nil, "needs ../shared/data"))
    func readsRealSST2Dev() throws {
        let url = try #require(DatasetFiles.shared("glue-sst2/dev.tsv"))
        let (dataset, skipped) = try DatasetLoader.load(url)
        let (task, examples) = try classification(dataset)
        #expect(task == .sst2 && skipped == 0)
        #expect(examples.count == 872)
        #expect(examples.filter { $0.label == 1 }.count == 444)
        #expect(examples.filter { $0.label == 0 }.count == 428)
        #expect(examples[0].text == "it 's a charming and often affecting journey . ")
    }
}
