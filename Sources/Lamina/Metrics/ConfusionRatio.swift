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
    /// Keras: `keras.metrics.Precision()` (threshold 0.5).
    public init() { super.init(name: "precision", overPredicted: true) }
}

/// Binary recall tp / (tp + fn) at threshold 0.5. Keras: `Recall`.
public final class Recall: ConfusionRatio {
    public override class var kerasNames: [String] { ["recall", "Recall"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { Recall() }
    /// Keras: `keras.metrics.Recall()` (threshold 0.5).
    public init() { super.init(name: "recall", overPredicted: false) }
}
