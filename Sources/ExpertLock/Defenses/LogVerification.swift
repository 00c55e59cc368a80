import Foundation
import MoEModels

/// Something wrong with the manifest or the log themselves: a signature that does not verify
/// under the given key, an entry out of place, a broken hash link, a line that is not an entry.
public struct LogProblem: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The manifest's signature does not verify (wrong key or edited manifest).
        case manifestSignature = "manifest_signature"
        /// An entry's signature does not verify (wrong key or edited entry).
        case entrySignature = "entry_signature"
        /// An entry's index is not its position (reordered, inserted or deleted entry).
        case entryIndex = "entry_index"
        /// An entry's `previous` is not the digest of the entry before it (or of the manifest).
        case brokenChain = "broken_chain"
        /// A line that is not a log entry.
        case unreadableEntry = "unreadable_entry"
    }

    public var kind: Kind
    /// Position of the entry in the file (0-based), when the problem is an entry's.
    public var entry: Int?
    /// Line of the log file, for unreadable lines.
    public var line: Int?
    public var detail: String
}

/// A way the checkpoint differs from the manifest plus the logged updates.
public struct TensorDifference: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A tensor the manifest or log lists is not in the checkpoint.
        case missing
        /// A tensor in the checkpoint that neither the manifest nor the log lists.
        case unexpected
        case shapeChanged = "shape_changed"
        case valuesChanged = "values_changed"
        /// An expert of the manifest whose weights are nowhere in its layer any more (pruned).
        case expertRemoved = "expert_removed"
        /// An expert whose weights now sit at another index of its layer (`position`).
        case expertMoved = "expert_moved"
        /// config.json describes another architecture than the manifest and log say.
        case configChanged = "config_changed"
        /// `expertlock_mask.json` stops the router from choosing this expert (pruning by masking).
        case expertMasked = "expert_masked"
        /// `expertlock_mask.json` was added, removed or changed in a way that names no expert.
        case maskChanged = "mask_changed"
        /// The tokenizer files are not the locked ones (a swapped vocabulary changes what every
        /// token id means without touching a tensor).
        case tokenizerChanged = "tokenizer_changed"
    }

    public var kind: Kind
    public var tensor: String?
    /// Decoder layer index, for expert, router, attention and adapter tensors (in an encoder-decoder: the block of
    /// `stack`).
    public var layer: Int?
    /// `encoder` or `decoder` for an encoder-decoder's experts and routers (nil: a decoder-only model).
    public var stack: SwitchStack?
    /// The expert (its index in the manifest), for expert tensors and expert-level differences.
    public var expert: Int?
    /// Where a moved expert now is.
    public var position: Int?
    /// For routers and fused expert tensors: the manifest's rows (experts) that are not intact at
    /// their place (changed, moved or removed).
    public var rows: [Int]?
    public var expectedShape: [Int]?
    public var actualShape: [Int]?
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case kind, tensor, layer, stack, expert, position, rows
        case expectedShape = "expected_shape"
        case actualShape = "actual_shape"
        case detail
    }

    init(
        _ kind: Kind, tensor: String? = nil, role: TensorRole? = nil, expert: Int? = nil, position: Int? = nil,
        rows: [Int]? = nil, expectedShape: [Int]? = nil, actualShape: [Int]? = nil, detail: String
    ) {
        self.kind = kind
        self.tensor = tensor
        self.layer = role?.layer
        self.stack = role?.stack
        self.expert = expert ?? role?.expert
        self.position = position
        self.rows = rows
        self.expectedShape = expectedShape
        self.actualShape = actualShape
        self.detail = detail
    }
}

/// What `LogVerifier.verify` found. `valid` only when the manifest and every entry verify under
/// the given key, the chain is intact, and the checkpoint equals the manifest plus the updates.
public struct LogVerification: Codable, Sendable, Equatable {
    public var valid: Bool
    public var manifestSignatureValid: Bool
    public var chainValid: Bool
    /// Entries read from the log.
    public var entries: Int
    /// Tensors compared (the union of expected and present).
    public var tensorsChecked: Int
    public var problems: [LogProblem]
    public var differences: [TensorDifference]

    enum CodingKeys: String, CodingKey {
        case valid
        case manifestSignatureValid = "manifest_signature_valid"
        case chainValid = "chain_valid"
        case entries
        case tensorsChecked = "tensors_checked"
        case problems, differences
    }

    /// One line for a terminal.
    public var summary: String {
        if valid { return "valid: the checkpoint equals the manifest plus \(entries) signed update(s)" }
        var parts: [String] = []
        if !problems.isEmpty { parts.append("\(problems.count) log problem(s)") }
        if !differences.isEmpty { parts.append("\(differences.count) difference(s)") }
        return "NOT valid: " + parts.joined(separator: ", ")
    }
}
