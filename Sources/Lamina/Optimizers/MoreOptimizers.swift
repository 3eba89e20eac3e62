import Foundation

// Keras 3's further optimizers, each update rule as Keras writes it (keras/src/optimizers).

/// Adam with Nesterov momentum and Dozat's momentum schedule. Keras: `Nadam(learning_rate=1e-3,
/// beta_1=0.9, beta_2=0.999, epsilon=1e-7)`.
public final class Nadam: Optimizer {
    public let beta1: Double, beta2: Double, epsilon: Double
    /// Π μ_i over the steps so far, μ_i = β1·(1 − 0.5·0.96^i) (Keras's `_u_product`).
    private var uProduct = 1.0, uProductStep = 0

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-7,
                schedule: LearningRateSchedule? = nil, clipnorm: Double? = nil, clipvalue: Double? = nil) {
        (self.beta1, self.beta2, self.epsilon) = (beta1, beta2, epsilon)
        super.init(name: "Nadam", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }
    public override var slotCount: Int { 2 }
    public override var slotNames: [String] { ["momentum", "velocity"] }
    public override func config() -> [String: Any] { ["beta_1": beta1, "beta_2": beta2, "epsilon": epsilon] }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        Nadam(learningRate: s.learningRate ?? 1e-3, beta1: try r.double("beta_1", default: 0.9, in: 0...1),
              beta2: try r.double("beta_2", default: 0.999, in: 0...1), epsilon: try r.double("epsilon", default: 1e-7, in: 0...1),
              schedule: s.schedule, clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    private func mu(_ step: Int) -> Double { beta1 * (1 - 0.5 * Foundation.pow(0.96, Double(step))) }
    /// Keras's `_u_product` after the steps so far.
    public override var kerasTrailingScalars: [Double] { [(0..<iterations).reduce(1.0) { $0 * mu($1 + 1) }] }

    public override func willApplyStep() {
        if uProductStep != iterations - 1 { (uProduct, uProductStep) = (1, 0) }  // a loaded optimizer: recompute
        while uProductStep < iterations { uProductStep += 1; uProduct *= mu(uProductStep) }
    }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let t = iterations, ut = mu(t), ut1 = mu(t + 1), product1 = uProduct * ut1
        let a = T(ut1 / (1 - product1)), b = T((1 - ut) / (1 - uProduct)), c = T(1 / (1 - Foundation.pow(beta2, Double(t))))
        let (m, v, lr, b1, b2, eps) = (slots[0], slots[1], T(lr), T(1 - beta1), T(1 - beta2), T(epsilon))
        for i in 0..<count {
            m[i] += (g[i] - m[i]) * b1
            v[i] += (g[i] * g[i] - v[i]) * b2
            let mHat = a * m[i] + b * g[i], vHat = v[i] * c
            w[i] -= mHat * lr / (vHat.squareRoot() + eps)
        }
    }
}

/// Adam with the infinity norm. Keras: `Adamax(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`.
public final class Adamax: Optimizer {
    public let beta1: Double, beta2: Double, epsilon: Double
    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-7,
                schedule: LearningRateSchedule? = nil, clipnorm: Double? = nil, clipvalue: Double? = nil) {
        (self.beta1, self.beta2, self.epsilon) = (beta1, beta2, epsilon)
        super.init(name: "Adamax", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }
    public override var slotCount: Int { 2 }
    public override var slotNames: [String] { ["momentum", "norm"] }
    public override func config() -> [String: Any] { ["beta_1": beta1, "beta_2": beta2, "epsilon": epsilon] }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        Adamax(learningRate: s.learningRate ?? 1e-3, beta1: try r.double("beta_1", default: 0.9, in: 0...1),
               beta2: try r.double("beta_2", default: 0.999, in: 0...1), epsilon: try r.double("epsilon", default: 1e-7, in: 0...1),
               schedule: s.schedule, clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let (m, u) = (slots[0], slots[1])
        let step = T(lr / (1 - Foundation.pow(beta1, Double(iterations)))), b1 = T(1 - beta1), b2 = T(beta2), eps = T(epsilon)
        for i in 0..<count {
            m[i] += (g[i] - m[i]) * b1
            u[i] = Swift.max(b2 * u[i], Swift.abs(g[i]))
            w[i] -= step * m[i] / (u[i] + eps)
        }
    }
}

/// Steps scaled by running RMS of updates and gradients. Keras: `Adadelta(learning_rate=1e-3,
/// rho=0.95, epsilon=1e-7)`.
public final class Adadelta: Optimizer {
    public let rho: Double, epsilon: Double
    public init(learningRate: Double = 1e-3, rho: Double = 0.95, epsilon: Double = 1e-7,
                schedule: LearningRateSchedule? = nil, clipnorm: Double? = nil, clipvalue: Double? = nil) {
        (self.rho, self.epsilon) = (rho, epsilon)
        super.init(name: "Adadelta", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }
    public override var slotCount: Int { 2 }
    public override var slotNames: [String] { ["accumulated_grad", "accumulated_delta_var"] }
    public override func config() -> [String: Any] { ["rho": rho, "epsilon": epsilon] }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        Adadelta(learningRate: s.learningRate ?? 1e-3, rho: try r.double("rho", default: 0.95, in: 0...1),
                 epsilon: try r.double("epsilon", default: 1e-7, in: 0...1), schedule: s.schedule, clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let (accGrad, accDelta) = (slots[0], slots[1])
        let (rho, eps, lr) = (T(rho), T(epsilon), T(lr))
        for i in 0..<count {
            accGrad[i] = rho * accGrad[i] + (1 - rho) * g[i] * g[i]
            let delta = -((accDelta[i] + eps).squareRoot() * g[i]) / (accGrad[i] + eps).squareRoot()
            accDelta[i] = rho * accDelta[i] + (1 - rho) * delta * delta
            w[i] += lr * delta
        }
    }
}

/// The sign of an interpolated momentum. Keras: `Lion(learning_rate=1e-3, beta_1=0.9, beta_2=0.99)`.
public final class Lion: Optimizer {
    public let beta1: Double, beta2: Double
    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.99,
                schedule: LearningRateSchedule? = nil, clipnorm: Double? = nil, clipvalue: Double? = nil) {
        (self.beta1, self.beta2) = (beta1, beta2)
        super.init(name: "Lion", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }
    public override var slotCount: Int { 1 }
    public override var slotNames: [String] { ["momentum"] }
    public override func config() -> [String: Any] { ["beta_1": beta1, "beta_2": beta2] }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        Lion(learningRate: s.learningRate ?? 1e-3, beta1: try r.double("beta_1", default: 0.9, in: 0...1),
             beta2: try r.double("beta_2", default: 0.99, in: 0...1), schedule: s.schedule, clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let m = slots[0], (b1, b2, lr) = (T(beta1), T(beta2), T(lr))
        for i in 0..<count {
            let c = m[i] * b1 + g[i] * (1 - b1)
            w[i] -= lr * (c > 0 ? 1 : (c < 0 ? -1 : 0))
            m[i] = m[i] * b2 + g[i] * (1 - b2)
        }
    }
}

/// Follow The Regularized Leader, as used for large sparse linear models. Keras:
/// `Ftrl(learning_rate=1e-3, learning_rate_power=-0.5, initial_accumulator_value=0.1,
/// l1_regularization_strength=0, l2_regularization_strength=0,
/// l2_shrinkage_regularization_strength=0, beta=0)`, its update rule as Keras writes it.
public final class Ftrl: Optimizer {
    public let learningRatePower: Double, initialAccumulatorValue: Double
    public let l1RegularizationStrength: Double, l2RegularizationStrength: Double, l2ShrinkageRegularizationStrength: Double
    public let beta: Double

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
