import Foundation

/// Steps scaled by running RMS of updates and gradients. Keras: `Adadelta(learning_rate=1e-3,
/// rho=0.95, epsilon=1e-7)`.
public final class Adadelta: Optimizer {
    /// The decay rate of the running averages and the small constant added for stability.
    public let rho: Double, epsilon: Double
    /// Keras: `keras.optimizers.Adadelta(learning_rate=1e-3, rho=0.95, epsilon=1e-7)`, with an optional schedule and gradient clipping.
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
