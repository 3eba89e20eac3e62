import Foundation

/// Adam with Nesterov momentum and Dozat's momentum schedule. Keras: `Nadam(learning_rate=1e-3,
/// beta_1=0.9, beta_2=0.999, epsilon=1e-7)`.
public final class Nadam: Optimizer {
    /// The decay rates of the first and second moments, and the small constant added for stability.
    public let beta1: Double, beta2: Double, epsilon: Double
    /// Π μ_i over the steps so far, μ_i = β1·(1 − 0.5·0.96^i) (Keras's `_u_product`).
    private var uProduct = 1.0, uProductStep = 0

    /// Keras: `keras.optimizers.Nadam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`, with an optional schedule and gradient clipping.
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
