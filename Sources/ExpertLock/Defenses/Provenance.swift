import Foundation
import MoEModels
import TensorCore

/// Provenance of a suspect MoE: does it keep experts of an original model?
///
/// For each sparse layer, every suspect expert is compared with every original expert of the same
/// layer by the cosine similarity of their flattened weights (gate, up and down concatenated);
/// a permutation-aware assignment (`ExpertAssignment`, Hungarian) then pairs each suspect expert with
/// a distinct original expert so that the total similarity is highest, because pruning by removal
/// renumbers the experts it keeps. Each pair gets a verdict from its similarity, each layer from its
/// pairs, the model from its layers (see `Thresholds`).
///
/// Why the flattened cosine survives re-alignment: a derivative keeps the original's embeddings and
/// attention, hence its hidden-state basis, and fine-tuning at re-alignment budgets moves each weight
/// by a small fraction of its size; two independently trained models share no basis, so their
/// experts' weight vectors are nearly orthogonal (for n-dimensional unrelated vectors the cosine has
/// a standard deviation of about 1/√n, below 0.01 for the tiny test model and far below for real ones).
///
/// Limitation: the comparison is in weight space. A deliberate adversary can permute an expert's
/// intermediate neurons (or flip the signs of matching up/down rows and columns) without changing
/// its function, and the flattened cosine then falls to the level of unrelated experts; this check
/// detects pruned and re-aligned derivatives, not obfuscated ones.
public enum Provenance {
    /// Similarity bands.
    ///
    /// Calibration (`ProvenanceTests`; tiny Mixtral preset, 2 sparse layers × 8 experts of
    /// n = 3·128·64 = 24,576 weights, 300 steps on the built-in corpus with the byte encoder):
    ///
    /// - unrelated: a model trained from another seed on the same data has |cosine| ≤ 0.020 over all
    ///   128 expert pairs (mean of the Hungarian-matched pairs 0.008), about 3 × the 1/√n = 0.0064
    ///   scale of unrelated vectors, so training on the same data adds no measurable similarity;
    ///   inside a derivative, the pairs not matched stay at ≤ 0.030;
    /// - derived: pruning to 3 of 8 experts and fine-tuning every weight at the default learning
    ///   rate (1e-3) keeps the kept experts at 0.976–0.992 after 40 steps, 0.88–0.96 after 200,
    ///   0.68–0.90 after 600 (twice the pre-training); 200 steps at 3e-3 give 0.67–0.88, 200 steps
    ///   of experts only 0.81–0.95. Every kept expert was matched to its original in every case.
    ///
    /// `derived` = 0.5 is 25 × the largest unrelated similarity measured and below every derived
    /// one; `unrelated` = 0.2 is still 10 × the unrelated maximum. Between the two, a pair is
    /// inconclusive: more fine-tuning than measured here may erode the evidence, and calling it
    /// either way would be a guess. For real models n is 10⁴–10⁵ times larger, so the unrelated
    /// level is lower still and the same bands are conservative.
    public struct Thresholds: Sendable, Codable, Equatable {
        /// At or above: the suspect expert derives from its matched original expert.
        public var derived: Float = 0.5
        /// Below: the experts are unrelated. Between the two: inconclusive.
        public var unrelated: Float = 0.2

        public init(derived: Float = 0.5, unrelated: Float = 0.2) {
            self.derived = derived
            self.unrelated = unrelated
        }

        func verdict(_ similarity: Float) -> Verdict {
            similarity >= derived ? .derived : similarity < unrelated ? .notDerived : .inconclusive
        }
    }

    public enum Verdict: String, Codable, Sendable {
        case derived
        case notDerived = "not derived"
        case inconclusive
    }

    public struct ExpertMatch: Codable, Sendable, Equatable {
        public var suspectExpert: Int
        public var originalExpert: Int
        public var similarity: Float
        public var verdict: Verdict

        enum CodingKeys: String, CodingKey {
            case suspectExpert = "suspect_expert"
            case originalExpert = "original_expert"
            case similarity, verdict
        }
    }

    public struct LayerReport: Codable, Sendable, Equatable {
        /// Decoder layer index (an encoder-decoder's: the block over both stacks, encoder blocks first).
        public var layer: Int
        /// `encoder.3` / `decoder.1` in an encoder-decoder (absent for decoder-only models).
        public var name: String?
        public var matches: [ExpertMatch]
        public var meanSimilarity: Float
        /// The highest similarity of a suspect expert to an original expert it was not paired with:
        /// the unrelated level inside this very pair of models.
        public var backgroundMaximum: Float
        /// derived when some pair is derived; not derived when every pair is; else inconclusive.
        public var verdict: Verdict

        enum CodingKeys: String, CodingKey {
            case layer, name, matches
            case meanSimilarity = "mean_similarity"
            case backgroundMaximum = "background_maximum"
            case verdict
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        /// derived when some layer is derived; not derived when every layer is; else inconclusive.
        public var verdict: Verdict
        public var layers: [LayerReport]
        /// Per sparse layer, the original experts the suspect keeps (pairs judged derived).
        public var keptExperts: [[Int]]
        public var thresholds: Thresholds

        enum CodingKeys: String, CodingKey {
            case verdict, layers
            case keptExperts = "kept_experts"
            case thresholds
        }
    }

    public static func compare(original: MoEModel, suspect: MoEModel, thresholds: Thresholds = Thresholds()) throws
        -> Report
    {
        guard original.config.hiddenSize == suspect.config.hiddenSize else {
            throw DefenseError.incomparable(
                reason: "hidden sizes differ (\(original.config.hiddenSize) vs \(suspect.config.hiddenSize))")
        }
        return try compare(
            original: ExpertLayer.layers(of: original), suspect: ExpertLayer.layers(of: suspect),
            thresholds: thresholds)
    }

    /// One sparse layer as the weight-space comparison sees it: each expert's weight matrices (the same
    /// projections in every expert, in one order) and the experts its router may choose. Decoder-only families
    /// give (gate, up, down); an encoder-decoder's experts give (wi, wo) (`Provenance+EncoderDecoder`).
    public struct ExpertLayer {
        /// The layer's index (a decoder layer; an encoder-decoder's block over both stacks).
        public var layer: Int
        /// `encoder.3` / `decoder.1` for an encoder-decoder's layers (layers are then matched by name); nil for
        /// decoder-only models (matched by `layer`).
        public var name: String?
        public var experts: [[Parameter]]
        /// Experts a mask leaves to the router (`prune --mode mask`); the others are not part of the model.
        public var active: [Int]

        public init(layer: Int, name: String?, experts: [[Parameter]], active: [Int]) {
            self.layer = layer
            self.name = name
            self.experts = experts
            self.active = active
        }

        var key: String { name ?? "\(layer)" }

        static func layers(of model: MoEModel) -> [ExpertLayer] {
            model.moeBlocks.enumerated().map { l, block in
                ExpertLayer(
                    layer: block.layer, name: nil, experts: block.experts.map { Array($0.parameters.prefix(3)) },
                    active: (0..<block.expertCount).filter { model.expertMask?[l][$0] ?? true })
            }
        }
    }

    /// The comparison over any sparse layers: each suspect layer against the original layer of the same key.
    public static func compare(original: [ExpertLayer], suspect: [ExpertLayer], thresholds: Thresholds) throws
        -> Report
    {
        let originalLayers = Dictionary(original.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var layers: [LayerReport] = []
        for block in suspect {
            guard let reference = originalLayers[block.key] else {
                throw DefenseError.incomparable(reason: "layer \(block.key) is sparse in the suspect only")
            }
            let allRows = try similarityMatrix(original: reference.experts, suspect: block.experts)
            let similarity = block.active.map { allRows[$0] }
            let assignment = ExpertAssignment.maximize(similarity)
            var matches: [ExpertMatch] = []
            var background: Float = -1
            for (s, row) in similarity.enumerated() {
                let o = assignment[s]
                matches.append(
                    ExpertMatch(
                        suspectExpert: block.active[s], originalExpert: o, similarity: row[o],
                        verdict: thresholds.verdict(row[o])))
                for (j, value) in row.enumerated() where j != o { background = max(background, value) }
            }
            let mean = matches.isEmpty ? 0 : matches.reduce(0) { $0 + $1.similarity } / Float(matches.count)
            layers.append(
                LayerReport(
                    layer: block.layer, name: block.name, matches: matches, meanSimilarity: mean,
                    backgroundMaximum: background, verdict: combined(matches.map(\.verdict))))
        }
        let kept = layers.map { layer in layer.matches.filter { $0.verdict == .derived }.map(\.originalExpert).sorted()
        }
        return Report(
            verdict: combined(layers.map(\.verdict)), layers: layers, keptExperts: kept, thresholds: thresholds)
    }

    /// Cosine similarity [S, O] of each suspect expert's flattened (gate, up, down) with each
    /// original expert's. A pair whose projection shapes differ scores 0 (not comparable).
    public static func similarityMatrix(original: SparseMoEBlock, suspect: SparseMoEBlock) throws -> [[Float]] {
        try similarityMatrix(
            original: original.experts.map { Array($0.parameters.prefix(3)) },
            suspect: suspect.experts.map { Array($0.parameters.prefix(3)) })
    }

    /// Cosine similarity [S, O] of each suspect expert's flattened projections with each original expert's
    /// (`experts[i]`: expert i's projections, in one order). A pair whose shapes differ scores 0 (not comparable).
    /// Each original projection is converted once; suspect experts stream through one at a time.
    public static func similarityMatrix(original: [[Parameter]], suspect: [[Parameter]]) throws -> [[Float]] {
        let s = suspect.count
        let o = original.count
        var dots = [[Double]](repeating: [Double](repeating: 0, count: o), count: s)
        var suspectNorms = [Double](repeating: 0, count: s)
        var originalNorms = [Double](repeating: 0, count: o)
        var comparable = [[Bool]](repeating: [Bool](repeating: true, count: o), count: s)
        let projections = min(original.first?.count ?? 0, suspect.first?.count ?? 0)
        for projection in 0..<projections {
            let originals = try original.map { try $0[projection].tensor() }
            for (j, w) in originals.enumerated() { originalNorms[j] += dot(w, w) }
            for i in 0..<s {
                let w = try suspect[i][projection].tensor()
                suspectNorms[i] += dot(w, w)
                for j in 0..<o {
                    if w.shape == originals[j].shape {
                        dots[i][j] += dot(w, originals[j])
                    } else {
                        comparable[i][j] = false
                    }
                }
            }
        }
        return (0..<s).map { i in
            (0..<o).map { j in
                let norms = (suspectNorms[i] * originalNorms[j]).squareRoot()
                guard comparable[i][j], norms > 0 else { return 0 }
                return Float(dots[i][j] / norms)
            }
        }
    }

    /// Σ a·b in Double (Float partial sums over blocks of 4096, so long vectors stay accurate).
    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.count == b.count, "dot: \(a.count) vs \(b.count)")
        return a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                var total: Double = 0
                var start = 0
                while start < x.count {
                    let end = min(x.count, start + 4096)
                    var partial = SIMD8<Float>()
                    var i = start
                    while i + 8 <= end {
                        partial += SIMD8<Float>(x[(i)..<(i + 8)]) * SIMD8<Float>(y[(i)..<(i + 8)])
                        i += 8
                    }
                    var tail: Float = 0
                    while i < end {
                        tail += x[i] * y[i]
                        i += 1
                    }
                    total += Double(partial.sum() + tail)
                    start = end
                }
                return total
            }
        }
    }
}
