import Foundation
import Testing

/// keygen → lock → log verify → train --key (LoRA only) → log verify → provenance, end to end.
@Suite struct DefenseCommandTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(.enabled(if: CLIRunner.isAvailable)) func ownerWorkflow() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let ids = (0..<300).map { ($0 * 7 + $0 / 5) % 31 }
        try Data(("[" + ids.map(String.init).joined(separator: ",") + "]").utf8).write(
            to: URL(fileURLWithPath: path("ids.json")))
        let trainArguments = ["--ids", path("ids.json"), "--steps", "3", "--batch", "2", "--seq", "16"]

        let base = try CLIRunner.run(["train", "--config", "tiny", "--out", path("base")] + trainArguments)
        #expect(base.status == 0, "\(base.stderr)")
        let keygen = try CLIRunner.run(["keygen", "--out", path("owner.key"), "--json"])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        #expect(try Self.json(keygen.stdout)["public_key"] as? String == path("owner.key.pub"))
        #expect(try CLIRunner.run(["keygen", "--out", path("owner.key")]).status == 2)
        #expect(try CLIRunner.run(["keygen", "--out", path("stranger.key")]).status == 0)

        let lock = try CLIRunner.run([
            "lock", "--model", path("base"), "--key", path("owner.key"), "--out", path("locked"), "--json",
        ])
        #expect(lock.status == 0, "\(lock.stderr)")
        #expect(FileManager.default.fileExists(atPath: path("locked/expertlock_manifest.json")))
        #expect(!FileManager.default.fileExists(atPath: path("base/expertlock_manifest.json")))
        let verify = ["log", "verify", "--public-key", path("owner.key.pub"), "--json", "--model"]
        let fresh = try CLIRunner.run(verify + [path("locked")])
        let freshValid = try Self.json(fresh.stdout)["valid"] as? Bool
        #expect(fresh.status == 0 && freshValid == true, "\(fresh.stderr)")

        // A locked model trains with the owner's key and LoRA only.
        let full = try CLIRunner.run(
            ["train", "--model", path("locked"), "--key", path("owner.key"), "--out", path("x")] + trainArguments)
        #expect(full.status == 2 && full.stderr.contains("--trainable lora"), "\(full.stderr)")
        let keyless = try CLIRunner.run(
            ["train", "--model", path("locked"), "--trainable", "lora", "--out", path("x")] + trainArguments)
        #expect(keyless.status == 2 && keyless.stderr.contains("--key"), "\(keyless.stderr)")
        let unlocked = try CLIRunner.run(
            ["train", "--model", path("base"), "--key", path("owner.key"), "--trainable", "lora", "--out", path("x")]
                + trainArguments)
        #expect(unlocked.status == 2 && unlocked.stderr.contains("not a locked model"), "\(unlocked.stderr)")

        for (name, extra) in [("tuned", ["--merge-lora"]), ("adapter", [])] {
            let run = try CLIRunner.run(
                [
                    "train", "--model", path("locked"), "--key", path("owner.key"), "--trainable", "lora", "--out",
                    path(name),
                ]
                    + trainArguments + extra)
            #expect(run.status == 0, "\(run.stderr)")
            let report = try CLIRunner.run(verify + [path(name)])
            let json = try Self.json(report.stdout)
            #expect(
                report.status == 0 && json["valid"] as? Bool == true && json["entries"] as? Int == 1, "\(report.stdout)"
            )
        }

        // Another public key: not valid, exit 1, the report still printed.
        let stranger = try CLIRunner.run([
            "log", "verify", "--model", path("tuned"), "--public-key", path("stranger.key.pub"), "--json",
        ])
        let rejected = try Self.json(stranger.stdout)
        #expect(stranger.status == 1 && rejected["valid"] as? Bool == false)
        #expect((rejected["problems"] as? [[String: Any]])?.first?["kind"] as? String == "manifest_signature")
        // The base model's checkpoint against the tuned model's manifest and log: the merged tensors differ.
        let swapped = try CLIRunner.run(
            verify + [
                path("base"), "--manifest", path("tuned/expertlock_manifest.json"),
                "--log", path("tuned/expertlock_update_log.jsonl"),
            ])
        let differences = try Self.json(swapped.stdout)["differences"] as? [[String: Any]]
        #expect(swapped.status == 1 && (differences?.count ?? 0) > 0)
        let missing = try CLIRunner.run(["log", "verify", "--model", path("tuned"), "--public-key", path("none.pub")])
        #expect(missing.status == 2 && missing.stderr.contains("none.pub"))

        // The tuned model derives from the base; provenance says so.
        let provenance = try CLIRunner.run([
            "provenance", "--original", path("base"), "--suspect", path("tuned"), "--json",
        ])
        #expect(provenance.status == 0, "\(provenance.stderr)")
        let verdict = try Self.json(provenance.stdout)
        #expect(verdict["verdict"] as? String == "derived")
        #expect(verdict["kept_experts"] as? [[Int]] == [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]])
    }
}
