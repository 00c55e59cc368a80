import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// The monitor on synthetic traffic whose routing is pinned: four "topics", each a distribution
/// over 8 experts; benign clients draw each request's topic at random, attackers stay on one.
struct ProbeMonitorTests {
    static let shape = RoutingShape(
        signature: ModelSignature(
            config: ModelConfig(
                modelType: "mixtral", vocabSize: 10, hiddenSize: 8, intermediateSize: 8, numHiddenLayers: 2,
                numAttentionHeads: 2, numExperts: 8)),
        topK: 2, normTopKProb: true)

    /// A request of `tokens` tokens whose top-2 experts come from `topic` (experts 2·topic, 2·topic+1
    /// most of the time, any expert otherwise).
    static func request(client: String, topic: Int, tokens: Int, rng: inout SplitMix64) -> RoutingTrace {
        var ids: [Int32] = []
        for _ in 0..<tokens {
            for _ in 0..<2 {
                let first = rng.next() % 10 < 6 ? 2 * topic : Int(rng.next() % 8)
                let second = (first + 1 + Int(rng.next() % 7)) % 8
                ids += [Int32(first), Int32(second)]
            }
        }
        return RoutingTrace(
            request: "r", client: client, format: .vllm, tokens: tokens, layers: 2, topK: 2, experts: ids)
    }

    static func traffic(benign: Int, attackers: Int, requests: Int, seed: UInt64) -> [RoutingTrace] {
        var rng = SplitMix64(seed: seed)
        var out: [RoutingTrace] = []
        for c in 0..<benign {
            for _ in 0..<requests {
                out.append(request(client: "benign-\(c)", topic: Int(rng.next() % 4), tokens: 20, rng: &rng))
            }
        }
        for c in 0..<attackers {
            for _ in 0..<requests { out.append(request(client: "attacker-\(c)", topic: 3, tokens: 20, rng: &rng)) }
        }
        return out
    }

    @Test func attackersAreFlaggedAndBenignClientsAreNot() {
        var parameters = ProbeMonitor.Parameters()
        parameters.nullSamples = 60
        let scores = ProbeMonitor.scores(
            traces: Self.traffic(benign: 20, attackers: 3, requests: 30, seed: 1), shape: Self.shape,
            parameters: parameters)
        let attackers = scores.filter { $0.client.hasPrefix("attacker") }
        let benign = scores.filter { $0.client.hasPrefix("benign") }
        #expect(attackers.count == 3 && benign.count == 20)
        #expect(attackers.allSatisfy { $0.flagged && $0.detectedAfter != nil }, "\(attackers.map(\.score))")
        #expect(benign.allSatisfy { !$0.flagged }, "\(benign.map(\.score))")
        #expect(attackers.map(\.score).min()! > benign.map(\.score).max()!)
        #expect(attackers.allSatisfy { $0.detectedAfter! >= parameters.minRequests && $0.detectedAfter! <= 30 })
        #expect(scores.allSatisfy { $0.coverage > 0.9 })  // everyone reaches every expert
    }

    @Test func tooFewRequestsAreScoredButNotFlagged() {
        let scores = ProbeMonitor.scores(
            traces: Self.traffic(benign: 10, attackers: 1, requests: 4, seed: 2), shape: Self.shape)
        #expect(scores.allSatisfy { !$0.flagged && $0.detectedAfter == nil })
    }

    @Test func aReferenceBaselineIsUsedWhenGiven() {
        let reference = Self.traffic(benign: 10, attackers: 0, requests: 20, seed: 3)
        var parameters = ProbeMonitor.Parameters()
        parameters.nullSamples = 40
        let alone = ProbeMonitor.scores(
            traces: Self.traffic(benign: 0, attackers: 1, requests: 30, seed: 4), shape: Self.shape,
            reference: reference, parameters: parameters)
        #expect(alone.count == 1 && alone[0].flagged)
    }
}
