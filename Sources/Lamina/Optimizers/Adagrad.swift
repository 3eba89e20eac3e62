/// Adagrad. Keras: `Adagrad(learning_rate=1e-3, initial_accumulator_value=0.1, epsilon=1e-7)`.
public final class Adagrad: Optimizer {
    public override func config() -> [String: Any] { ["initial_accumulator_value": initialAccumulatorValue, "epsilon": epsilon] }
    public override var slotNames: [String] { ["accumulator"] }
    public override class func fromKerasConfig(_ r: ConfigReader, shared s: OptimizerSettings) throws -> Optimizer {
        Adagrad(learningRate: s.learningRate ?? 1e-3,
                initialAccumulatorValue: try r.double("initial_accumulator_value", default: 0.1, in: 0...1e6),
                epsilon: try r.double("epsilon", default: 1e-7, in: 0...1), schedule: s.schedule,
                clipnorm: s.clipnorm, clipvalue: s.clipvalue)
    }

    /// The accumulators' starting value and the small constant added for stability.
    public let initialAccumulatorValue: Double, epsilon: Double

    /// Keras: `keras.optimizers.Adagrad(learning_rate=1e-3, initial_accumulator_value=0.1, epsilon=1e-7)`, with an optional schedule and gradient clipping.
    public init(learningRate: Double = 1e-3, initialAccumulatorValue: Double = 0.1, epsilon: Double = 1e-7,
                schedule: LearningRateSchedule? = nil, clipnorm: Double? = nil, clipvalue: Double? = nil) {
        self.initialAccumulatorValue = initialAccumulatorValue
        self.epsilon = epsilon
        super.init(name: "Adagrad", learningRate: learningRate, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }

    public override var slotCount: Int { 1 }
    public override var initialSlotValues: [Double] { [initialAccumulatorValue] }

    @_specialize(where T == Float) @_specialize(where T == Double)
    public override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                                    _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        let acc = slots[0], lr = T(lr), eps = T(epsilon)
        for i in 0..<count {
            acc[i] += g[i] * g[i]
            w[i] -= lr * g[i] / (acc[i].squareRoot() + eps)
        }
    }
}
