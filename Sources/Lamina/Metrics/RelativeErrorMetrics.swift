import Foundation

/// The mean absolute percentage error as a metric. Keras: `metrics.MeanAbsolutePercentageError`
/// (`"mape"`).
public final class MeanAbsolutePercentageErrorMetric: MeanMetric {
    public override var direction: MetricDirection? { .down }
    /// Keras's defaults: named `mean_absolute_percentage_error`.
    public init() {
        super.init(name: "mean_absolute_percentage_error") { y, p in 100 * Swift.abs(y - p) / Swift.max(Swift.abs(y), Loss.epsilon) }
    }
    public override class var kerasNames: [String] { ["mean_absolute_percentage_error", "mape", "MeanAbsolutePercentageError", "MAPE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { MeanAbsolutePercentageErrorMetric() }
}

/// The mean squared logarithmic error as a metric. Keras: `metrics.MeanSquaredLogarithmicError`
/// (`"msle"`).
public final class MeanSquaredLogarithmicErrorMetric: MeanMetric {
    public override var direction: MetricDirection? { .down }
    /// Keras's defaults: named `mean_squared_logarithmic_error`.
    public init() {
        super.init(name: "mean_squared_logarithmic_error") { y, p in
            let d = Foundation.log(Swift.max(p, Loss.epsilon) + 1) - Foundation.log(Swift.max(y, Loss.epsilon) + 1)
            return d * d
        }
    }
    public override class var kerasNames: [String] { ["mean_squared_logarithmic_error", "msle", "MeanSquaredLogarithmicError", "MSLE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { MeanSquaredLogarithmicErrorMetric() }
}
