import Foundation
import TensorCore

/// The model owner's side of attribution logging: which clients' routing looks like someone
/// mapping the experts of one task (docs/MONITOR.md).
///
/// An attacker logging attribution sends one task's corpus, request after request, so the
/// experts its tokens reach pile up on that task's experts: its pooled expert usage drifts away
/// from the model's general traffic and stays away. A benign client's requests vary, and its
/// pooled usage approaches the general traffic as its requests add up.
///
/// Score of a client with n requests: its divergence D = mean over sparse layers of the
/// Jensen–Shannon divergence (bits) between its pooled top-k frequencies and the general
/// traffic's (the reference traces, or every other client's), compared with the divergence of
/// `nullSamples` pseudo-clients drawn from the general traffic, each of as many tokens:
/// score = (ln D − mean ln D_null) / sd ln D_null. The pseudo-clients carry the sampling noise of
/// a client of that volume, so the score does not grow with volume or request length alone.
/// Coverage (the share of experts a client's tokens reached) is reported, not scored: benign
/// traffic reaches every expert too.
public enum ProbeMonitor {
    public struct Parameters: Sendable {
        /// Flag a client whose score reaches this (calibrated in docs/MONITOR.md: FPR ≤ 1% on benign traffic).
        public var threshold: Double = 4
        /// Clients with fewer requests are scored but never flagged.
        public var minRequests: Int = 8
        /// Pseudo-clients drawn per score.
        public var nullSamples: Int = 100
        public var seed: UInt64 = 0
        /// Also score every prefix of each client's requests (the request at which it would have
        /// been flagged online).
        public var online: Bool = true
        public init() {}
    }

    public struct ClientScore: Sendable, Equatable {
        public var client: String
        public var requests: Int
        public var tokens: Int
        /// Mean Jensen–Shannon divergence (bits) from the general traffic.
        public var divergence: Double
        public var score: Double
        public var flagged: Bool
        /// Mean over layers of the share of experts its tokens reached.
        public var coverage: Double
        /// The number of requests after which the score first reached the threshold (online), if it did.
        public var detectedAfter: Int?
    }

    /// Per-request expert counts, [L][E] flattened: what the monitor keeps of a trace.
    struct Usage {
        var counts: [Double]
        var tokens: Int
    }

    public static func scores(
        traces: [RoutingTrace], shape: RoutingShape, reference: [RoutingTrace]? = nil,
        parameters: Parameters = Parameters()
    ) -> [ClientScore] {
        let offsets = shape.signature.expertsPerLayer.reduce(into: [0]) { $0.append($0.last! + $1) }
        func usage(_ trace: RoutingTrace) -> Usage {
            var counts = [Double](repeating: 0, count: offsets.last!)
            for t in 0..<trace.tokens {
                for l in 0..<shape.layers {
                    for id in trace.experts(token: t, layer: l) { counts[offsets[l] + Int(id)] += 1 }
                }
            }
            return Usage(counts: counts, tokens: trace.tokens)
        }
        var byClient: [String: [Usage]] = [:]
        var order: [String] = []
        for trace in traces {
            let client = trace.client ?? ""
            if byClient[client] == nil { order.append(client) }
            byClient[client, default: []].append(usage(trace))
        }
        let referencePool = reference.map { $0.map(usage) }
        let all = order.flatMap { byClient[$0]! }
        let total = sum(all.map(\.counts), width: offsets.last!)
        var rng = SplitMix64(seed: parameters.seed)
        return order.map { client in
            let mine = byClient[client]!
            // The general traffic: the reference, or everyone else (a client is not its own baseline).
            let pool: [Usage]
            let general: [Double]
            if let referencePool {
                pool = referencePool
                general = sum(pool.map(\.counts), width: offsets.last!)
            } else {
                pool = order.filter { $0 != client }.flatMap { byClient[$0]! }
                let own = sum(mine.map(\.counts), width: offsets.last!)
                general = zip(total, own).map { $0 - $1 }
            }
            func score(_ requests: ArraySlice<Usage>) -> (divergence: Double, score: Double) {
                let d = divergence(sum(requests.map(\.counts), width: general.count), general, offsets: offsets)
                guard !pool.isEmpty else { return (d, 0) }
                var logs: [Double] = []
                // A pseudo-client has as many tokens as the client (whole requests, the last one
                // crossing the count), so short or long requests do not move the score.
                let target = requests.reduce(0) { $0 + $1.tokens }
                let most = max(1, 20 * requests.count)
                for _ in 0..<max(2, parameters.nullSamples) {
                    var counts = [Double](repeating: 0, count: general.count)
                    var tokens = 0
                    var draws = 0
                    while (tokens < target || draws == 0) && draws < most {
                        let u = pool[Int(rng.next() % UInt64(pool.count))]
                        for i in counts.indices { counts[i] += u.counts[i] }
                        tokens += u.tokens
                        draws += 1
                    }
                    logs.append(Foundation.log(max(divergence(counts, general, offsets: offsets), 1e-12)))
                }
                let mean = logs.reduce(0, +) / Double(logs.count)
                let sd = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logs.count - 1)).squareRoot()
                return (d, (Foundation.log(max(d, 1e-12)) - mean) / max(sd, 1e-9))
            }
            let whole = score(mine[...])
            var detected: Int?
            if parameters.online, mine.count >= max(1, parameters.minRequests) {
                for n in max(1, parameters.minRequests)...mine.count {
                    if score(mine[..<n]).score >= parameters.threshold {
                        detected = n
                        break
                    }
                }
            }
            let pooled = sum(mine.map(\.counts), width: general.count)
            let coverage =
                (0..<shape.layers).map { l in
                    Double((offsets[l]..<offsets[l + 1]).filter { pooled[$0] > 0 }.count)
                        / Double(offsets[l + 1] - offsets[l])
                }.reduce(0, +) / Double(max(shape.layers, 1))
            return ClientScore(
                client: client, requests: mine.count, tokens: mine.reduce(0) { $0 + $1.tokens },
                divergence: whole.divergence, score: whole.score,
                flagged: mine.count >= parameters.minRequests && whole.score >= parameters.threshold,
                coverage: coverage, detectedAfter: detected)
        }
    }

    static func sum(_ rows: [[Double]], width: Int) -> [Double] {
        var out = [Double](repeating: 0, count: width)
        for row in rows { for i in 0..<width { out[i] += row[i] } }
        return out
    }

    /// Mean over layers of JS(p‖q) in bits, p and q each normalised within a layer.
    static func divergence(_ p: [Double], _ q: [Double], offsets: [Int]) -> Double {
        var total = 0.0
        let layers = offsets.count - 1
        for l in 0..<layers {
            let range = offsets[l]..<offsets[l + 1]
            let sp = range.reduce(0.0) { $0 + p[$1] }
            let sq = range.reduce(0.0) { $0 + q[$1] }
            guard sp > 0, sq > 0 else { continue }
            var js = 0.0
            for i in range {
                let a = p[i] / sp
                let b = q[i] / sq
                let m = (a + b) / 2
                if a > 0 { js += 0.5 * a * Foundation.log2(a / m) }
                if b > 0 { js += 0.5 * b * Foundation.log2(b / m) }
            }
            total += js
        }
        return total / Double(max(layers, 1))
    }
}
