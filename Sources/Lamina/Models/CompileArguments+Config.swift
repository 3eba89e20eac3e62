import Foundation

// Keras's `compile` (through `keras.optimizers.get`, `keras.losses.get`, `keras.metrics.get`)
// also takes a serialized object, as `keras.optimizers.serialize` writes it:
//
//     try model.compile(optimizer: ["class_name": "Adam", "config": ["learning_rate": [
//                           "class_name": "ExponentialDecay",
//                           "config": ["initial_learning_rate": 0.01, "decay_steps": 100, "decay_rate": 0.9]]]],
//                       loss: "mse")
//
// The same dictionaries come out of JSON (`JSONSerialization`), so a config file can name the
// optimizer with its learning-rate schedule.

extension Dictionary: OptimizerConvertible where Key == String, Value == Any {
    /// The optimizer this Keras-serialized dictionary describes (its `learning_rate` may be a
    /// serialized schedule). Keras: `keras.optimizers.get(config)`.
    public func resolvedOptimizer() throws -> Optimizer { try Optimizer.fromConfig(self) }
}

extension Dictionary: LossConvertible where Key == String, Value == Any {
    /// The loss this Keras-serialized dictionary describes. Keras: `keras.losses.get(config)`.
    public func resolvedLoss() throws -> Loss { try Loss.fromConfig(self) }
}

extension Dictionary: MetricConvertible where Key == String, Value == Any {
    /// The metric this Keras-serialized dictionary describes. Keras: `keras.metrics.get(config)`.
    public func resolvedMetric() throws -> Metric { try Metric.fromConfig(self) }
}

extension LearningRateSchedule {
    /// A schedule from Keras's serialized form (`{"class_name": "CosineDecayRestarts", "config":
    /// {...}}`), by the Keras class name of any built-in or registered schedule. Keras:
    /// `keras.optimizers.schedules.deserialize`.
    public static func deserialize(_ config: Any) throws -> LearningRateSchedule { try fromConfig(config) }

    /// Keras's serialized form of this schedule. Keras: `keras.optimizers.schedules.serialize`.
    public func serialized() throws -> [String: Any] { try serialize() }
}
