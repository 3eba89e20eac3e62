/// RMSprop. Keras: `RMSprop(learning_rate=1e-3, rho=0.9, momentum=0, epsilon=1e-7)`.
/// `v = ρ·v + (1−ρ)·g²`, `w −= lr·g/√(v + ε)` (Keras puts ε inside the root).
public final class RMSprop: Optimizer {
    public override func config() -> [String: Any] { ["rho": rho, "epsilon": epsilon] }
    public override var slotNames: [String] { ["velocity"] }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        guard try r.double("momentum", default: 0) == 0, try !r.bool("centered", default: false) else {
            throw r.error("momentum and centered RMSprop are not supported")
        }
        return RMSprop(learningRate: s.learningRate ?? 1e-3, rho: try r.double("rho", default: 0.9, in: 0...1),
                       epsilon: try r.double("epsilon", default: 1e-7, in: 0...1), schedule: s.schedule,
                       clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    /// The decay of the mean square and the epsilon added to its root.
    public let rho: Double, epsilon: Double

    /// Keras: `RMSprop(learning_rate=1e-3, rho=0.9, epsilon=1e-7)` (no momentum, not centered).
    public init(learningRate: Double = 1e-3, rho: Double = 0.9, epsilon: Double = 1e-7,
                schedule: LearningRateSchedule? = nil, clipnorm: Double? = nil, clipvalue: Double? = nil) {
        self.rho = rho
        self.epsilon = epsilon
        super.init(name: "RMSprop", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }

    public override var slotCount: Int { 1 }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let v = slots[0], r = T(rho), lr = T(lr), eps = T(epsilon)
        for i in 0..<count {
            v[i] = r * v[i] + (1 - r) * g[i] * g[i]
            w[i] -= lr * g[i] / (v[i] + eps).squareRoot()
        }
    }
}
