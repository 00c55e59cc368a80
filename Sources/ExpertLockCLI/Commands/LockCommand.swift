import ArgumentParser
import ExpertLock
import Foundation

/// `expertlock lock`: a signed copy of a model that only its owner can update verifiably.
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Copy a model folder to --out and add a manifest of every tensor's SHA-256, signed with --key.",
        discussion: """
            The locked model is the copied folder plus expertlock_manifest.json (the input is never modified: \
            files are copied, or cloned copy-on-write where the file system can, never hard-linked). \
            Train it only with `expertlock train --model OUT --key KEY --trainable lora`, which appends signed entries \
            to expertlock_update_log.jsonl in the trained folder; check any copy with `expertlock log verify`. \
            With --json prints {"output", "manifest", "tensors", "config_sha256", "public_key"}.
            """)

    @OptionGroup var modelPath: ModelPathOption
    @OptionGroup var keyOption: OwnerKeyOption
    @OptionGroup var outputFolder: OutputFolderOptions
    @OptionGroup var output: OutputOptions

    var model: String { modelPath.model }
    /// --key (required here: `validate()` refuses a run without it).
    var key: String { keyOption.key ?? "" }

    func validate() throws {
        if keyOption.key == nil { throw ValidationError("Missing expected argument '--key <key>'") }
    }
    var out: String { outputFolder.out }
    var overwrite: Bool { outputFolder.overwrite }

    func run() async throws {
        try await runReportingErrors(output: out) {
            let signingKey = try SigningKey.readPrivateKey(URL(fileURLWithPath: key))
            let outURL = URL(fileURLWithPath: out)
            let manifest = try SelectiveRealignment.lock(
                model: URL(fileURLWithPath: model), key: signingKey, output: outURL, overwrite: overwrite)
            let manifestPath = outURL.appendingPathComponent(ModelManifest.fileName).path
            if output.json {
                try Console.printJSON([
                    "output": outURL.path, "manifest": manifestPath, "tensors": manifest.tensors.count,
                    "config_sha256": manifest.configSHA256, "public_key": manifest.publicKey,
                ])
            } else {
                print(
                    "locked \(manifest.tensors.count) tensors "
                        + "of \(model) into \(outURL.path) (manifest \(manifestPath))"
                )
            }
        }
    }
}
