import ArgumentParser
import ExpertLock
import Foundation

/// `expertlock keygen`: a fresh Ed25519 key pair for locking models and signing update logs.
struct KeygenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create an Ed25519 key pair: KEY (private, mode 0600) and KEY.pub.",
        discussion: """
            Each file holds a header line naming its kind (expertlock-key: ed25519-private or ed25519-public), then \
            the 32-byte key as one line of base64, so the two cannot be swapped: a public key given as --key, or a \
            private key as --public-key, is refused. Header-less files of older builds (one base64 line, or 32 raw \
            bytes) are still read. \
            Keep KEY secret: whoever holds it can sign updates of your locked models. Give KEY.pub to verifiers \
            (`expertlock log verify --public-key KEY.pub`). Existing files are refused unless --overwrite. \
            With --json prints {"private_key", "public_key", "public_key_base64"}.
            """)

    /// --out: the private key's path (required; the public key goes to the same path + .pub); --overwrite
    /// replaces existing key files (the old key is lost).
    @OptionGroup var outputFile: OutputFileOptions
    @OptionGroup var output: OutputOptions

    var out: String { outputFile.out ?? "" }
    var overwrite: Bool { outputFile.overwrite }

    func validate() throws {
        if outputFile.out == nil { throw ValidationError("Missing expected argument '--out <out>'") }
    }

    func run() async throws {
        try await runReportingErrors(output: out) {
            let url = URL(fileURLWithPath: out)
            let publicKey = try SigningKey.generate(to: url, overwrite: overwrite)
            let publicPath = url.path + SigningKey.publicKeySuffix
            if output.json {
                try Console.printJSON([
                    "private_key": url.path, "public_key": publicPath, "public_key_base64": SigningKey.text(publicKey),
                ])
            } else {
                print("private key: \(url.path) (keep it secret)\npublic key:  \(publicPath)")
            }
        }
    }
}
