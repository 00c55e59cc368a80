import Testing

@testable import TensorCore

/// A tensor of uniform values in [-scale, scale) from a fixed seed.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape: shape, data: (0..<Tensor.count(of: shape)).map { _ in (2 * rng.nextFloat() - 1) * scale })
}

/// A trainable leaf with random values.
func parameter(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Variable {
    Variable(randomTensor(shape, seed: seed, scale: scale), requiresGrad: true)
}

/// Largest |a − b| / max(|b|, floor) over two equally shaped tensors.
func maxRelativeError(_ a: Tensor, _ b: Tensor, floor: Float = 1e-6) -> Float {
    precondition(a.shape == b.shape, "shape \(a.shape) vs \(b.shape)")
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a.data[i] - b.data[i]) / max(abs(b.data[i]), floor)) }
    return worst
}

/// Finite-difference gradient check (central differences).
///
/// The scalar loss is Σ output ⊙ W for fixed random weights W, accumulated in Double, so every
/// output element contributes with its own weight. For each input that requires a gradient, the
/// analytic gradient (backward seeded with W) is compared with (L(x+h) − L(x−h)) / 2h element by
/// element; the error of a tensor is ‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖, 1e-6).
/// `build` must recompute the op from the inputs' current values.
@discardableResult
func checkGradients(
    _ inputs: [Variable], step: Float = 1e-2, tolerance: Double = 1e-3, seed: UInt64 = 977,
    sourceLocation: SourceLocation = #_sourceLocation, _ build: () -> Variable
) -> [Double] {
    let output = build()
    let weights = randomTensor(output.shape, seed: seed)
    func loss() -> Double {
        let y = build().value
        var total: Double = 0
        for i in 0..<y.count { total += Double(y.data[i]) * Double(weights.data[i]) }
        return total
    }
    for x in inputs { x.zeroGrad() }
    output.backward(seed: weights)
    var errors: [Double] = []
    for (n, x) in inputs.enumerated() where x.requiresGrad {
        let analytic = x.grad ?? Tensor.zeros(x.shape)
        var numeric = [Double](repeating: 0, count: x.value.count)
        for j in 0..<x.value.count {
            let saved = x.value.data[j]
            x.value.data[j] = saved + step
            let up = x.value.data[j]
            let lossUp = loss()
            x.value.data[j] = saved - step
            let down = x.value.data[j]
            let lossDown = loss()
            x.value.data[j] = saved
            numeric[j] = (lossUp - lossDown) / Double(up - down)
        }
        var difference: Double = 0
        var normA: Double = 0
        var normN: Double = 0
        for j in 0..<numeric.count {
            let a = Double(analytic.data[j])
            difference += (a - numeric[j]) * (a - numeric[j])
            normA += a * a
            normN += numeric[j] * numeric[j]
        }
        let error = difference.squareRoot() / max(normA.squareRoot(), normN.squareRoot(), 1e-6)
        #expect(
            error <= tolerance, "input \(n) \(x.shape): relative gradient error \(error)",
            sourceLocation: sourceLocation)
        errors.append(error)
        x.zeroGrad()
    }
    return errors
}
