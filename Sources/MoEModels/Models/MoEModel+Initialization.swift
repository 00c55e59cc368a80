import Foundation
import TensorCore

extension MoEModel {
    /// A freshly initialised model for training from scratch, every weight resident (and frozen:
    /// the trainer decides what trains), as transformers' `_init_weights` with GPT-2's scaled
    /// residual projections:
    ///
    /// - norm weights 1, biases 0;
    /// - attention output (`o_proj`) and expert/MLP down projections ~ N(0, (σ / √(2·layers))²), so
    ///   the residual stream's variance does not grow with depth;
    /// - every other matrix (embeddings, q/k/v, gate/up, routers, lm_head) ~ N(0, σ²), σ = `initializerRange`.
    ///
    /// Each tensor draws from a generator seeded with `seed` and its own name, so a tensor's values do
    /// not depend on the order of construction or on the other tensors.
    public static func randomlyInitialized(config: ModelConfig, seed: UInt64, initializerRange: Float = 0.02) throws
        -> MoEModel
    {
        try config.validate()
        let residualScale = initializerRange / Float(2 * max(1, config.numHiddenLayers)).squareRoot()
        return try MoEModel(config: config) { name, shape in
            let value: Tensor
            if name.hasSuffix("norm.weight") {
                // Zero-centred norms scale by 1 + w (the gated norm inside linear attention is not one).
                let centered = config.zeroCenteredNorms && !name.hasSuffix("linear_attn.norm.weight")
                value = Tensor(shape: shape, repeating: centered ? 0 : 1)
            } else if name.hasSuffix(".dt_bias") {
                value = Tensor(shape: shape, repeating: 1)  // transformers: ones
            } else if name.hasSuffix(".A_log") {
                // transformers: log(A), A ~ U(0.01, 16).
                var rng = SplitMix64(seed: seed ^ nameHash(name))
                value = Tensor(shape: shape) { out in
                    for i in 0..<out.count { out[i] = Float(Foundation.log(Double(0.01 + 15.99 * rng.nextFloat()))) }
                }
            } else if name.hasSuffix(".bias") {
                value = Tensor.zeros(shape)
            } else {
                let std = isResidualOutput(name) ? residualScale : initializerRange
                var rng = SplitMix64(seed: seed ^ nameHash(name))
                value = Tensor(shape: shape) { out in
                    for i in 0..<out.count { out[i] = std * rng.nextGaussian() }
                }
            }
            return Parameter(name: name, value: value)
        }
    }

    /// Projections that write into the residual stream: attention `o_proj` and the down projection
    /// of experts, shared experts and dense MLPs (`down_proj`, Mixtral's `w2`).
    static func isResidualOutput(_ name: String) -> Bool {
        name.hasSuffix(".o_proj.weight") || name.hasSuffix(".down_proj.weight") || name.hasSuffix(".w2.weight")
    }
}
