/// Stochastic gradient descent with optional (Nesterov) momentum. Keras: `SGD`.
///
/// `v = momentum·v − lr·g`, then `w += v` (or `w += momentum·v − lr·g` with Nesterov).
public final class SGD: Optimizer {
    public override func config() -> [String: Any] { ["momentum": momentum, "nesterov": nesterov] }
    public override var slotNames: [String] { ["momentum"] }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        SGD(learningRate: s.learningRate ?? 0.01, momentum: try r.double("momentum", default: 0, in: 0...1),
            nesterov: try r.bool("nesterov", default: false), schedule: s.schedule, clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    /// The velocity's decay (0: plain gradient descent).
    public let momentum: Double
    /// Whether the step uses Nesterov's look-ahead.
    public let nesterov: Bool

    /// Keras: `SGD(learning_rate=0.01, momentum=0.0, nesterov=False)`.
    public init(learningRate: Double = 0.01, momentum: Double = 0, nesterov: Bool = false,
                schedule: LearningRateSchedule? = nil, clipnorm: Double? = nil, clipvalue: Double? = nil) {
        self.momentum = momentum
        self.nesterov = nesterov
        super.init(name: "SGD", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }

    public override var slotCount: Int { momentum != 0 ? 1 : 0 }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let lr = T(lr), m = T(momentum)
        guard let v = slots.first else {
            for i in 0..<count { w[i] -= lr * g[i] }
            return
        }
        if nesterov {
            for i in 0..<count { v[i] = m * v[i] - lr * g[i]; w[i] += m * v[i] - lr * g[i] }
        } else {
            for i in 0..<count { v[i] = m * v[i] - lr * g[i]; w[i] += v[i] }
        }
    }
}
