import Foundation
import TensorCore

// Port of transformers' modeling_rope_utils.py (5.25): the inverse frequencies and attention scaling of
// the rope types ExpertLock implements. Traps: every table is computed in Float32 as torch does
// (`base ** (arange(0, dim, 2) / dim)`); YaRN's `attention_factor` multiplies cos and sin, and MLA
// families also fold `mscale_all_dim` into the softmax scale (`yarn_apply_mscale`).

/// `rope_parameters` (or legacy `rope_scaling`) beyond the base: the scaling a checkpoint asks for.
public enum RotaryScaling: Sendable, Equatable {
    case none
    /// `linear`: every inverse frequency divided by `factor`.
    case linear(factor: Double)
    /// `llama3`: long wavelengths divided by `factor`, short ones kept, a smooth ramp between.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalMaxPositions: Int)
    /// `yarn` (DeepSeek-V3, Kimi-K2): NTK-by-parts interpolation with an attention scaling.
    case yarn(Yarn)

    public struct Yarn: Sendable, Equatable {
        public var factor: Double
        public var originalMaxPositions: Int
        public var betaFast: Double = 32
        public var betaSlow: Double = 1
        public var mscale: Double?
        public var mscaleAllDim: Double?
        public var attentionFactor: Double?
        public var truncate: Bool = true
    }

    /// The `rope_type` string transformers uses for this scaling.
    public var ropeType: String {
        switch self {
        case .none: "default"
        case .linear: "linear"
        case .llama3: "llama3"
        case .yarn: "yarn"
        }
    }

    /// The keys of `rope_parameters` besides `rope_theta` and `rope_type`.
    var parameters: [String: Any] {
        switch self {
        case .none: return [:]
        case .linear(let factor): return ["factor": factor]
        case let .llama3(factor, low, high, original):
            return [
                "factor": factor, "low_freq_factor": low, "high_freq_factor": high,
                "original_max_position_embeddings": original,
            ]
        case .yarn(let y):
            var p: [String: Any] = [
                "factor": y.factor, "original_max_position_embeddings": y.originalMaxPositions,
                "beta_fast": y.betaFast, "beta_slow": y.betaSlow, "truncate": y.truncate,
            ]
            p["mscale"] = y.mscale
            p["mscale_all_dim"] = y.mscaleAllDim
            p["attention_factor"] = y.attentionFactor
            return p
        }
    }

    /// yarn_get_mscale: 0.1·m·ln(scale) + 1 above scale 1.
    static func mscale(_ scale: Double, _ m: Double = 1) -> Double { scale <= 1 ? 1 : 0.1 * m * log(scale) + 1 }

    /// The factor MLA multiplies its softmax scale by (`yarn_apply_mscale`): mscale(factor, mscale_all_dim)².
    public var softmaxScaleFactor: Double {
        guard case .yarn(let y) = self, let all = y.mscaleAllDim, all != 0 else { return 1 }
        let m = Self.mscale(y.factor, all)
        return m * m
    }
}

/// The rotary embedding of one model: inverse frequencies for the rotated channels of a head, the
/// scaling of cos and sin, and the pair layout.
public struct RotaryEmbedding: Sendable, Equatable {
    public let inverseFrequencies: [Float]
    public let attentionScaling: Float
    /// Channels rotated at the start of each head (the rest pass through).
    public let rotaryDim: Int
    public let layout: RotaryLayout
    /// Plain RoPE over the whole head: served by TensorCore's `rope(theta:)`, as before scaling existed.
    let theta: Double
    let isPlain: Bool

    /// `dim` rotated channels of base `theta` with `scaling`.
    public init(dim: Int, theta: Double, scaling: RotaryScaling, layout: RotaryLayout = .half, headDim: Int) {
        let base = Float(theta)
        let exponents = stride(from: 0, to: dim, by: 2).map { Float($0) / Float(dim) }
        let plain = exponents.map { 1 / pow(base, $0) }
        self.rotaryDim = dim
        self.layout = layout
        self.theta = theta
        var scale: Float = 1
        switch scaling {
        case .none:
            inverseFrequencies = plain
        case .linear(let factor):
            inverseFrequencies = plain.map { $0 / Float(factor) }
        case let .llama3(factor, low, high, original):
            let lowWavelength = Double(original) / low
            let highWavelength = Double(original) / high
            inverseFrequencies = plain.map { f -> Float in
                let wavelength = 2 * Double.pi / Double(f)
                if wavelength > lowWavelength { return f / Float(factor) }
                if wavelength < highWavelength { return f }
                let smooth = Float((Double(original) / wavelength - low) / (high - low))
                return (1 - smooth) * f / Float(factor) + smooth * f
            }
        case .yarn(let y):
            func correctionDim(_ rotations: Double) -> Double {
                Double(dim) * log(Double(y.originalMaxPositions) / (rotations * 2 * Double.pi)) / (2 * log(theta))
            }
            var low = correctionDim(y.betaFast), high = correctionDim(y.betaSlow)
            if y.truncate { low = low.rounded(.down); high = high.rounded(.up) }
            low = max(low, 0)
            high = min(high, Double(dim - 1))
            if low == high { high += 0.001 }
            let positionFrequencies = exponents.map { pow(base, $0) }
            let factor = Float(y.factor)
            inverseFrequencies = positionFrequencies.indices.map { i in
                let ramp = min(max((Float(i) - Float(low)) / (Float(high) - Float(low)), 0), 1)
                let extrapolation = 1 - ramp
                let interpolated = 1 / (factor * positionFrequencies[i])
                return interpolated * (1 - extrapolation) + (1 / positionFrequencies[i]) * extrapolation
            }
            if let a = y.attentionFactor {
                scale = Float(a)
            } else if let m = y.mscale, let all = y.mscaleAllDim, m != 0, all != 0 {
                scale = Float(RotaryScaling.mscale(y.factor, m) / RotaryScaling.mscale(y.factor, all))
            } else {
                scale = Float(RotaryScaling.mscale(y.factor))
            }
        }
        attentionScaling = scale
        isPlain = scaling == .none && dim == headDim && layout == .half
    }

    /// x [N, H*D] rotated by `positions`.
    public func apply(_ x: Variable, heads: Int, headDim: Int, positions: [Int]) -> Variable {
        if isPlain { return rope(x, heads: heads, headDim: headDim, positions: positions, theta: theta) }
        return rope(
            x, heads: heads, headDim: headDim, positions: positions, inverseFrequencies: inverseFrequencies,
            attentionScaling: attentionScaling, rotaryDim: rotaryDim, layout: layout)
    }
}
