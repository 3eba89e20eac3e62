/// `accuracy`: becomes binary (prediction last dim 1), sparse (labels of lower rank, or a
/// trailing 1 against several classes) or categorical, as Keras decides by shapes.
public final class Accuracy: Metric {
    public override var direction: MetricDirection? { .up }
    public override class var kerasNames: [String] { ["accuracy", "acc"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { Accuracy() }
    /// The kind of accuracy the first batch's shapes call for; its per-sample hits feed this
    /// metric's own total and count.
    private var kind: Metric?
    /// Keras: `metrics=["accuracy"]`.
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
    /// A prediction above this counts as class 1 (Keras `threshold`, default 0.5).
    public let threshold: Double
    /// Keras: `keras.metrics.BinaryAccuracy(threshold=0.5)`.
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
    /// Keras: `keras.metrics.CategoricalAccuracy()`.
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
    /// Keras: `keras.metrics.SparseCategoricalAccuracy()`.
    public init() { super.init(name: "sparse_categorical_accuracy") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] {
        zip(yTrue.scalarsAsDouble(), yPred.argmax(axis: -1).asArray(Int32.self)).map { $0 == Double($1) ? 1 : 0 }
    }
}
