import Foundation

/// Adam. Keras: `Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`.
///
/// Keras's form: `α = lr·√(1−β2ᵗ)/(1−β1ᵗ)`, `m += (g−m)(1−β1)`, `v += (g²−v)(1−β2)`,
/// `w −= α·m/(√v + ε)` — ε is added after the bias correction is folded into α (PyTorch
/// adds it to the corrected √v̂, a small difference early in training).
public class Adam: Optimizer {
    public override func config() -> [String: Any] {
        var c: [String: Any] = ["beta_1": beta1, "beta_2": beta2, "epsilon": epsilon, "amsgrad": amsgrad]
        if self is AdamW { c["weight_decay"] = weightDecay }
        return c
    }
    public override var slotNames: [String] { amsgrad ? ["momentum", "velocity", "velocity_hat"] : ["momentum", "velocity"] }
    /// Keras creates momentum and velocity in one call, velocity_hat (AMSGrad) in another.
    public override var kerasSlotGroups: [[Int]] { amsgrad ? [[0, 1], [2]] : [[0, 1]] }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        let isW = self == AdamW.self
        let wd = try r.optionalDouble("weight_decay") ?? (isW ? 0.004 : 0)
        guard isW || wd == 0 else { throw r.error("weight_decay \(wd) needs AdamW") }
        let (b1, b2) = (try r.double("beta_1", default: 0.9, in: 0...1), try r.double("beta_2", default: 0.999, in: 0...1))
        let (epsilon, amsgrad) = (try r.double("epsilon", default: 1e-7, in: 0...1), try r.bool("amsgrad", default: false))
        return isW
            ? AdamW(learningRate: s.learningRate ?? 1e-3, weightDecay: wd, beta1: b1, beta2: b2, epsilon: epsilon, amsgrad: amsgrad,
                    schedule: s.schedule, clipnorm: s.clipnorm, clipvalue: s.clipvalue)
            : Adam(learningRate: s.learningRate ?? 1e-3, beta1: b1, beta2: b2, epsilon: epsilon, amsgrad: amsgrad,
                   schedule: s.schedule, clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    /// The decay of the first and second moment estimates, and the epsilon added to √v.
    public let beta1: Double, beta2: Double, epsilon: Double
    /// Whether the update uses the running maximum of v (AMSGrad).
    public let amsgrad: Bool
    /// Decoupled weight decay (AdamW); 0 for Adam.
    public let weightDecay: Double

    /// Keras: `Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)`; a
    /// `schedule` replaces the constant rate.
    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-7,
                amsgrad: Bool = false, schedule: LearningRateSchedule? = nil,
                clipnorm: Double? = nil, clipvalue: Double? = nil) {
        (self.beta1, self.beta2, self.epsilon, self.amsgrad, self.weightDecay) = (beta1, beta2, epsilon, amsgrad, 0)
        super.init(name: "Adam", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }

    init(name: String, learningRate: Double, weightDecay: Double, beta1: Double, beta2: Double, epsilon: Double,
         amsgrad: Bool, schedule: LearningRateSchedule?, clipnorm: Double?, clipvalue: Double?) {
        (self.beta1, self.beta2, self.epsilon, self.amsgrad, self.weightDecay) = (beta1, beta2, epsilon, amsgrad, weightDecay)
        super.init(name: name, learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }

    public override var slotCount: Int { amsgrad ? 3 : 2 }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let t = Double(iterations)
        let alpha = T(lr * (1 - Foundation.pow(beta2, t)).squareRoot() / (1 - Foundation.pow(beta1, t)))
        let b1 = T(1 - beta1), b2 = T(1 - beta2), eps = T(epsilon)
        let m = slots[0], v = slots[1]
        if weightDecay != 0 {
            // AdamW (Keras): w −= w·wd·lr before the Adam step.
            let decay = T(weightDecay * lr)
            for i in 0..<count { w[i] -= w[i] * decay }
        }
        if amsgrad {
            let vHat = slots[2]
            for i in 0..<count {
                m[i] += (g[i] - m[i]) * b1
                v[i] += (g[i] * g[i] - v[i]) * b2
                vHat[i] = Swift.max(vHat[i], v[i])
                w[i] -= alpha * m[i] / (vHat[i].squareRoot() + eps)
            }
        } else {  // the C kernel of the element type
            Kernels.adamUpdate(w, g, m: m, v: v, count: count, alpha: alpha, b1: b1, b2: b2, eps: eps)
        }
    }
}
