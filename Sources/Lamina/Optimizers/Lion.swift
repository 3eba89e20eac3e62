import Foundation

/// The sign of an interpolated momentum. Keras: `Lion(learning_rate=1e-3, beta_1=0.9, beta_2=0.99)`.
public final class Lion: Optimizer {
    /// The interpolation rate of the update and the decay rate of the momentum.
    public let beta1: Double, beta2: Double
    /// Keras: `keras.optimizers.Lion(learning_rate=1e-3, beta_1=0.9, beta_2=0.99)`, with an optional schedule and gradient clipping.
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
