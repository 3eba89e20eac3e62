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

    /// A metric logged as `name` (for subclasses).
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

    /// The metric so far this epoch (the mean of the per-sample values; 0 before any update). Keras: `result()`.
    open func result() -> Double { count > 0 ? total / count : 0 }

    /// Forgets what was accumulated (at each epoch's start). Keras: `reset_state()`.
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
