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
    /// The optimizer itself.
    public func resolvedOptimizer() -> Optimizer { self }
}
extension Loss: LossConvertible {
    /// The loss itself.
    public func resolvedLoss() -> Loss { self }
}
extension Metric: MetricConvertible {
    /// The metric itself.
    public func resolvedMetric() -> Metric { self }
}
extension String: OptimizerConvertible, LossConvertible, MetricConvertible {
    /// The optimizer of this Keras name with its defaults (`Optimizer.named`).
    public func resolvedOptimizer() throws -> Optimizer { try Optimizer.named(self) }
    /// The loss of this Keras name with its defaults (`Loss.named`).
    public func resolvedLoss() throws -> Loss { try Loss.named(self) }
    /// The metric of this Keras name with its defaults (`Metric.named`).
    public func resolvedMetric() throws -> Metric { try Metric.named(self) }
}

// The shorthands (`.adam`, `.mse`, `.accuracy`) where a name could also stand.
extension OptimizerConvertible where Self == Optimizer {
    /// `SGD()` with Keras's defaults (learning rate 0.01). Keras: `"sgd"`.
    public static var sgd: Optimizer { SGD() }
    /// `Adam()` with Keras's defaults (1e-3, 0.9, 0.999, 1e-7). Keras: `"adam"`.
    public static var adam: Optimizer { Adam() }
    /// `RMSprop()` with Keras's defaults (1e-3, rho 0.9). Keras: `"rmsprop"`.
    public static var rmsprop: Optimizer { RMSprop() }
    /// `Adagrad()` with Keras's defaults. Keras: `"adagrad"`.
    public static var adagrad: Optimizer { Adagrad() }
    /// `AdamW()` with Keras's defaults (weight decay 0.004). Keras: `"adamw"`.
    public static var adamw: Optimizer { AdamW() }
    /// `Nadam()` with Keras's defaults. Keras: `"nadam"`.
    public static var nadam: Optimizer { Nadam() }
    /// `Adamax()` with Keras's defaults. Keras: `"adamax"`.
    public static var adamax: Optimizer { Adamax() }
    /// `Adadelta()` with Keras's defaults. Keras: `"adadelta"`.
    public static var adadelta: Optimizer { Adadelta() }
    /// `Lion()` with Keras's defaults. Keras: `"lion"`.
    public static var lion: Optimizer { Lion() }
    /// `Ftrl()` with Keras's defaults. Keras: `"ftrl"`.
    public static var ftrl: Optimizer { Ftrl() }
}
extension LossConvertible where Self == Loss {
    /// Keras: `"mean_squared_error"`.
    public static var meanSquaredError: Loss { MeanSquaredError() }
    /// Keras: `"mse"`.
    public static var mse: Loss { MeanSquaredError() }
    /// Keras: `"mean_absolute_error"`.
    public static var meanAbsoluteError: Loss { MeanAbsoluteError() }
    /// Keras: `"mae"`.
    public static var mae: Loss { MeanAbsoluteError() }
    /// Keras: `"binary_crossentropy"` (probabilities; `BinaryCrossentropy(fromLogits: true)` for logits).
    public static var binaryCrossentropy: Loss { BinaryCrossentropy() }
    /// Keras: `"categorical_crossentropy"` (one-hot labels).
    public static var categoricalCrossentropy: Loss { CategoricalCrossentropy() }
    /// Keras: `"sparse_categorical_crossentropy"` (integer labels).
    public static var sparseCategoricalCrossentropy: Loss { SparseCategoricalCrossentropy() }
    /// Keras: `"huber"` (delta 1).
    public static var huber: Loss { Huber() }
}
extension MetricConvertible where Self == Metric {
    /// Keras: `"accuracy"`, binary, categorical or sparse as the shapes decide.
    public static var accuracy: Metric { Accuracy() }
    /// Keras: `"binary_accuracy"` (threshold 0.5).
    public static var binaryAccuracy: Metric { BinaryAccuracy() }
    /// Keras: `"categorical_accuracy"`.
    public static var categoricalAccuracy: Metric { CategoricalAccuracy() }
    /// Keras: `"sparse_categorical_accuracy"`.
    public static var sparseCategoricalAccuracy: Metric { SparseCategoricalAccuracy() }
    /// Keras: `"mean_squared_error"` as a metric.
    public static var meanSquaredError: Metric { MeanSquaredErrorMetric() }
    /// Keras: `"mean_absolute_error"` as a metric.
    public static var meanAbsoluteError: Metric { MeanAbsoluteErrorMetric() }
    /// Keras: `"mse"` as a metric (logged as `mse`).
    public static var mse: Metric { MeanSquaredErrorMetric() }
    /// Keras: `"mae"` as a metric (logged as `mae`).
    public static var mae: Metric { MeanAbsoluteErrorMetric() }
    /// Keras: `"precision"` (threshold 0.5).
    public static var precision: Metric { Precision() }
    /// Keras: `"recall"` (threshold 0.5).
    public static var recall: Metric { Recall() }
    /// Keras: `"auc"` (ROC, 200 thresholds).
    public static var auc: Metric { AUC() }
    /// Keras: `"f1_score"` (macro average in Lamina).
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
