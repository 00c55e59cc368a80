import Foundation
import Testing

/// `expertlock corpus`: the built-in corpus as files, the same bytes for the same seed.
@Suite struct CorpusCommandTests {
    @Test(.enabled(if: CLIRunner.isAvailable)) func writesEveryFileDeterministically() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = dir.appendingPathComponent("a")
        let second = dir.appendingPathComponent("b")
        let run = try CLIRunner.run(["corpus", "--out", first.path, "--tokens", "2000", "--seed", "7", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let files = try #require(json["files"] as? [String: String])
        let expected = [
            "lm.train.txt", "lm.valid.txt", "sentiment.train.jsonl", "sentiment.dev.jsonl", "entailment.train.jsonl",
            "entailment.dev.jsonl", "summaries.train.jsonl", "summaries.dev.jsonl",
        ]
        #expect(Set(files.keys) == Set(expected))
        #expect(try CLIRunner.run(["corpus", "--out", second.path, "--tokens", "2000", "--seed", "7"]).status == 0)
        for name in expected {
            let a = try Data(contentsOf: first.appendingPathComponent(name))
            let b = try Data(contentsOf: second.appendingPathComponent(name))
            #expect(!a.isEmpty && a == b, "\(name)")
        }
        // A non-empty folder is refused unless --overwrite; a file in the way is named.
        let again = try CLIRunner.run(["corpus", "--out", first.path, "--tokens", "2000"])
        #expect(again.status == 2 && again.stderr.contains("--overwrite"))
        #expect(try CLIRunner.run(["corpus", "--out", first.path, "--tokens", "2000", "--overwrite"]).status == 0)
        let file = first.appendingPathComponent("lm.train.txt")
        let blocked = try CLIRunner.run(["corpus", "--out", file.path])
        #expect(blocked.status == 2 && blocked.stderr.contains("not a folder"))
    }
}
