import TensorCore

/// A batch of token sequences, right-padded to one length: ids [B*T] row-major.
public struct TokenBatch: Sendable, Equatable {
    public var ids: [Int]
    public var batch: Int
    public var seq: Int
    /// Real length of each sequence (nil: all full). Padding positions take no part in attention
    /// keys and are skipped by attribution.
    public var lengths: [Int]?

    public init(ids: [Int], batch: Int, seq: Int, lengths: [Int]? = nil) {
        precondition(ids.count == batch * seq, "TokenBatch: \(ids.count) ids for \(batch)×\(seq)")
        self.ids = ids
        self.batch = batch
        self.seq = seq
        self.lengths = lengths
    }

    /// One sequence.
    public init(_ ids: [Int]) { self.init(ids: ids, batch: 1, seq: ids.count) }

    /// Pads sequences of different lengths on the right with `pad`.
    public init(padding sequences: [[Int]], pad: Int = 0) {
        let t = sequences.map(\.count).max() ?? 0
        var ids: [Int] = []
        ids.reserveCapacity(sequences.count * t)
        for s in sequences { ids += s + [Int](repeating: pad, count: t - s.count) }
        let lengths = sequences.map(\.count)
        self.init(ids: ids, batch: sequences.count, seq: t, lengths: lengths.allSatisfy { $0 == t } ? nil : lengths)
    }

    public var tokenCount: Int { ids.count }

    /// Whether row `r` (= b*T + t) is a real token, not padding.
    public func isValid(row r: Int) -> Bool {
        guard let lengths else { return true }
        return r % seq < lengths[r / seq]
    }

    /// Position of each row within its sequence.
    public var positions: [Int] { (0..<(batch * seq)).map { $0 % seq } }
}

/// Receives what the routers decide, for attribution (soft mass, top-k frequency, REAP scores).
/// Called during the forward pass, layer by layer; rows are tokens of the batch (b*T + t).
public protocol RoutingObserver: AnyObject {
    /// Router output of one sparse layer: probabilities [N, E] (softmax over all experts, after
    /// masking), chosen experts [N*K] and their gate weights [N, K].
    func observeRouting(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor, batch: TokenBatch)
    /// The output of one expert for the tokens routed to it: `rows[i]` is the token row, `slots[i]`
    /// the flat index row*K+s of its routing slot, `outputNorms[i]` = ‖expert output‖₂ before the gate.
    func observeExpertOutput(
        layer: Int, expert: Int, rows: [Int], slots: [Int], outputNorms: [Float], batch: TokenBatch)
    /// The input of one sparse block x [N, C] (after the post-attention norm), before its router runs:
    /// merging and inner pruning compute expert outputs and channel activations from it.
    func observeBlockInput(layer: Int, input: Tensor, batch: TokenBatch)
}

extension RoutingObserver {
    /// Most observers need only the routing.
    public func observeBlockInput(layer: Int, input: Tensor, batch: TokenBatch) {}
}
