import Foundation
import MoEModels
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

@Suite struct BuiltinCorpusFilesTests {
    static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)")
    }

    static func lines(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true).map(
            String.init)
    }

    @Test func writeProducesTheFilesReadersExpect() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = try BuiltinCorpus(seed: 3).write(to: directory, tokensTarget: 20_000)
        #expect(
            files.keys.sorted() == [
                "entailment.dev.jsonl", "entailment.train.jsonl", "lm.train.txt", "lm.valid.txt",
                "sentiment.dev.jsonl", "sentiment.train.jsonl", "summaries.dev.jsonl", "summaries.train.jsonl",
            ])
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).count == 8)

        let train = try String(contentsOf: try #require(files["lm.train.txt"]), encoding: .utf8)
        let tokens = BuiltinCorpus.whitespaceTokenCount(train)
        #expect(tokens >= 20_000 && tokens < 20_300)
        let documents = train.components(separatedBy: "\n\n")
        #expect(documents.count > 100)
        #expect(documents.allSatisfy { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty })
        let valid = try String(contentsOf: try #require(files["lm.valid.txt"]), encoding: .utf8)
        #expect(BuiltinCorpus.whitespaceTokenCount(valid) >= 2_000)

        let expected = [
            "sentiment.train.jsonl": 80, "sentiment.dev.jsonl": 16, "entailment.train.jsonl": 80,
            "entailment.dev.jsonl": 16, "summaries.train.jsonl": 40, "summaries.dev.jsonl": 8,
        ]
        for (name, count) in expected.sorted(by: { $0.key < $1.key }) {
            let rows = try Self.lines(try #require(files[name]))
            #expect(rows.count == count, "\(name)")
            for row in rows {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
                switch name.split(separator: ".")[0] {
                case "sentiment":
                    #expect(Set(object.keys) == ["text", "label"])
                    #expect(object["label"] as? Int == 0 || object["label"] as? Int == 1)
                case "entailment":
                    #expect(Set(object.keys) == ["text", "text_pair", "label"])
                    #expect(!(object["text_pair"] as? String ?? "").isEmpty)
                default:
                    #expect(Set(object.keys) == ["document", "summary"])
                }
            }
        }
        // The first sentiment row is the first example of the API, with its keys in reader order.
        let first = try Self.lines(try #require(files["sentiment.train.jsonl"]))[0]
        #expect(first.hasPrefix("{\"text\": "))
        let example = BuiltinCorpus(seed: 3).sentiment(count: 1)[0]
        #expect(first == "{\"text\": \(JSONLine.quoted(example.text)), \"label\": \(example.label)}")
    }

    @Test func writeReplacesExistingFilesAndIsDeterministic() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let corpus = BuiltinCorpus(seed: 9)
        let first = try corpus.write(to: directory, tokensTarget: 5_000)
        let before = try Data(contentsOf: try #require(first["entailment.train.jsonl"]))
        try corpus.write(to: directory, tokensTarget: 5_000)
        #expect(try Data(contentsOf: try #require(first["entailment.train.jsonl"])) == before)
    }

    @Test func unwritableDirectoryIsAnInputError() throws {
        let blocker = Self.temporaryDirectory()
        try Data("x".utf8).write(to: blocker)
        defer { try? FileManager.default.removeItem(at: blocker) }
        // A directory under a regular file cannot be created.
        #expect(throws: CorpusError.self) {
            try BuiltinCorpus().write(to: blocker.appendingPathComponent("out"), tokensTarget: 100)
        }
        do {
            try BuiltinCorpus().write(to: blocker.appendingPathComponent("out"), tokensTarget: 100)
        } catch let error as CorpusError {
            #expect(error.description.contains("out"))
        }
    }
}
