import Crypto
import Foundation
import MoEModels

/// One signed update of a locked model: which training steps on which data produced which new
/// tensors. Entries form a hash chain: `previous` is the `digest` of the entry before (of the
/// manifest for entry 0), and each entry is signed by the owner's key over all its fields
/// (`CanonicalMessage`), so an edited, reordered, inserted or deleted entry breaks a signature,
/// an index or a link.
public struct UpdateLogEntry: Codable, Sendable, Equatable {
    /// Position in the log, from 0.
    public var index: Int
    /// Hex digest of the entry before, or of the manifest for entry 0.
    public var previous: String
    /// Optimizer steps the update covers (1-based, inclusive).
    public var firstStep: Int
    public var lastStep: Int
    /// Hex SHA-256 of the training examples' token ids (`UpdateLog.dataHash`).
    public var dataSHA256: String
    /// Hex SHA-256 of the update itself (`SelectiveRealignment.updateHash`): the new-minus-old
    /// Float32 deltas of changed weights and the values of the adapter tensors, by sorted name.
    public var updateSHA256: String
    /// `adapter` (PEFT adapter files beside unchanged weights) or `merged` (adapters folded in).
    public var update: String
    /// The trainable subset of the run (`lora` on a locked model).
    public var trainable: String
    /// Config hash of the model after the update.
    public var configSHA256: String
    /// Records of the tensors the update created or changed, sorted by name.
    public var tensors: [TensorRecord]
    /// Tensors the update removed (adapter files replaced by a merge), sorted.
    public var removed: [String]
    /// ISO 8601 time of signing (UTC).
    public var timestamp: String
    /// Base64 Ed25519 signature over every other field.
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case index, previous
        case firstStep = "first_step"
        case lastStep = "last_step"
        case dataSHA256 = "data_sha256"
        case updateSHA256 = "update_sha256"
        case update, trainable
        case configSHA256 = "config_sha256"
        case tensors, removed, timestamp, signature
    }

    var signedMessage: Data {
        var m = CanonicalMessage(domain: "expertlock-update-log-v1")
        m.append(index)
        m.append(previous)
        m.append(firstStep)
        m.append(lastStep)
        m.append(dataSHA256)
        m.append(updateSHA256)
        m.append(update)
        m.append(trainable)
        m.append(configSHA256)
        m.append(tensors.count)
        for record in tensors.sorted(by: { $0.name < $1.name }) { m.append(record) }
        m.append(removed.sorted())
        m.append(timestamp)
        return m.bytes
    }

    /// Signs the entry with `key` (the demo signs one with a stranger's key to show the check fails).
    public mutating func sign(with key: Curve25519.Signing.PrivateKey) throws {
        signature = try key.signature(for: signedMessage).base64EncodedString()
    }

    public func isSignatureValid(publicKey: Curve25519.Signing.PublicKey) -> Bool {
        guard let signature = Data(base64Encoded: signature) else { return false }
        return publicKey.isValidSignature(signature, for: signedMessage)
    }

    /// What the next entry's `previous` must be.
    public var digest: String {
        sha256Hex(signedMessage + (Data(base64Encoded: signature) ?? Data(signature.utf8)))
    }
}

/// `expertlock_update_log.jsonl`: the update entries of a locked model, one JSON object per line,
/// in chain order. It lives in the model folder beside the manifest; a training run copies the
/// input's log into its output folder and appends one entry for the model it saved.
public struct UpdateLog: Sendable, Equatable {
    public static let fileName = "expertlock_update_log.jsonl"

    /// A line that is not an entry (kept so the verifier can report it rather than skip it).
    public struct UnreadableLine: Sendable, Equatable {
        public var line: Int
        public var reason: String
    }

    public var entries: [UpdateLogEntry]
    public var unreadable: [UnreadableLine]

    public init(entries: [UpdateLogEntry] = [], unreadable: [UnreadableLine] = []) {
        self.entries = entries
        self.unreadable = unreadable
    }

    /// Reads a log; a missing file is an error, a malformed line is recorded in `unreadable`.
    public static func read(_ url: URL) throws -> UpdateLog {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DefenseError.badLog(file: url.path, reason: "missing or unreadable")
        }
        var log = UpdateLog()
        let decoder = JSONDecoder()
        for (i, line) in String(decoding: data, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        ).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            do {
                log.entries.append(try decoder.decode(UpdateLogEntry.self, from: Data(text.utf8)))
            } catch {
                log.unreadable.append(UnreadableLine(line: i + 1, reason: "not a log entry"))
            }
        }
        return log
    }

    /// The log of a model folder, empty when it has none.
    public static func read(directory: URL) throws -> UpdateLog {
        let url = directory.appendingPathComponent(fileName)
        return FileManager.default.fileExists(atPath: url.path) ? try read(url) : UpdateLog()
    }

    /// Writes one compact JSON object per line, atomically.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for entry in entries {
            data += try encoder.encode(entry)
            data += Data("\n".utf8)
        }
        try AtomicFile.write(data, to: url)
    }

    /// SHA-256 over the examples in order: for each, its token count, first target and token ids,
    /// each as a little-endian Int64. Two runs on the same data (same tokenizer, same chunking)
    /// give the same hash; any changed, added, removed or reordered example changes it.
    public static func dataHash(_ examples: [TrainingExample]) -> String {
        var hasher = SHA256()
        func add(_ x: Int) {
            var v = Int64(x).littleEndian
            withUnsafeBytes(of: &v) { hasher.update(bufferPointer: $0) }
        }
        add(examples.count)
        for example in examples {
            add(example.ids.count)
            add(example.firstTarget)
            for id in example.ids { add(id) }
        }
        return hex(hasher.finalize())
    }
}
