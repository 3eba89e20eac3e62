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
    /// Keras: `keras.metrics.MeanSquaredError()` (`"mse"`).
    public init() { super.init(name: "mean_squared_error") { ($0 - $1) * ($0 - $1) } }
    public override class var kerasNames: [String] { ["mean_squared_error", "mse", "MeanSquaredError", "MSE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { MeanSquaredErrorMetric() }
}

/// The mean absolute error as a metric. Keras: `metrics.MeanAbsoluteError` (`"mae"`).
public final class MeanAbsoluteErrorMetric: MeanMetric {
    public override var direction: MetricDirection? { .down }
    /// Keras: `keras.metrics.MeanAbsoluteError()` (`"mae"`).
    public init() { super.init(name: "mean_absolute_error") { Swift.abs($0 - $1) } }
    public override class var kerasNames: [String] { ["mean_absolute_error", "mae", "MeanAbsoluteError", "MAE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { MeanAbsoluteErrorMetric() }
}
