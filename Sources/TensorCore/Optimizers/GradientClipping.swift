/// Scales all gradients together so their global Euclidean norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_`: coefficient maxNorm / (norm + 1e-6), applied when below 1.
/// Returns the total norm before clipping. Parameters without a gradient are ignored.
@discardableResult
public func clipGradNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
    var squares: Double = 0
    for p in parameters {
        guard let g = p.grad else { continue }
        let norm = Double(g.l2Norm())  // PyTorch: norm per tensor in Float, then norm of the norms
        squares += norm * norm
    }
    let total = Float(squares.squareRoot())
    let coefficient = maxNorm / (total + 1e-6)
    // `!(c >= 1)` also scales when the norm is NaN, poisoning the step visibly as PyTorch does.
    if !(coefficient >= 1) {
        for p in parameters where p.grad != nil { p.grad!.scale(by: coefficient) }
    }
    return total
}
