import Foundation
import MoEModels
import TensorCore

/// A behavioural fingerprint for suspects whose weights moved far: which experts fire on probe inputs.
///
/// Both models run the same probe tokens; per sparse layer, each expert's firing pattern is the 0/1
/// vector over probe tokens of "chosen in the top-k". A suspect expert is compared with every original
/// expert by the Pearson correlation of their patterns (the phi coefficient: 0 for independent
/// routers, whatever their firing rates, where a plain overlap would reward busy experts), then paired
/// by a Hungarian assignment (merged experts fire where any member did, so they correlate with each).
/// Needs the same tokenizer; it says whether the suspect routes like the original, not why.
public enum RoutingFingerprint {
    public struct ExpertMatch: Codable, Sendable, Equatable {
        public var suspectExpert: Int
        public var originalExpert: Int
        public var correlation: Float

        enum CodingKeys: String, CodingKey {
            case suspectExpert = "suspect_expert"
            case originalExpert = "original_expert"
            case correlation
        }
    }

    public struct LayerReport: Codable, Sendable, Equatable {
        public var layer: Int
        public var matches: [ExpertMatch]
        public var meanCorrelation: Float

        enum CodingKeys: String, CodingKey {
            case layer, matches
            case meanCorrelation = "mean_correlation"
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var layers: [LayerReport]
        public var tokens: Int
        /// Mean over layers of the matched experts' correlation.
        public var meanCorrelation: Float

        enum CodingKeys: String, CodingKey {
            case layers, tokens
            case meanCorrelation = "mean_correlation"
        }
    }

    public static func compare(original: MoEModel, suspect: MoEModel, probes: [TokenBatch]) throws -> Report {
        let a = try firing(original, probes)
        let b = try firing(suspect, probes)
        let originalLayers = Dictionary(uniqueKeysWithValues: original.moeBlocks.enumerated().map { ($1.layer, $0) })
        var layers: [LayerReport] = []
        for (l, block) in suspect.moeBlocks.enumerated() {
            guard let o = originalLayers[block.layer] else {
                throw DefenseError.incomparable(reason: "layer \(block.layer) is sparse in the suspect only")
            }
            let similarity = b.patterns[l].map { s in a.patterns[o].map { correlation(s, $0) } }
            let assignment = ExpertAssignment.maximize(similarity)
            let matches = similarity.indices.map {
                ExpertMatch(
                    suspectExpert: $0, originalExpert: assignment[$0], correlation: similarity[$0][assignment[$0]])
            }
            let mean = matches.isEmpty ? 0 : matches.reduce(0) { $0 + $1.correlation } / Float(matches.count)
            layers.append(LayerReport(layer: block.layer, matches: matches, meanCorrelation: mean))
        }
        let mean = layers.isEmpty ? 0 : layers.reduce(0) { $0 + $1.meanCorrelation } / Float(layers.count)
        return Report(layers: layers, tokens: a.tokens, meanCorrelation: mean)
    }

    /// Per sparse layer, per expert, the 0/1 firing pattern over the probe tokens.
    static func firing(_ model: MoEModel, _ probes: [TokenBatch]) throws -> (patterns: [[[Float]]], tokens: Int) {
        let recorder = FiringRecorder(layers: model.moeBlocks.map { ($0.layer, $0.expertCount) })
        for batch in probes { _ = try model.finalHiddenStates(batch, observer: recorder) }
        return (recorder.patterns, recorder.tokens)
    }

    static func correlation(_ x: [Float], _ y: [Float]) -> Float {
        let n = Float(x.count)
        guard n > 1 else { return 0 }
        let mx = x.reduce(0, +) / n
        let my = y.reduce(0, +) / n
        var sxy: Float = 0, sxx: Float = 0, syy: Float = 0
        for i in x.indices {
            sxy += (x[i] - mx) * (y[i] - my)
            sxx += (x[i] - mx) * (x[i] - mx)
            syy += (y[i] - my) * (y[i] - my)
        }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }
}

final class FiringRecorder: RoutingObserver {
    let position: [Int: Int]
    var patterns: [[[Float]]]
    var tokens = 0

    init(layers: [(layer: Int, experts: Int)]) {
        position = Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($1.layer, $0) })
        patterns = layers.map { [[Float]](repeating: [], count: $0.experts) }
    }

    func observeRouting(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor, batch: TokenBatch) {
        guard let l = position[layer] else { return }
        let k = weights.lastDim
        let rows = (0..<batch.tokenCount).filter { batch.isValid(row: $0) }
        if l == 0 { tokens += rows.count }
        for r in rows {
            let chosen = Set(experts[(r * k)..<((r + 1) * k)])
            for e in patterns[l].indices { patterns[l][e].append(chosen.contains(e) ? 1 : 0) }
        }
    }

    func observeExpertOutput(
        layer: Int, expert: Int, rows: [Int], slots: [Int], outputNorms: [Float], batch: TokenBatch
    ) {}
}
