import ArgumentParser
import ExpertLock
import Foundation

/// `expertlock log verify`: does a checkpoint equal its signed manifest plus its signed updates?
struct LogVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a model folder against its signed manifest and update log.",
        discussion: """
            Valid only when the manifest and every log entry verify under --public-key, the entries form an unbroken \
            hash chain in order, and the checkpoint's tensors (and config) are exactly the manifest's plus the logged \
            updates. Otherwise every problem and every differing tensor is listed, naming the layer and expert of \
            expert tensors, the router rows that differ, and experts removed or moved by pruning. \
            --manifest defaults to MODEL/expertlock_manifest.json, --log to MODEL/expertlock_update_log.jsonl (none: \
            no updates). Exit 0 when valid, 1 when not valid (the report is still printed), 2 when a file cannot be \
            read. With --json prints {"valid", "manifest_signature_valid", "chain_valid", "entries", \
            "tensors_checked", "problems": [...], "differences": [...]}.
            """)

    @Option(help: "The update log (JSON Lines).") var log: String?
    @OptionGroup var modelPath: ModelPathOption
    @Option(help: "The owner's public key (KEY.pub from `expertlock keygen`).") var publicKey: String
    @Option(help: "The signed manifest (default: in the model folder).") var manifest: String?
    @OptionGroup var output: OutputOptions

    var model: String { modelPath.model }

    func run() async throws {
        var valid = true
        try await runReportingErrors {
            let modelURL = URL(fileURLWithPath: model)
            let key = try SigningKey.readPublicKey(URL(fileURLWithPath: publicKey))
            let manifestURL =
                manifest.map { URL(fileURLWithPath: $0) }
                ?? modelURL.appendingPathComponent(ModelManifest.fileName)
            let signed = try ModelManifest.read(manifestURL)
            let updates =
                try log.map { try UpdateLog.read(URL(fileURLWithPath: $0)) }
                ?? UpdateLog.read(directory: modelURL)
            let report = try LogVerifier.verify(model: modelURL, manifest: signed, log: updates, publicKey: key)
            valid = report.valid
            if output.json {
                try Console.printJSON(encodable: report)
            } else {
                print(report.summary)
                for problem in report.problems { print("  log: \(problem.detail)") }
                for difference in report.differences {
                    print(
                        "  \(difference.kind.rawValue): "
                            + "\(difference.tensor.map { "\($0): " } ?? "")\(difference.detail)"
                    )
                }
            }
        }
        if !valid { throw ExitCode(1) }
    }
}
