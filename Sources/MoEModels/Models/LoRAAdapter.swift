// LoRA (Hu et al. 2021) in PEFT's layout: `lora_A` [r, in], `lora_B` [out, r], scaling alpha / r.
import Foundation
import TensorCore

/// A trainable low-rank update of one projection weight W [out, in]: the layer computes
/// x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ, never materialising B·A, so an adapter costs O(r·(in + out)) memory
/// and the frozen W stays bit-identical. B starts at zero, so a fresh adapter changes nothing.
public final class LoRAAdapter {
    /// Hugging Face name of the adapted weight, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public let baseName: String
    public let rank: Int
    public let alpha: Float
    /// Down projection A [r, in], named `<module>.lora_A.weight`.
    public let a: Parameter
    /// Up projection B [out, r], named `<module>.lora_B.weight`.
    public let b: Parameter

    /// The factor α/r applied to B·A.
    public var scale: Float { alpha / Float(rank) }

    /// A fresh adapter as PEFT initialises it: A uniform in ±1/√in (kaiming_uniform with a = √5),
    /// B = 0. Both are resident and trainable.
    public init(base: Parameter, rank: Int, alpha: Float, rng: inout SplitMix64) {
        precondition(base.shape.count == 2 && rank >= 1, "LoRA needs a matrix and rank ≥ 1: \(base.name) \(base.shape)")
        let (outFeatures, inFeatures) = (base.shape[0], base.shape[1])
        let bound = 1 / Float(inFeatures).squareRoot()
        var values = [Float](repeating: 0, count: rank * inFeatures)
        for i in values.indices { values[i] = (2 * rng.nextFloat() - 1) * bound }
        self.baseName = base.name
        self.rank = rank
        self.alpha = alpha
        let module = Self.moduleName(base.name)
        a = Parameter(
            name: "\(module).lora_A.weight", value: Tensor(shape: [rank, inFeatures], data: values), trainable: true)
        b = Parameter(name: "\(module).lora_B.weight", value: Tensor.zeros([outFeatures, rank]), trainable: true)
    }

    /// An adapter with given values (loaded from an adapter file).
    public init(baseName: String, alpha: Float, a: Tensor, b: Tensor, trainable: Bool) {
        precondition(
            a.shape.count == 2 && b.shape.count == 2 && a.shape[0] == b.shape[1], "LoRA: A \(a.shape), B \(b.shape)")
        self.baseName = baseName
        self.rank = a.shape[0]
        self.alpha = alpha
        let module = Self.moduleName(baseName)
        self.a = Parameter(name: "\(module).lora_A.weight", value: a, trainable: trainable)
        self.b = Parameter(name: "\(module).lora_B.weight", value: b, trainable: trainable)
    }

    public var parameters: [Parameter] { [a, b] }

    /// The module path of a weight name (`….q_proj.weight` -> `….q_proj`).
    public static func moduleName(_ weightName: String) -> String {
        weightName.hasSuffix(".weight") ? String(weightName.dropLast(".weight".count)) : weightName
    }

    /// (α/r)·B·A [out, in]: what merging adds to W.
    public func delta() throws -> Tensor {
        Gemm.matmul(try b.tensor(), try a.tensor()).scaled(by: scale)  // [out, r] x [r, in] -> [out, in]
    }
}

extension Parameter {
    /// This weight used as a projection: x·Wᵀ (+ bias), plus the adapter's (α/r)·(x·Aᵀ)·Bᵀ when one
    /// is attached. x [n, in] -> [n, out].
    func project(_ x: Variable, bias: Parameter? = nil) throws -> Variable {
        let y: Variable
        if !x.requiresGrad, !isTrainable, let stored = try storedMatrix() {
            // Inference: the product reads the stored bfloat16 weight (`precision`), no Float32 copy.
            y = Variable(StoredGemm.linear(x.value, stored, bias: try bias?.tensor(), precision: precision))
        } else {
            y = linear(x, try variable(), bias: try bias?.variable())
        }
        guard let adapter else { return y }
        let down = linear(x, try adapter.a.variable())  // [n, in] -> [n, r]
        let up = linear(down, try adapter.b.variable())  // [n, r] -> [n, out]
        return add(y, scale(up, adapter.scale))
    }
}
