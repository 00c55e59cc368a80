import Foundation
import Testing

@testable import ExpertLockCLI

/// Runs the built `expertlock` binary (next to the test bundle) on small files.
@Suite struct RougeCommandTests {
    static func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rouge-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func readLinesHandlesCRLFAndFinalNewline() throws {
        let path = try Self.temporaryFile("a.txt", "one\r\ntwo\n\nfour\n")
        #expect(try RougeCommand.readLines(path, role: "predictions") == ["one", "two", "", "four"])
        let noFinal = try Self.temporaryFile("b.txt", "one\ntwo")
        #expect(try RougeCommand.readLines(noFinal, role: "predictions") == ["one", "two"])
        let empty = try Self.temporaryFile("c.txt", "")
        #expect(try RougeCommand.readLines(empty, role: "predictions") == [])
    }

    @Test(.enabled(if: CLIRunner.isAvailable))
    func printsMeansAsJSON() throws {
        // rouge-score: pair 1 scores 1.0 everywhere; pair 2 ("a b c d" vs "d c b a") rouge1 1.0,
        // rouge2 0, rougeL 0.25.
        let predictions = try Self.temporaryFile("pred.txt", "the cat sat\nd c b a\n")
        let references = try Self.temporaryFile("ref.txt", "The cat sat.\na b c d\n")
        let result = try CLIRunner.run(["rouge", "--predictions", predictions, "--references", references, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: Double]])
        #expect(Set(object.keys) == ["rouge1", "rouge2", "rougeL"])
        #expect(object["rouge1"]?["fmeasure"] == 1.0)
        #expect(object["rouge2"]?["precision"] == 0.5)
        #expect(abs((object["rougeL"]?["recall"] ?? 0) - 0.625) < 1e-12)
    }

    @Test(.enabled(if: CLIRunner.isAvailable))
    func mismatchedLineCountsExitWithTwoNamingBothFiles() throws {
        let predictions = try Self.temporaryFile("pred.txt", "one\ntwo\n")
        let references = try Self.temporaryFile("ref.txt", "one\n")
        let result = try CLIRunner.run(["rouge", "--predictions", predictions, "--references", references])
        #expect(result.status == 2)
        #expect(result.stderr.contains(predictions) && result.stderr.contains(references))
    }

    @Test(.enabled(if: CLIRunner.isAvailable))
    func missingFileExitsWithTwo() throws {
        let references = try Self.temporaryFile("ref.txt", "one\n")
        let result = try CLIRunner.run(["rouge", "--predictions", "/nonexistent/pred.txt", "--references", references])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent/pred.txt"))
    }
}
