import Foundation

// `compile` takes objects, Keras names, or any mix of the two, as Keras's `compile` does:
//
//     try model.compile(optimizer: Adam(learningRate: 1e-3), loss: "sparse_categorical_crossentropy",
//                       metrics: ["accuracy", AUC()])
//
// Objects alone keep the non-throwing `compile(optimizer:loss:metrics:)`; a name anywhere makes
// the call `throws` (an unknown name is an error listing the known ones).

/// An optimizer, or its Keras name (`"adam"`, `"nadam"`, `"Adamax"`), as `compile(optimizer:)`
/// takes it.
public protocol OptimizerConvertible {
    /// The optimizer itself, or a new one with Keras's defaults for a name.
    func resolvedOptimizer() throws -> Optimizer
}

/// A loss, or its Keras name (`"sparse_categorical_crossentropy"`, `"mse"`, `"Huber"`).
public protocol LossConvertible {
    /// The loss itself, or a new one with Keras's defaults for a name.
    func resolvedLoss() throws -> Loss
}

/// A metric, or its Keras name (`"accuracy"`, `"auc"`, `"F1Score"`).
public protocol MetricConvertible {
    /// The metric itself, or a new one with Keras's defaults for a name.
    func resolvedMetric() throws -> Metric
}

extension Optimizer: OptimizerConvertible {
    public func resolvedOptimizer() -> Optimizer { self }
}
extension Loss: LossConvertible {
    public func resolvedLoss() -> Loss { self }
}
extension Metric: MetricConvertible {
    public func resolvedMetric() -> Metric { self }
}
extension String: OptimizerConvertible, LossConvertible, MetricConvertible {
    public func resolvedOptimizer() throws -> Optimizer { try Optimizer.named(self) }
    public func resolvedLoss() throws -> Loss { try Loss.named(self) }
    public func resolvedMetric() throws -> Metric { try Metric.named(self) }
}

// The shorthands (`.adam`, `.mse`, `.accuracy`) where a name could also stand.
extension OptimizerConvertible where Self == Optimizer {
    public static var sgd: Optimizer { SGD() }
    public static var adam: Optimizer { Adam() }
    public static var rmsprop: Optimizer { RMSprop() }
    public static var adagrad: Optimizer { Adagrad() }
    public static var adamw: Optimizer { AdamW() }
    public static var nadam: Optimizer { Nadam() }
    public static var adamax: Optimizer { Adamax() }
    public static var adadelta: Optimizer { Adadelta() }
    public static var lion: Optimizer { Lion() }
    public static var ftrl: Optimizer { Ftrl() }
}
extension LossConvertible where Self == Loss {
    public static var meanSquaredError: Loss { MeanSquaredError() }
    public static var mse: Loss { MeanSquaredError() }
    public static var meanAbsoluteError: Loss { MeanAbsoluteError() }
    public static var mae: Loss { MeanAbsoluteError() }
    public static var binaryCrossentropy: Loss { BinaryCrossentropy() }
    public static var categoricalCrossentropy: Loss { CategoricalCrossentropy() }
    public static var sparseCategoricalCrossentropy: Loss { SparseCategoricalCrossentropy() }
    public static var huber: Loss { Huber() }
}
extension MetricConvertible where Self == Metric {
    public static var accuracy: Metric { Accuracy() }
    public static var binaryAccuracy: Metric { BinaryAccuracy() }
    public static var categoricalAccuracy: Metric { CategoricalAccuracy() }
    public static var sparseCategoricalAccuracy: Metric { SparseCategoricalAccuracy() }
    public static var meanSquaredError: Metric { MeanSquaredErrorMetric() }
    public static var meanAbsoluteError: Metric { MeanAbsoluteErrorMetric() }
    public static var mse: Metric { MeanSquaredErrorMetric() }
    public static var mae: Metric { MeanAbsoluteErrorMetric() }
    public static var precision: Metric { Precision() }
    public static var recall: Metric { Recall() }
    public static var auc: Metric { AUC() }
    public static var f1Score: Metric { F1Score() }
}

extension Model {
    /// Keras's `compile` with objects and names mixed:
    /// `compile(optimizer: Adam(learningRate: 1e-3), loss: "sparse_categorical_crossentropy", metrics: ["accuracy", AUC()])`.
    /// Throws for an unknown name, listing the known ones.
    public func compile(optimizer: some OptimizerConvertible, loss: some LossConvertible, metrics: [any MetricConvertible] = []) throws {
        compile(optimizer: try optimizer.resolvedOptimizer(), loss: try loss.resolvedLoss(), metrics: try metrics.map { try $0.resolvedMetric() })
    }

    /// `compile(loss: "mse")`: Keras's default optimizer, RMSprop.
    public func compile(loss: some LossConvertible, metrics: [any MetricConvertible] = []) throws {
        try compile(optimizer: RMSprop(), loss: loss, metrics: metrics)
    }

    /// Several outputs, a loss for each in `outputs` order, with names and objects mixed.
    public func compile(optimizer: some OptimizerConvertible, loss: [any LossConvertible], lossWeights: [Double]? = nil,
                        metrics: [[any MetricConvertible]] = []) throws {
        compile(optimizer: try optimizer.resolvedOptimizer(), loss: try loss.map { try $0.resolvedLoss() }, lossWeights: lossWeights,
                metrics: try metrics.map { try $0.map { try $0.resolvedMetric() } })
    }

    /// Losses and metrics by output name, with names and objects mixed.
    public func compile(optimizer: some OptimizerConvertible, loss: [String: any LossConvertible], lossWeights: [String: Double]? = nil,
                        metrics: [String: [any MetricConvertible]] = [:]) throws {
        compile(optimizer: try optimizer.resolvedOptimizer(), loss: try loss.mapValues { try $0.resolvedLoss() }, lossWeights: lossWeights,
                metrics: try metrics.mapValues { try $0.map { try $0.resolvedMetric() } })
    }
}
