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
        /// Decoder layer index.
        public var layer: Int
        public var matches: [ExpertMatch]
        public var meanSimilarity: Float
        /// The highest similarity of a suspect expert to an original expert it was not paired with:
        /// the unrelated level inside this very pair of models.
        public var backgroundMaximum: Float
        /// derived when some pair is derived; not derived when every pair is; else inconclusive.
        public var verdict: Verdict

        enum CodingKeys: String, CodingKey {
            case layer, matches
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
        let originalBlocks = Dictionary(original.moeBlocks.map { ($0.layer, $0) }, uniquingKeysWith: { a, _ in a })
        var layers: [LayerReport] = []
        for (l, block) in suspect.moeBlocks.enumerated() {
            guard let reference = originalBlocks[block.layer] else {
                throw DefenseError.incomparable(reason: "layer \(block.layer) is sparse in the suspect only")
            }
            // Experts a mask hides (`prune --mode mask`) are not part of the suspect's model: they
            // are left out, so a mask-pruned copy keeps only the experts its routers can choose.
            let active = (0..<block.expertCount).filter { suspect.expertMask?[l][$0] ?? true }
            let allRows = try similarityMatrix(original: reference, suspect: block)
            let similarity = active.map { allRows[$0] }
            let assignment = ExpertAssignment.maximize(similarity)
            var matches: [ExpertMatch] = []
            var background: Float = -1
            for (s, row) in similarity.enumerated() {
                let o = assignment[s]
                matches.append(
                    ExpertMatch(
                        suspectExpert: active[s], originalExpert: o, similarity: row[o],
                        verdict: thresholds.verdict(row[o])))
                for (j, value) in row.enumerated() where j != o { background = max(background, value) }
            }
            let verdicts = matches.map(\.verdict)
            let verdict: Verdict =
                verdicts.contains(.derived)
                ? .derived : verdicts.allSatisfy { $0 == .notDerived } ? .notDerived : .inconclusive
            let mean = matches.isEmpty ? 0 : matches.reduce(0) { $0 + $1.similarity } / Float(matches.count)
            layers.append(
                LayerReport(
                    layer: block.layer, matches: matches, meanSimilarity: mean, backgroundMaximum: background,
                    verdict: verdict))
        }
        let verdicts = layers.map(\.verdict)
        let verdict: Verdict =
            verdicts.contains(.derived)
            ? .derived : verdicts.allSatisfy { $0 == .notDerived } ? .notDerived : .inconclusive
        let kept = layers.map { layer in layer.matches.filter { $0.verdict == .derived }.map(\.originalExpert).sorted()
        }
        return Report(verdict: verdict, layers: layers, keptExperts: kept, thresholds: thresholds)
    }

    /// Cosine similarity [S, O] of each suspect expert's flattened (gate, up, down) with each
    /// original expert's. A pair whose projection shapes differ scores 0 (not comparable).
    /// Each original projection is converted once; suspect experts stream through one at a time.
    public static func similarityMatrix(original: SparseMoEBlock, suspect: SparseMoEBlock) throws -> [[Float]] {
        let s = suspect.expertCount
        let o = original.expertCount
        var dots = [[Double]](repeating: [Double](repeating: 0, count: o), count: s)
        var suspectNorms = [Double](repeating: 0, count: s)
        var originalNorms = [Double](repeating: 0, count: o)
        var comparable = [[Bool]](repeating: [Bool](repeating: true, count: o), count: s)
        for projection in 0..<3 {
            let originals = try original.experts.map { try $0.parameters[projection].tensor() }
            for (j, w) in originals.enumerated() { originalNorms[j] += dot(w, w) }
            for i in 0..<s {
                let w = try suspect.experts[i].parameters[projection].tensor()
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
