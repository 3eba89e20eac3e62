import Foundation

/// Cosine decay from the initial rate (or, after a linear warmup of `warmupSteps` to
/// `warmupTarget`, from that) down to `alpha` × it over `decaySteps`. Keras: `CosineDecay`.
public final class CosineDecay: LearningRateSchedule, @unchecked Sendable {
    /// The rate at step 0, the length of the decay and the floor as a fraction of the peak.
    public let initialLearningRate: Double, decaySteps: Int, alpha: Double
    /// The rate reached by the linear warmup (nil: no warmup) and the warmup's length in steps.
    public let warmupTarget: Double?, warmupSteps: Int

    /// Keras: `keras.optimizers.schedules.CosineDecay(initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0)`.
    /// Traps (precondition) unless `decaySteps` is positive and `warmupSteps` not negative.
    public init(initialLearningRate: Double, decaySteps: Int, alpha: Double = 0, warmupTarget: Double? = nil, warmupSteps: Int = 0) {
        precondition(decaySteps > 0 && warmupSteps >= 0, "CosineDecay: decaySteps \(decaySteps) must be positive, warmupSteps \(warmupSteps) not negative")
        (self.initialLearningRate, self.decaySteps, self.alpha, self.warmupTarget, self.warmupSteps) =
            (initialLearningRate, decaySteps, alpha, warmupTarget, warmupSteps)
    }
    public override func callAsFunction(_ step: Int) -> Double {
        func decay(_ s: Double, from lr: Double) -> Double {
            let cosine = 0.5 * (1 + Foundation.cos(Double.pi * s / Double(decaySteps)))
            return lr * ((1 - alpha) * cosine + alpha)
        }
        guard let target = warmupTarget else { return decay(Swift.min(Double(step), Double(decaySteps)), from: initialLearningRate) }
        let s = Swift.min(Double(step), Double(decaySteps + warmupSteps))
        if s < Double(warmupSteps) { return (target - initialLearningRate) * s / Double(warmupSteps) + initialLearningRate }
        return decay(s - Double(warmupSteps), from: target)
    }
    public override func config() -> [String: Any] {
        ["initial_learning_rate": initialLearningRate, "decay_steps": decaySteps, "alpha": alpha,
         "warmup_target": warmupTarget ?? NSNull(), "warmup_steps": warmupSteps]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        CosineDecay(initialLearningRate: try r.double("initial_learning_rate", in: 0...1e6), decaySteps: try r.int("decay_steps", minimum: 1),
                    alpha: try r.double("alpha", default: 0, in: 0...1), warmupTarget: try r.optionalDouble("warmup_target"),
                    warmupSteps: try r.int("warmup_steps", default: 0))
    }
}
