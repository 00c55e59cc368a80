import Foundation
import Testing

/// Runs `expertlock train-tokenizer` (the built binary) on the committed training text.
@Suite struct TrainTokenizerCommandTests {
    static let trainText = CLIRunner.packageRoot.appendingPathComponent(
        "Tests/MoEModelsTests/Fixtures/tokenizer-training/train.txt"
    ).path

    @Test(.enabled(if: CLIRunner.isAvailable))
    func writesTokenizerAndPrintsJSON() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("tok").path
        let arguments = [
            "train-tokenizer", "--data", Self.trainText, "--model", "bpe", "--vocab-size", "300", "--out", out,
        ]
        let result = try CLIRunner.run(arguments + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["vocab_size", "merges", "seconds"])
        #expect((object["vocab_size"] as? NSNumber)?.intValue == 300)
        #expect((object["merges"] as? NSNumber)?.intValue == 40)  // 300 - 4 special - 256 bytes
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name))
        }
        // An existing folder is refused without --overwrite (exit 2), replaced with it.
        let again = try CLIRunner.run(arguments)
        #expect(again.status == 2 && again.stderr.contains(out))
        #expect(try CLIRunner.run(arguments + ["--overwrite"]).status == 0)
    }

    @Test(.enabled(if: CLIRunner.isAvailable))
    func badInputExitsWithTwo() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("tok").path
        let missing = try CLIRunner.run(["train-tokenizer", "--data", "/nonexistent/x.txt", "--out", out])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/x.txt"))
        let small = try CLIRunner.run([
            "train-tokenizer", "--data", Self.trainText, "--vocab-size", "100", "--out", out,
        ])
        #expect(small.status == 2 && small.stderr.contains("vocab size 100"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
