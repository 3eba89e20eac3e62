import Foundation

/// Adam with the infinity norm. Keras: `Adamax(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`.
public final class Adamax: Optimizer {
    /// The decay rates of the first moment and of the infinity norm, and the small constant added for stability.
    public let beta1: Double, beta2: Double, epsilon: Double
    /// Keras: `keras.optimizers.Adamax(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`, with an optional schedule and gradient clipping.
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
