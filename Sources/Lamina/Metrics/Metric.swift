/// Which way a metric improves. Keras: a metric's `_direction` ("up" or "down").
public enum MetricDirection: Sendable { case up, down }

/// A running metric over an epoch: `update` per batch, `result` for the mean so far.
/// Spelled `metrics: [.accuracy]`, `[.precision, .recall]` or, from data, `Metric.named("mae")`.
/// (Metrics and losses that share a Keras name are different types: `Metric.meanSquaredError`
/// reports, `Loss.meanSquaredError` trains.)
open class Metric {
    /// The log key (`accuracy`, `val_mae`); a metric made from a Keras string keeps that string, as Keras.
    public internal(set) var name: String
    var total = 0.0, count = 0.0

    public init(name: String) { self.name = name }

    /// Whether a higher value is better (`.up`: accuracies, precision, recall, AUC, F-scores) or
    /// a lower one (`.down`: errors); nil when the metric does not say (Keras 3's
    /// `_direction`). Monitoring callbacks in mode `.auto` read it.
    open var direction: MetricDirection? { nil }

    /// Adds a batch: labels (class indices or one-hot or targets) and predictions.
    open func update(_ yTrue: Tensor, _ yPred: Tensor) {
        let values = perSample(yTrue, yPred)
        total += values.reduce(0, +)
        count += Double(values.count)
    }

    /// Per-sample values whose mean is the metric (the default update averages them).
    open func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] { fatalError("\(Self.self) must override") }

    open func result() -> Double { count > 0 ? total / count : 0 }

    open func reset() { total = 0; count = 0 }

    /// What the metric has accumulated, as numbers that add up over shards of the data:
    /// data-parallel training sums them across processes to report global values. A
    /// subclass that keeps its own counts overrides this (an empty array: nothing seen yet).
    open var state: [Double] {
        get { [total, count] }
        set { (total, count) = newValue.count == 2 ? (newValue[0], newValue[1]) : (0, 0) }
    }


    // The shorthands (`.accuracy`, `.mse`, ...) are in CompileArguments.swift, where a name can stand too.

    /// A metric by one of its Keras names (`"accuracy"`, `"acc"`, `"mae"`), with default options.
    public static func named(_ name: String) throws -> Metric {
        let type = try MetricRegistry.classes.require(name)
        let metric = try type.fromKerasConfig(ConfigReader(className: name, values: [:]))
        if type.kerasNames.contains(name) { metric.name = name }   // Keras logs `metrics=["mae"]` as "mae"
        return metric
    }

    // MARK: - The class's own round trip

    /// The names Keras knows this metric by; the first is the one it is saved as (compile
    /// configs list metrics by name). A metric's `name` should be one of them.
    open class var kerasNames: [String] { [] }

    /// The options that differ from the class's defaults' reading, in Keras's `get_config()`
    /// keys (`name` added by `serialize()`); empty for metrics without options.
    open func config() -> [String: Any] { [:] }

    /// How compile configs list this metric: its name when it has no options, else Keras's
    /// `{"module": "keras.metrics", "class_name": ..., "config": ...}`.
    public func serialize() throws -> Any {
        let options = config()
        guard !options.isEmpty else { return name }
        let type = Swift.type(of: self)
        try MetricRegistry.classes.checkSavable(type)
        let className = type.kerasNames.first { $0.first?.isUppercase == true } ?? type.kerasNames.first ?? "\(type)"
        return kerasObject("keras.metrics", className, options.merging(["name": name]) { $1 })
    }

    /// A metric from a compile config's entry: a name, or Keras's serialized object.
    public static func fromConfig(_ any: Any) throws -> Metric {
        if let name = any as? String { return try named(name) }
        let object = try SerializedObject(any, what: "metric")
        let r = object.reader
        let metric = try MetricRegistry.classes.require(object.className).fromKerasConfig(r)
        _ = (r.value("name"), r.value("dtype"))
        try r.finish()
        return metric
    }

    /// A metric of this class (options absent: defaults). Registered classes
    /// (`MetricRegistry.register(MyMetric.self)`) override it.
    open class func fromKerasConfig(_ r: ConfigReader) throws -> Metric {
        throw LaminaError.configuration("\(self) cannot be loaded: it does not override class func fromKerasConfig(_:)")
    }
}

/// Loadable metric classes by their Keras names. Each class owns its round trip
/// (`kerasNames`, `fromKerasConfig`); registering is naming it.
public enum MetricRegistry {
    static let builtinTypes: [Metric.Type] = [Accuracy.self, BinaryAccuracy.self, CategoricalAccuracy.self,
                                              SparseCategoricalAccuracy.self, MeanSquaredErrorMetric.self,
                                              MeanAbsoluteErrorMetric.self, Precision.self, Recall.self,
                                              TopKCategoricalAccuracy.self, SparseTopKCategoricalAccuracy.self,
                                              AUC.self, FBetaScore.self, F1Score.self,
                                              MeanAbsolutePercentageErrorMetric.self, MeanSquaredLogarithmicErrorMetric.self]
    static let classes = KerasClasses<Metric.Type>("metric", registry: "MetricRegistry", names: { $0.kerasNames }, builtinTypes)

    /// Makes these classes loadable under their `kerasNames`.
    public static func register(_ types: Metric.Type...) { classes.register(types) }
}

/// The mean over all elements of `f(yTrue, yPred)`.
public class MeanMetric: Metric {
    let f: @Sendable (Double, Double) -> Double
    init(name: String, _ f: @escaping @Sendable (Double, Double) -> Double) { self.f = f; super.init(name: name) }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] {
        zip(yTrue.scalarsAsDouble(), yPred.scalarsAsDouble()).map(f)
    }
}

/// The mean squared error as a metric. Keras: `metrics.MeanSquaredError` (`"mse"`).
public final class MeanSquaredErrorMetric: MeanMetric {
    public override var direction: MetricDirection? { .down }
    public init() { super.init(name: "mean_squared_error") { ($0 - $1) * ($0 - $1) } }
    public override class var kerasNames: [String] { ["mean_squared_error", "mse", "MeanSquaredError", "MSE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { MeanSquaredErrorMetric() }
}

/// The mean absolute error as a metric. Keras: `metrics.MeanAbsoluteError` (`"mae"`).
public final class MeanAbsoluteErrorMetric: MeanMetric {
    public override var direction: MetricDirection? { .down }
    public init() { super.init(name: "mean_absolute_error") { Swift.abs($0 - $1) } }
    public override class var kerasNames: [String] { ["mean_absolute_error", "mae", "MeanAbsoluteError", "MAE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { MeanAbsoluteErrorMetric() }
}

/// `accuracy`: becomes binary (prediction last dim 1), sparse (labels of lower rank, or a
/// trailing 1 against several classes) or categorical, as Keras decides by shapes.
public final class Accuracy: Metric {
    public override var direction: MetricDirection? { .up }
    public override class var kerasNames: [String] { ["accuracy", "acc"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { Accuracy() }
    /// The kind of accuracy the first batch's shapes call for; its per-sample hits feed this
    /// metric's own total and count.
    private var kind: Metric?
    public init() { super.init(name: "accuracy") }

    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] {
        if kind == nil {
            let last = yPred.shape.last ?? 1
            if last == 1 { kind = BinaryAccuracy() }
            else if yTrue.rank < yPred.rank || (yTrue.shape.last == 1 && last > 1) { kind = SparseCategoricalAccuracy() }
            else { kind = CategoricalAccuracy() }
        }
        return kind!.perSample(yTrue, yPred)
    }
}

/// Share of predictions on the right side of `threshold`. Keras: `BinaryAccuracy`.
public final class BinaryAccuracy: Metric {
    public override var direction: MetricDirection? { .up }
    public override class var kerasNames: [String] { ["binary_accuracy", "BinaryAccuracy"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { BinaryAccuracy(threshold: try r.double("threshold", default: 0.5)) }
    public let threshold: Double
    public init(threshold: Double = 0.5) { self.threshold = threshold; super.init(name: "binary_accuracy") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] {
        zip(yTrue.scalarsAsDouble(), yPred.scalarsAsDouble()).map { ($1 > threshold ? 1.0 : 0.0) == $0 ? 1 : 0 }
    }
}

/// Share of rows whose argmax matches the one-hot label's. Keras: `CategoricalAccuracy`.
public final class CategoricalAccuracy: Metric {
    public override var direction: MetricDirection? { .up }
    public override class var kerasNames: [String] { ["categorical_accuracy", "CategoricalAccuracy"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { CategoricalAccuracy() }
    public init() { super.init(name: "categorical_accuracy") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] {
        zip(yTrue.argmax(axis: -1).asArray(Int32.self), yPred.argmax(axis: -1).asArray(Int32.self)).map { $0 == $1 ? 1 : 0 }
    }
}

/// Share of rows whose argmax equals the class index. Keras: `SparseCategoricalAccuracy`.
public final class SparseCategoricalAccuracy: Metric {
    public override var direction: MetricDirection? { .up }
    public override class var kerasNames: [String] { ["sparse_categorical_accuracy", "SparseCategoricalAccuracy"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { SparseCategoricalAccuracy() }
    public init() { super.init(name: "sparse_categorical_accuracy") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] {
        zip(yTrue.scalarsAsDouble(), yPred.argmax(axis: -1).asArray(Int32.self)).map { $0 == Double($1) ? 1 : 0 }
    }
}

/// tp / (tp + fp) or tp / (tp + fn) at threshold 0.5: the shared counting of Precision and Recall.
public class ConfusionRatio: Metric {
    public override var direction: MetricDirection? { .up }
    /// Whether the denominator counts predicted positives (precision) or actual positives (recall).
    let overPredicted: Bool
    init(name: String, overPredicted: Bool) { self.overPredicted = overPredicted; super.init(name: name) }
    /// `total` counts true positives, `count` the denominator, so the base `result`
    /// (total / count, 0 when empty), `reset` and `state` apply as they are.
    public override func update(_ yTrue: Tensor, _ yPred: Tensor) {
        for (t, p) in zip(yTrue.scalarsAsDouble(), yPred.scalarsAsDouble()) {
            let (actual, predicted) = (t > 0.5, p > 0.5)
            if overPredicted ? predicted : actual { count += 1 }
            if actual && predicted { total += 1 }
        }
    }
}

/// Binary precision tp / (tp + fp) at threshold 0.5. Keras: `Precision`.
public final class Precision: ConfusionRatio {
    public override class var kerasNames: [String] { ["precision", "Precision"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { Precision() }
    public init() { super.init(name: "precision", overPredicted: true) }
}

/// Binary recall tp / (tp + fn) at threshold 0.5. Keras: `Recall`.
public final class Recall: ConfusionRatio {
    public override class var kerasNames: [String] { ["recall", "Recall"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { Recall() }
    public init() { super.init(name: "recall", overPredicted: false) }
}

/// Whether the true class is among the `k` highest predictions: ties with the k-th value count
/// as in (Keras's `in_top_k`). The true class is an index or a one-hot row's argmax.
private func inTopK(_ predictions: [Double], classes: Int, truth: [Int], k: Int) -> [Double] {
    truth.enumerated().map { row, c in
        let p = predictions[(row * classes)..<((row + 1) * classes)]
        guard c >= 0 && c < classes, p[row * classes + c].isFinite else { return 0 }
        let target = p[row * classes + c]
        return Double(p.filter { $0 > target }.count) < Double(k) ? 1 : 0
    }
}

/// Share of rows whose true class is among the top `k` predictions (ties with the k-th value
/// count as in, as Keras's `in_top_k`); the dense and sparse Keras metrics differ only in how the
/// class is given.
public class TopKAccuracy: Metric {
    public override var direction: MetricDirection? { .up }
    public let k: Int
    let sparse: Bool
    init(k: Int, sparse: Bool, name: String) { (self.k, self.sparse) = (k, sparse); super.init(name: name) }
    public override func config() -> [String: Any] { k == 5 ? [:] : ["k": k] }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] {
        let classes = yPred.shape.last ?? 1
        let truth = sparse ? yTrue.scalarsAsDouble().map { Int($0.rounded()) } : yTrue.argmax(axis: -1).asArray(Int32.self).map(Int.init)
        return inTopK(yPred.scalarsAsDouble(), classes: classes, truth: truth, k: k)
    }
}

/// The true class as a one-hot row. Keras: `TopKCategoricalAccuracy(k=5)`.
public final class TopKCategoricalAccuracy: TopKAccuracy {
    public init(k: Int = 5) { super.init(k: k, sparse: false, name: "top_k_categorical_accuracy") }
    public override class var kerasNames: [String] { ["top_k_categorical_accuracy", "TopKCategoricalAccuracy"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { TopKCategoricalAccuracy(k: try r.int("k", default: 5, minimum: 1)) }
}

/// The true class as an index. Keras: `SparseTopKCategoricalAccuracy(k=5)`.
public final class SparseTopKCategoricalAccuracy: TopKAccuracy {
    public init(k: Int = 5) { super.init(k: k, sparse: true, name: "sparse_top_k_categorical_accuracy") }
    public override class var kerasNames: [String] { ["sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { SparseTopKCategoricalAccuracy(k: try r.int("k", default: 5, minimum: 1)) }
}
