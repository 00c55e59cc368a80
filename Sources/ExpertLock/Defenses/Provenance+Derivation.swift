import Foundation
import MoEModels
import TensorCore

/// Provenance that sees through merging, inner pruning, channel permutation and re-quantisation: for
/// each suspect expert, which original experts it was made from and how.
///
/// Each original expert is aligned to the suspect expert channel by channel (`ExpertChannels`: a
/// Hungarian matching of the (gate row, up row, down column) vectors; a partial permutation when the
/// suspect has fewer channels), then non-negative mixing weights over the aligned originals are solved
/// for (NNLS: min ‖s − Σ_o w_o·A_o‖², w ≥ 0). The reconstruction's cosine with the suspect expert is
/// its similarity; the verdict bands (`Thresholds`) judge it corrected for chance,
/// score = (similarity − chance) / (1 − chance), where chance is the highest similarity at which the
/// same procedure explains one original expert by the other experts of its layer (experts that share
/// no lineage, in the very layer and sizes compared). The weights normalised to sum to 1 say what the
/// suspect expert was made of:
/// - one source with weight ≥ `mergeShare` … a copy (channels in place), a permuted copy, or a channel
///   subset (inner pruning: fewer channels than the original);
/// - several sources above `mergeShare` … a merge, with their mixing weights (alignments refined against the
///   residuals, `refineMerge`, so that light members keep their weight).
/// Annotations: a suspect whose values lie on a per-row int8 grid or an amax-scaled FP8 (e4m3) grid is a
/// re-quantised copy; one whose projections have a numerical rank below their sizes is low-rank.
///
/// Why alignment: merging averages channels (after permuting them onto a centroid, for aligned merges)
/// and inner pruning deletes them, so a derived expert's flattened weights no longer line up with any
/// single original's; its channels still do, one to one. The cost is the chance level: aligning two
/// unrelated experts picks the best of I random channel pairings, so the aligned cosine of unrelated
/// experts is about √(2 ln I / 3C) (0.22 for I = 128, C = 64; 0.04 for C = 2048), above the plain
/// flattened cosine's 1/√n, and mixing several originals raises it further: hence the measured chance
/// level and the corrected score (figures in docs/PROVENANCE_DERIVATIVES.md).
extension Provenance {
    public enum DerivationKind: String, Codable, Sendable {
        case copy
        case permutedCopy = "permuted copy"
        case channelSubset = "channel subset"
        case merge
        case unexplained
    }

    public struct Source: Codable, Sendable, Equatable {
        public var originalExpert: Int
        /// Mixing weight normalised over the sources (sums to 1).
        public var weight: Double

        enum CodingKeys: String, CodingKey {
            case originalExpert = "original_expert"
            case weight
        }
    }

    public struct ExpertOrigin: Codable, Sendable, Equatable {
        public var suspectExpert: Int
        public var kind: DerivationKind
        /// Originals with a normalised mixing weight ≥ `mergeShare`, heaviest first.
        public var sources: [Source]
        /// Every original's normalised mixing weight, indexed by original expert (0 where NNLS gives none):
        /// the whole solution, small members included, for scoring against a known merge plan.
        public var mixingWeights: [Double]
        /// Cosine of the NNLS reconstruction with the suspect expert.
        public var similarity: Float
        /// (similarity − chance) / (1 − chance): what the verdict bands judge.
        public var score: Float
        /// The best single aligned original's cosine (the evidence without mixing).
        public var bestSingleSimilarity: Float
        public var channels: Int
        public var originalChannels: Int
        /// "int8 (per-row)", or "fp8-e4m3" with "(per-row)", "(per-tensor)" or "(B×B blocks)", when the values lie
        /// on such a grid.
        public var quantization: String?
        /// The largest numerical rank of the three projections, when below min(I, C).
        public var rank: Int?
        public var verdict: Verdict

        enum CodingKeys: String, CodingKey {
            case suspectExpert = "suspect_expert"
            case kind, sources
            case mixingWeights = "mixing_weights"
            case similarity, score
            case bestSingleSimilarity = "best_single_similarity"
            case channels
            case originalChannels = "original_channels"
            case quantization, rank, verdict
        }
    }

    public struct LayerDerivation: Codable, Sendable, Equatable {
        public var layer: Int
        /// The highest similarity at which an original expert is explained by the layer's other experts.
        public var chance: Float
        public var experts: [ExpertOrigin]
        public var verdict: Verdict
    }

    public struct DerivationReport: Codable, Sendable, Equatable {
        public var verdict: Verdict
        public var layers: [LayerDerivation]
        public var thresholds: Thresholds
        public var mergeShare: Double

        enum CodingKeys: String, CodingKey {
            case verdict, layers, thresholds
            case mergeShare = "merge_share"
        }
    }

    /// Explains every suspect expert by the original experts of the same layer.
    public static func explain(
        original: MoEModel, suspect: MoEModel, thresholds: Thresholds = Thresholds(), mergeShare: Double = 0.1
    ) throws -> DerivationReport {
        guard original.config.hiddenSize == suspect.config.hiddenSize else {
            throw DefenseError.incomparable(
                reason: "hidden sizes differ (\(original.config.hiddenSize) vs \(suspect.config.hiddenSize))")
        }
        let originalBlocks = Dictionary(original.moeBlocks.map { ($0.layer, $0) }, uniquingKeysWith: { a, _ in a })
        var layers: [LayerDerivation] = []
        for (l, block) in suspect.moeBlocks.enumerated() {
            guard let reference = originalBlocks[block.layer] else {
                throw DefenseError.incomparable(reason: "layer \(block.layer) is sparse in the suspect only")
            }
            let originals = try reference.experts.map { try ExpertChannels($0) }
            var chance: Float = 0
            for o in originals.indices where originals.count > 1 {
                var others = originals
                others.remove(at: o)
                let null = explain(
                    originals[o], originals: others, thresholds: thresholds, mergeShare: mergeShare, chance: 0,
                    refine: false)
                chance = max(chance, null.similarity)
            }
            chance = min(chance, 0.99)
            let active = (0..<block.expertCount).filter { suspect.expertMask?[l][$0] ?? true }
            var origins: [ExpertOrigin] = []
            for s in active {
                let expert = block.experts[s]
                let channels = try ExpertChannels(expert)
                var origin = explain(
                    channels, originals: originals, thresholds: thresholds, mergeShare: mergeShare, chance: chance)
                origin.suspectExpert = s
                origin.quantization = try Self.quantizationGrid(expert)
                origin.rank = try Self.reducedRank(expert)
                origins.append(origin)
            }
            layers.append(
                LayerDerivation(
                    layer: block.layer, chance: chance, experts: origins, verdict: combined(origins.map(\.verdict))))
        }
        return DerivationReport(
            verdict: combined(layers.map(\.verdict)), layers: layers, thresholds: thresholds, mergeShare: mergeShare)
    }

    static func combined(_ verdicts: [Verdict]) -> Verdict {
        verdicts.contains(.derived) ? .derived : verdicts.allSatisfy { $0 == .notDerived } ? .notDerived : .inconclusive
    }

    /// One suspect expert against the aligned originals. With `refine`, an expert judged derived whose fit is not
    /// exact has its alignments refined against the residuals (`refineMerge`), kept when the expert is explained
    /// as a merge (≥ 2 sources) or the refinement explains ≥ 90 % of what was left: only its weights and similarity
    /// can change, never a verdict (the score only rises above the derived band it is in); everything not derived
    /// and the chance level (computed without it) stay as they are.
    static func explain(
        _ suspect: ExpertChannels, originals: [ExpertChannels], thresholds: Thresholds, mergeShare: Double,
        chance: Float, refine: Bool = true
    ) -> ExpertOrigin {
        let target = suspect.rows.data
        var aligned: [[Float]] = []
        var permuted: [Bool] = []
        for o in originals {
            guard o.hiddenSize == suspect.hiddenSize else {
                aligned.append([Float](repeating: 0, count: target.count))
                permuted.append(false)
                continue
            }
            // Identity first: a copy in place needs no matching (and the matching of a copy is the identity).
            if o.channelCount == suspect.channelCount, cosine(target, o.rows.data) >= 0.9 {
                aligned.append(o.rows.data)
                permuted.append(false)
                continue
            }
            let order = suspect.alignment(to: o)
            aligned.append(o.selecting(order).rows.data)
            permuted.append(order != Array(0..<suspect.channelCount))
        }
        let singles = aligned.map { cosine(target, $0) }
        let best = singles.indices.max { singles[$0] < singles[$1] } ?? 0
        var weights = nonNegativeLeastSquares(columns: aligned, target: target)
        var similarity = reconstructionCosine(target: target, columns: aligned, weights: weights)
        let bestSingle = singles.isEmpty ? 0 : singles[best]
        let firstTotal = weights.reduce(0, +)
        if refine, firstTotal > 0, weights.filter({ $0 > 0 }).count > 1, similarity < 0.9999,
            thresholds.verdict((max(similarity, bestSingle) - chance) / (1 - chance)) == .derived
        {
            var (a, p, w, c) = (aligned, permuted, weights, similarity)
            refineMerge(suspect: suspect, originals: originals, aligned: &a, permuted: &p, weights: &w, similarity: &c)
            // Kept for an expert the first solve already explains as a merge, or when the refinement explains
            // at least nine tenths of what the first solve left unexplained (1 − cos²): a merge whose light
            // member the first alignment missed. Fine-tuning noise is not a permuted original, so a fine-tuned
            // copy's residual is not explained that way and its first explanation stays.
            let merge = weights.filter { $0 / firstTotal >= mergeShare }.count > 1
            if merge || 1 - c * c <= 0.1 * (1 - similarity * similarity) {
                (aligned, permuted, weights, similarity) = (a, p, w, c)
            }
        }
        let total = weights.reduce(0, +)
        similarity = max(similarity, bestSingle)
        var sources = weights.enumerated().filter { total > 0 && $0.element / total >= mergeShare }
            .map { Source(originalExpert: $0.offset, weight: $0.element / total) }
            .sorted { $0.weight > $1.weight }
        if sources.isEmpty, !singles.isEmpty { sources = [Source(originalExpert: best, weight: 1)] }
        let score = (similarity - chance) / (1 - chance)
        let verdict = thresholds.verdict(score)
        let originalChannels = originals.isEmpty ? 0 : originals[sources[0].originalExpert].channelCount
        let kind: DerivationKind
        if verdict != .derived {
            kind = .unexplained
        } else if sources.count > 1 {
            kind = .merge
        } else if suspect.channelCount < originalChannels {
            kind = .channelSubset
        } else {
            kind = permuted[sources[0].originalExpert] ? .permutedCopy : .copy
        }
        return ExpertOrigin(
            suspectExpert: 0, kind: kind, sources: sources, mixingWeights: weights.map { total > 0 ? $0 / total : 0 },
            similarity: similarity, score: score,
            bestSingleSimilarity: singles.isEmpty ? 0 : singles[best], channels: suspect.channelCount,
            originalChannels: originalChannels, quantization: nil, rank: nil, verdict: verdict)
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in a.indices {
            dot += Double(a[i] * b[i])
            na += Double(a[i] * a[i])
            nb += Double(b[i] * b[i])
        }
        return na > 0 && nb > 0 ? Float(dot / (na * nb).squareRoot()) : 0
    }

    /// min ‖target − Σ w_o·columns[o]‖² subject to w ≥ 0, by cyclic coordinate descent on the Gram
    /// matrix (each step solves one coordinate exactly and clips at 0; converges for the convex problem).
    static func nonNegativeLeastSquares(columns: [[Float]], target: [Float], sweeps: Int = 2000) -> [Double] {
        let m = columns.count
        var gram = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        var b = [Double](repeating: 0, count: m)
        for i in 0..<m {
            for j in i..<m {
                var s = 0.0
                for t in columns[i].indices { s += Double(columns[i][t] * columns[j][t]) }
                gram[i][j] = s
                gram[j][i] = s
            }
            for t in target.indices { b[i] += Double(columns[i][t] * target[t]) }
        }
        var w = [Double](repeating: 0, count: m)
        for _ in 0..<sweeps {
            var change = 0.0
            for i in 0..<m where gram[i][i] > 0 {
                var g = b[i]
                for j in 0..<m where j != i { g -= gram[i][j] * w[j] }
                let next = max(0, g / gram[i][i])
                change = max(change, abs(next - w[i]))
                w[i] = next
            }
            if change < 1e-10 { break }
        }
        return w
    }

    /// "int8 (per-row)" when every row of every projection is a multiple of max|row| / 127; "fp8-e4m3
    /// (per-row)" or "(per-tensor)" when every value divided by amax / 448 is an e4m3 number; "fp8-e4m3
    /// (B×B blocks)" when that holds in every B × B block (B = 128, 64, 32 or 16: the block-scaled layout
    /// transformers' FineGrainedFP8 and the DeepSeek / Kimi / MiniMax releases store, 128 × 128 there;
    /// edge blocks may be partial, as DeepSeek's kernel allows); nil otherwise.
    static func quantizationGrid(_ expert: Expert) throws -> String? {
        let matrices = try [expert.gate, expert.up, expert.down].map { try $0.tensor() }
        func rows(_ t: Tensor) -> [ArraySlice<Float>] {
            (0..<t.rows).map { t.data[($0 * t.lastDim)..<(($0 + 1) * t.lastDim)] }
        }
        func blocks(_ t: Tensor, _ b: Int) -> [[Float]] {
            stride(from: 0, to: t.rows, by: b).flatMap { r0 in
                stride(from: 0, to: t.lastDim, by: b).map { c0 in
                    (r0..<min(r0 + b, t.rows)).flatMap { r in
                        t.data[(r * t.lastDim + c0)..<(r * t.lastDim + min(c0 + b, t.lastDim))]
                    }
                }
            }
        }
        func onGrid(_ values: ArraySlice<Float>, levels: Float, e4m3: Bool) -> Bool {
            let amax = values.reduce(0) { max($0, abs($1)) }
            guard amax > 0 else { return true }
            let scale = amax / levels
            return values.allSatisfy { v in
                let q = v / scale
                return e4m3 ? isE4M3(q) : abs(q - q.rounded()) < 2e-3
            }
        }
        if matrices.allSatisfy({ rows($0).allSatisfy { onGrid($0, levels: 127, e4m3: false) } }) {
            return "int8 (per-row)"
        }
        if matrices.allSatisfy({ rows($0).allSatisfy { onGrid($0, levels: 448, e4m3: true) } }) {
            return "fp8-e4m3 (per-row)"
        }
        if matrices.allSatisfy({ onGrid($0.data[...], levels: 448, e4m3: true) }) { return "fp8-e4m3 (per-tensor)" }
        // Only the block size the weights were quantized with puts every block on the grid (most sub-blocks'
        // own amax is smaller), so the sizes are simply tried in turn; one covering every matrix is per-tensor.
        for b in [128, 64, 32, 16] where matrices.contains(where: { $0.rows > b || $0.lastDim > b }) {
            if matrices.allSatisfy({ blocks($0, b).allSatisfy { onGrid($0[...], levels: 448, e4m3: true) } }) {
                return "fp8-e4m3 (\(b)×\(b) blocks)"
            }
        }
        return nil
    }

    /// Whether |q| ≤ 448 is (up to float rounding) an e4m3 value: 3 mantissa bits, exponents −6…8.
    static func isE4M3(_ q: Float) -> Bool {
        let a = abs(q)
        guard a > 0 else { return true }
        let exponent = max(-6, Int(Foundation.floor(Foundation.log2(a))))
        let step = Foundation.pow(2, Float(exponent - 3))
        let m = a / step
        return abs(m - m.rounded()) < 2e-3 * max(1, m)
    }

    /// The largest numerical rank of the projections (pivoted elimination on the Gram matrix, relative
    /// tolerance 1e-6), when it is below the full rank min(I, C); nil for full-rank experts.
    static func reducedRank(_ expert: Expert) throws -> Int? {
        var largest = 0
        var full = 0
        for p in [expert.gate, expert.up, expert.down] {
            let t = try p.tensor()
            let (r, c) = (t.rows, t.lastDim)
            let small = min(r, c)
            full = max(full, small)
            // Gram of the smaller side: [small, small].
            let a = r <= c ? t : Tensor(shape: [c, r], data: (0..<(c * r)).map { t.data[($0 % r) * c + $0 / r] })
            var g = Gemm.matmul(a, a, transposeB: true).data.map(Double.init)
            let n = small
            let top = (0..<n).map { g[$0 * n + $0] }.max() ?? 0
            guard top > 0 else { continue }
            var rank = 0
            var used = [Bool](repeating: false, count: n)
            for _ in 0..<n {
                guard let p = (0..<n).filter({ !used[$0] }).max(by: { g[$0 * n + $0] < g[$1 * n + $1] }),
                    g[p * n + p] > 1e-6 * top
                else { break }
                used[p] = true
                rank += 1
                let pivot = g[p * n + p]
                let column = (0..<n).map { g[$0 * n + p] }
                for i in 0..<n where !used[i] {
                    for j in 0..<n where !used[j] { g[i * n + j] -= column[i] * column[j] / pivot }
                }
            }
            largest = max(largest, rank)
        }
        return largest < full ? largest : nil
    }
}
