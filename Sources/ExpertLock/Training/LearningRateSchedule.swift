import Foundation

/// Linear warm-up then cosine decay, as transformers' `get_cosine_schedule_with_warmup` with a floor:
/// step s (0-based) of `total` uses
///
///     peak · (s + 1) / warmup                                      for s < warmup
///     floor + (peak − floor) · ½ (1 + cos(π · (s − warmup) / (total − warmup)))   otherwise
///
/// with floor = peak · `minimumRatio`. Unlike transformers the first warm-up step is not 0 (a wasted step).
public struct LearningRateSchedule: Sendable, Equatable {
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minimumRatio: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minimumRatio: Float = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimumRatio = minimumRatio
    }

    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let decaySteps = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(decaySteps))
        let floor = Double(peak) * Double(minimumRatio)
        return Float(floor + (Double(peak) - floor) * 0.5 * (1 + cos(Double.pi * progress)))
    }
}
