import Foundation
import TensorCore

/// Refining the alignments of an expert explained as a merge.
///
/// `explain` aligns every original to the whole suspect expert (cosine, Hungarian). In a merge the heavy members
/// dominate every channel, so a light member's channels are hardly visible in it and can pair wrongly; NNLS then
/// gives its weight to others (the derivative suite's hc-smoe case: members of weight 0.037 and 0.076 recovered as
/// 0.009 and 0.017). Here the same least squares, min over weights w ≥ 0 and alignments P_o of
/// ‖s − Σ_o w_o·P_o A_o‖², is minimised by alternating exact steps from that starting point:
/// - for fixed weights and the other alignments, the best P_o matches the channels of the residual
///   r = s − Σ_{p≠o} w_p·P_p A_p: ‖r − w_o·P A_o‖² = ‖r‖² − 2 w_o Σ_j ⟨r_j, A_{P(j)}⟩ + w_o² Σ_j ‖A_{P(j)}‖², so
///   P_o maximises Σ_j ⟨r_j, A_{P(j)}⟩ − (w_o / 2)‖A_{P(j)}‖² (a linear assignment; the second term is a
///   constant for a full permutation and matters for a channel subset; with w_o = 0 it is the direction in which
///   o would help most);
/// - for fixed alignments, NNLS gives the best weights.
/// Neither step can raise the objective, so a round is kept only when it lowers it (at the NNLS optimum the
/// objective is ‖s‖²(1 − cos²), so a higher reconstruction cosine) and the loop stops at the first round that does
/// not: it converges (finitely many alignments) and in practice within two or three rounds.
extension Provenance {
    /// Rounds of alternating minimisation at most (each is one assignment per original plus one NNLS).
    static let mergeRefinementRounds = 5

    /// Improves `aligned` (each original's channels as matched to the suspect), `permuted`, `weights` (raw NNLS)
    /// and `similarity` (the reconstruction's cosine) in place; leaves them untouched when nothing improves.
    static func refineMerge(
        suspect: ExpertChannels, originals: [ExpertChannels], aligned: inout [[Float]], permuted: inout [Bool],
        weights: inout [Double], similarity: inout Float
    ) {
        let target = suspect.rows.data
        let identity = Array(0..<suspect.channelCount)
        for _ in 0..<mergeRefinementRounds {
            var candidate = aligned
            var candidatePermuted = permuted
            var fitted = [Float](repeating: 0, count: target.count)
            for (o, w) in weights.enumerated() where w > 0 {
                for i in fitted.indices { fitted[i] += Float(w) * candidate[o][i] }
            }
            // One original at a time, each against the residual the others leave with their newest alignment.
            for (o, original) in originals.enumerated() where original.hiddenSize == suspect.hiddenSize {
                let w = Float(weights[o])
                var residual = target
                for i in residual.indices { residual[i] -= fitted[i] - w * candidate[o][i] }
                let order = leastSquaresAlignment(
                    residual: Tensor(shape: suspect.rows.shape, data: residual), original: original, weight: w)
                let next = original.selecting(order).rows.data
                for i in fitted.indices { fitted[i] += w * (next[i] - candidate[o][i]) }
                candidate[o] = next
                candidatePermuted[o] = order != identity
            }
            let refined = nonNegativeLeastSquares(columns: candidate, target: target)
            let refinedSimilarity = reconstructionCosine(target: target, columns: candidate, weights: refined)
            guard refinedSimilarity > similarity + 1e-6 else { return }
            (aligned, permuted, weights, similarity) = (candidate, candidatePermuted, refined, refinedSimilarity)
        }
    }

    /// For each channel j of `residual` [I_s, 3C], the channel of `original` it takes: the assignment maximising
    /// Σ_j ⟨r_j, a_{P(j)}⟩ − (weight / 2)‖a_{P(j)}‖² (a partial permutation when I_s < I_o).
    static func leastSquaresAlignment(residual: Tensor, original: ExpertChannels, weight: Float) -> [Int] {
        let dots = Gemm.matmul(residual, original.rows, transposeB: true)  // [I_s, I_o]
        let width = original.channelCount
        let norms = (0..<width).map { k in
            (0..<original.rows.lastDim).reduce(Float(0)) { s, t in
                let v = original.rows.data[k * original.rows.lastDim + t]
                return s + v * v
            }
        }
        let score = (0..<dots.rows).map { j in
            (0..<width).map { k in dots.data[j * width + k] - weight / 2 * norms[k] }
        }
        return ExpertAssignment.maximize(score)
    }

    /// Cosine of Σ_o weights[o]·columns[o] with the target; 0 without any weight.
    static func reconstructionCosine(target: [Float], columns: [[Float]], weights: [Double]) -> Float {
        guard weights.reduce(0, +) > 0 else { return 0 }
        var reconstruction = [Float](repeating: 0, count: target.count)
        for (o, w) in weights.enumerated() where w > 0 {
            for i in reconstruction.indices { reconstruction[i] += Float(w) * columns[o][i] }
        }
        return cosine(target, reconstruction)
    }
}
