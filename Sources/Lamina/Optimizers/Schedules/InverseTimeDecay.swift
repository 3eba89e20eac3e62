import Foundation

/// initial / (1 + rate · step / decaySteps), the ratio floored when `staircase`. Keras: `InverseTimeDecay`.
public final class InverseTimeDecay: LearningRateSchedule, @unchecked Sendable {
    /// The rate at step 0, the period, the decay rate, and whether the ratio is floored.
    public let initialLearningRate: Double, decaySteps: Int, decayRate: Double, staircase: Bool

    /// Keras: `keras.optimizers.schedules.InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False)`; traps unless `decaySteps` is positive.
    public init(initialLearningRate: Double, decaySteps: Int, decayRate: Double, staircase: Bool = false) {
        precondition(decaySteps > 0, "InverseTimeDecay: decaySteps \(decaySteps) must be positive")
        (self.initialLearningRate, self.decaySteps, self.decayRate, self.staircase) = (initialLearningRate, decaySteps, decayRate, staircase)
    }
    public override func callAsFunction(_ step: Int) -> Double {
        var p = Double(step) / Double(decaySteps)
        if staircase { p.round(.down) }
        return initialLearningRate / (1 + decayRate * p)
    }
    public override func config() -> [String: Any] {
        ["initial_learning_rate": initialLearningRate, "decay_steps": decaySteps, "decay_rate": decayRate, "staircase": staircase]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        InverseTimeDecay(initialLearningRate: try r.double("initial_learning_rate", in: 0...1e6), decaySteps: try r.int("decay_steps", minimum: 1),
                         decayRate: try r.double("decay_rate", in: 0...1e6), staircase: try r.bool("staircase", default: false))
    }
}
