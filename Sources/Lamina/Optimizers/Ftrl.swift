import Foundation

/// Follow The Regularized Leader, as used for large sparse linear models. Keras:
/// `Ftrl(learning_rate=1e-3, learning_rate_power=-0.5, initial_accumulator_value=0.1,
/// l1_regularization_strength=0, l2_regularization_strength=0,
/// l2_shrinkage_regularization_strength=0, beta=0)`, its update rule as Keras writes it.
public final class Ftrl: Optimizer {
    /// The learning-rate power (at most 0) and the accumulators' starting value (see `init`).
    public let learningRatePower: Double, initialAccumulatorValue: Double
    /// The L1, L2 and L2-shrinkage regularization strengths (see `init`).
    public let l1RegularizationStrength: Double, l2RegularizationStrength: Double, l2ShrinkageRegularizationStrength: Double
    /// Keras's `beta` (default 0), which adds beta / (2·lr) to the L2 strength.
    public let beta: Double

    /// Keras: `keras.optimizers.Ftrl` with the same defaults, plus an optional schedule and gradient clipping.
    /// Traps (precondition) when `learningRatePower` is positive or another setting is negative.
    public init(learningRate: Double = 1e-3, learningRatePower: Double = -0.5, initialAccumulatorValue: Double = 0.1,
                l1RegularizationStrength: Double = 0, l2RegularizationStrength: Double = 0,
                l2ShrinkageRegularizationStrength: Double = 0, beta: Double = 0,
                schedule: LearningRateSchedule? = nil, clipnorm: Double? = nil, clipvalue: Double? = nil) {
        precondition(learningRatePower <= 0, "Ftrl: learningRatePower \(learningRatePower) must be at most 0")
        precondition(initialAccumulatorValue >= 0 && l1RegularizationStrength >= 0 && l2RegularizationStrength >= 0
                     && l2ShrinkageRegularizationStrength >= 0 && beta >= 0,
                     "Ftrl: the initial accumulator value, regularization strengths and beta must not be negative")
        (self.learningRatePower, self.initialAccumulatorValue, self.l1RegularizationStrength, self.l2RegularizationStrength,
         self.l2ShrinkageRegularizationStrength, self.beta) =
            (learningRatePower, initialAccumulatorValue, l1RegularizationStrength, l2RegularizationStrength,
             l2ShrinkageRegularizationStrength, beta)
        super.init(name: "Ftrl", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }
    public override var slotCount: Int { 2 }
    public override var slotNames: [String] { ["accumulator", "linear"] }
    public override var initialSlotValues: [Double] { [initialAccumulatorValue, 0] }
    public override func config() -> [String: Any] {
        ["learning_rate_power": learningRatePower, "initial_accumulator_value": initialAccumulatorValue,
         "l1_regularization_strength": l1RegularizationStrength, "l2_regularization_strength": l2RegularizationStrength,
         "l2_shrinkage_regularization_strength": l2ShrinkageRegularizationStrength, "beta": beta]
    }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        Ftrl(learningRate: s.learningRate ?? 1e-3, learningRatePower: try r.double("learning_rate_power", default: -0.5, in: -1e6...0),
             initialAccumulatorValue: try r.double("initial_accumulator_value", default: 0.1, in: 0...1e6),
             l1RegularizationStrength: try r.double("l1_regularization_strength", default: 0, in: 0...1e6),
             l2RegularizationStrength: try r.double("l2_regularization_strength", default: 0, in: 0...1e6),
             l2ShrinkageRegularizationStrength: try r.double("l2_shrinkage_regularization_strength", default: 0, in: 0...1e6),
             beta: try r.double("beta", default: 0, in: 0...1e6), schedule: s.schedule, clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let (accum, linear) = (slots[0], slots[1])
        let lrT = T(lr), power = T(-learningRatePower), l1 = T(l1RegularizationStrength)
        let l2 = T(l2RegularizationStrength + beta / (2 * lr)), shrinkage = T(2 * l2ShrinkageRegularizationStrength)
        for i in 0..<count {
            let gradToUse = g[i] + shrinkage * w[i]
            let newAccum = accum[i] + g[i] * g[i]
            let newPower = power == T(0.5) ? newAccum.squareRoot() : T(Foundation.pow(Double(newAccum), Double(power)))
            let oldPower = power == T(0.5) ? accum[i].squareRoot() : T(Foundation.pow(Double(accum[i]), Double(power)))
            linear[i] += gradToUse - (newPower - oldPower) / lrT * w[i]
            let quadratic = newPower / lrT + 2 * l2
            let clipped = Swift.min(Swift.max(linear[i], -l1), l1)
            w[i] = (clipped - linear[i]) / quadratic
            accum[i] = newAccum
        }
    }
}
