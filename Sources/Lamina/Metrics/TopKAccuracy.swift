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
    /// How many of the highest predictions may hold the true class (Keras `k`, default 5).
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
    /// Keras: `keras.metrics.TopKCategoricalAccuracy(k=5)`.
    public init(k: Int = 5) { super.init(k: k, sparse: false, name: "top_k_categorical_accuracy") }
    public override class var kerasNames: [String] { ["top_k_categorical_accuracy", "TopKCategoricalAccuracy"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { TopKCategoricalAccuracy(k: try r.int("k", default: 5, minimum: 1)) }
}

/// The true class as an index. Keras: `SparseTopKCategoricalAccuracy(k=5)`.
public final class SparseTopKCategoricalAccuracy: TopKAccuracy {
    /// Keras: `keras.metrics.SparseTopKCategoricalAccuracy(k=5)`.
    public init(k: Int = 5) { super.init(k: k, sparse: true, name: "sparse_top_k_categorical_accuracy") }
    public override class var kerasNames: [String] { ["sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { SparseTopKCategoricalAccuracy(k: try r.int("k", default: 5, minimum: 1)) }
}
