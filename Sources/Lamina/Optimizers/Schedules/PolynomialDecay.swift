import Foundation

/// (initial − end)·(1 − step/decaySteps)^power + end, holding `end` afterwards (or restarting
/// with a longer period when `cycle`). Keras: `PolynomialDecay`.
public final class PolynomialDecay: LearningRateSchedule, @unchecked Sendable {
    /// The rate at step 0, the length of the decay, the final rate, the polynomial's power, and whether it restarts.
    public let initialLearningRate: Double, decaySteps: Int, endLearningRate: Double, power: Double, cycle: Bool

    /// Keras: `keras.optimizers.schedules.PolynomialDecay(initial_learning_rate, decay_steps, end_learning_rate=1e-4, power=1.0, cycle=False)`; traps unless `decaySteps` is positive.
    public init(initialLearningRate: Double, decaySteps: Int, endLearningRate: Double = 1e-4, power: Double = 1, cycle: Bool = false) {
        precondition(decaySteps > 0, "PolynomialDecay: decaySteps \(decaySteps) must be positive")
        (self.initialLearningRate, self.decaySteps, self.endLearningRate, self.power, self.cycle) =
            (initialLearningRate, decaySteps, endLearningRate, power, cycle)
    }
    public override func callAsFunction(_ step: Int) -> Double {
        var period = Double(decaySteps), s = Double(step)
        if cycle {
            period *= Swift.max(1, (s / period).rounded(.up))
        } else {
            s = Swift.min(s, period)
        }
        return (initialLearningRate - endLearningRate) * Foundation.pow(1 - s / period, power) + endLearningRate
    }
    public override func config() -> [String: Any] {
        ["initial_learning_rate": initialLearningRate, "decay_steps": decaySteps, "end_learning_rate": endLearningRate,
         "power": power, "cycle": cycle]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        PolynomialDecay(initialLearningRate: try r.double("initial_learning_rate", in: 0...1e6), decaySteps: try r.int("decay_steps", minimum: 1),
                        endLearningRate: try r.double("end_learning_rate", default: 1e-4, in: 0...1e6),
                        power: try r.double("power", default: 1, in: 0...1e6), cycle: try r.bool("cycle", default: false))
    }
}
