import Foundation

// Keras's threshold and per-class metrics: AUC (ROC and PR) and F1 / F-beta scores, each
// counted as Keras counts them (keras/src/metrics/confusion_metrics.py, f_score_metrics.py).

/// Area under the ROC or precision-recall curve, from true/false positive and negative counts
/// at `numThresholds` thresholds (Keras: `AUC(num_thresholds=200, curve="ROC",
/// summation_method="interpolation")`). Thresholds are `−ε, 1/(n−1), …, (n−2)/(n−1), 1+ε`;
/// a prediction counts as positive above a threshold; labels are positive when nonzero; all
/// outputs are pooled (`multi_label=False`). ROC sums trapezoids; PR interpolates as Davis &
/// Goadrich, Keras's closed form.
public final class AUC: Metric {
    public override var direction: MetricDirection? { .up }
    /// The curve whose area is measured: ROC (true vs false positive rate) or PR (precision vs recall). Keras: `curve`.
    public enum Curve: String, Sendable { case roc = "ROC", pr = "PR" }
    /// How the area between thresholds is summed. Keras: `summation_method`.
    public enum SummationMethod: String, Sendable { case interpolation, minoring, majoring }

    /// The number of thresholds (at least 2). Keras: `num_thresholds`.
    public let numThresholds: Int
    /// The curve measured. Keras: `curve`.
    public let curve: Curve
    /// How the area is summed. Keras: `summation_method`.
    public let summationMethod: SummationMethod
    let thresholds: [Float]
    var tp: [Double], fp: [Double], tn: [Double], fn: [Double]

    /// Keras: `keras.metrics.AUC(num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc")`; fewer than 2 thresholds means 2.
    public init(numThresholds: Int = 200, curve: Curve = .roc, summationMethod: SummationMethod = .interpolation, name: String = "auc") {
        let n = Swift.max(numThresholds, 2)
        (self.numThresholds, self.curve, self.summationMethod) = (n, curve, summationMethod)
        let epsilon = 1e-7
        let inner: [Double] = (0..<(n - 2)).map { Double($0 + 1) / Double(n - 1) }
        thresholds = ([-epsilon] + inner + [1 + epsilon]).map { Float($0) }
        (tp, fp, tn, fn) = ([Double](repeating: 0, count: n), [Double](repeating: 0, count: n),
                            [Double](repeating: 0, count: n), [Double](repeating: 0, count: n))
        super.init(name: name)
    }
    public override class var kerasNames: [String] { ["auc", "AUC"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric {
        guard try !r.bool("multi_label", default: false), r.value("thresholds") == nil, r.value("label_weights") == nil else {
            throw r.error("multi_label, thresholds and label_weights are not supported")
        }
        let curveName = try r.string("curve", default: "ROC").uppercased()
        guard let curve = Curve(rawValue: curveName) else { throw r.error("'curve' must be ROC or PR, got \(curveName)") }
        let method = try r.string("summation_method", default: "interpolation").lowercased()
        guard let summation = SummationMethod(rawValue: method) else {
            throw r.error("'summation_method' must be interpolation, minoring or majoring, got \(method)")
        }
        _ = (r.value("num_labels"), r.value("dtype"))
        guard try !r.bool("from_logits", default: false) else { throw r.error("from_logits is not supported") }
        return AUC(numThresholds: try r.int("num_thresholds", default: 200, minimum: 2), curve: curve, summationMethod: summation,
                   name: try r.string("name", default: "auc"))
    }
    public override func config() -> [String: Any] {
        ["num_thresholds": numThresholds, "curve": curve.rawValue, "summation_method": summationMethod.rawValue, "multi_label": false]
    }

    public override func update(_ yTrue: Tensor, _ yPred: Tensor) {
        for (t, p) in zip(yTrue.scalarsAsDouble(), yPred.scalarsAsDouble()) {
            let (positive, prediction) = (t != 0, Float(p))
            for (i, threshold) in thresholds.enumerated() {
                switch (positive, prediction > threshold) {
                case (true, true): tp[i] += 1
                case (true, false): fn[i] += 1
                case (false, true): fp[i] += 1
                case (false, false): tn[i] += 1
                }
            }
        }
    }
    public override func reset() {
        for i in 0..<numThresholds { (tp[i], fp[i], tn[i], fn[i]) = (0, 0, 0, 0) }
    }
    public override var state: [Double] {
        get { tp + fp + tn + fn }
        set {
            let n = tp.count
            guard newValue.count == 4 * n else { reset(); return }
            (tp, fp, tn, fn) = (Array(newValue[0..<n]), Array(newValue[n..<(2 * n)]),
                                Array(newValue[(2 * n)..<(3 * n)]), Array(newValue[(3 * n)...]))
        }
    }

    private func ratio(_ a: Double, _ b: Double) -> Double { b == 0 ? 0 : a / b }

    public override func result() -> Double {
        let n = numThresholds
        if curve == .pr && summationMethod == .interpolation {
            var area = 0.0
            for i in 0..<(n - 1) {
                let dtp = tp[i] - tp[i + 1]
                let (p0, p1) = (tp[i] + fp[i], tp[i + 1] + fp[i + 1])
                let slope = ratio(dtp, Swift.max(p0 - p1, 0))
                let intercept = tp[i + 1] - slope * p1
                let pRatio = p0 > 0 && p1 > 0 ? ratio(p0, Swift.max(p1, 0)) : 1
                area += ratio(slope * (dtp + intercept * Foundation.log(pRatio)), Swift.max(tp[i + 1] + fn[i + 1], 0))
            }
            return area
        }
        let recall = (0..<n).map { ratio(tp[$0], tp[$0] + fn[$0]) }
        let (x, y) = curve == .roc
            ? ((0..<n).map { ratio(fp[$0], fp[$0] + tn[$0]) }, recall)
            : (recall, (0..<n).map { ratio(tp[$0], tp[$0] + fp[$0]) })
        return (0..<(n - 1)).reduce(0.0) { sum, i in
            let height: Double
            switch summationMethod {
            case .interpolation: height = (y[i] + y[i + 1]) / 2
            case .minoring: height = Swift.min(y[i], y[i + 1])
            case .majoring: height = Swift.max(y[i], y[i + 1])
            }
            return sum + (x[i] - x[i + 1]) * height
        }
    }
}

/// F-beta score per class from true positives, false positives and false negatives, as
/// Keras's `FBetaScore(average=None, beta=1.0, threshold=None)`: without a threshold each
/// row's largest predictions count as positive, with one, those above it. Labels are one-hot
/// (or multi-hot) rows.
///
/// Keras's default `average=None` reports one score per class; Lamina's logs hold one number
/// per metric, so `average` defaults to `.macro` here and `perClass()` gives Keras's vector.
public class FBetaScore: Metric {
    public override var direction: MetricDirection? { .up }
    /// How the per-class scores become one number: pooled counts (`micro`), their mean (`macro`), or weighted by support (`weighted`).
    public enum Average: String, Sendable { case micro, macro, weighted }
    /// The averaging, the weight of recall against precision, and the positive threshold (nil: each row's largest predictions).
    public let average: Average, beta: Double, threshold: Double?
    var tp: [Double] = [], fp: [Double] = [], fn: [Double] = [], support: [Double] = []

    /// Keras: `keras.metrics.FBetaScore(average="macro", beta=1.0, threshold=None, name="fbeta_score")`.
    public init(average: Average = .macro, beta: Double = 1, threshold: Double? = nil, name: String = "fbeta_score") {
        (self.average, self.beta, self.threshold) = (average, beta, threshold)
        super.init(name: name)
    }
    public override class var kerasNames: [String] { ["fbeta_score", "FBetaScore"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric {
        let (average, threshold) = try arguments(r)
        return FBetaScore(average: average, beta: try r.double("beta", default: 1, in: 1e-9...1e9), threshold: threshold,
                          name: try r.string("name", default: "fbeta_score"))
    }
    static func arguments(_ r: ConfigReader) throws -> (Average, Double?) {
        _ = r.value("dtype")
        let name = try r.string("average", default: "macro")
        guard let average = Average(rawValue: name) else {
            throw r.error("'average' must be micro, macro or weighted (Lamina reports one number), got \(name)")
        }
        return (average, try r.optionalDouble("threshold", in: 0...1))
    }
    public override func config() -> [String: Any] {
        ["average": average.rawValue, "beta": beta, "threshold": threshold.map { $0 as Any } ?? NSNull()]
    }

    public override func update(_ yTrue: Tensor, _ yPred: Tensor) {
        let classes = yPred.shape.last ?? 1
        let (truth, predictions) = (yTrue.scalarsAsDouble(), yPred.scalarsAsDouble())
        guard classes > 0, truth.count == predictions.count else { return }
        if tp.count != classes { (tp, fp, fn, support) = ([Double](repeating: 0, count: classes), [Double](repeating: 0, count: classes),
                                                          [Double](repeating: 0, count: classes), [Double](repeating: 0, count: classes)) }
        for row in 0..<(predictions.count / classes) {
            let p = predictions[(row * classes)..<((row + 1) * classes)]
            let top = p.max() ?? 0
            for c in 0..<classes {
                let value = p[row * classes + c], t = truth[row * classes + c]
                let isPositive = threshold.map { value > $0 } ?? (value >= top && Swift.abs(value) > 1e-9)
                let positive: Double = isPositive ? 1 : 0
                tp[c] += positive * t
                fp[c] += positive * (1 - t)
                fn[c] += (1 - positive) * t
                support[c] += t
            }
        }
    }
    public override func reset() { (tp, fp, fn, support) = ([], [], [], []) }
    public override var state: [Double] {
        get { tp + fp + fn + support }
        set {
            let c = newValue.count / 4
            guard c > 0, newValue.count == 4 * c else { reset(); return }
            (tp, fp, fn, support) = (Array(newValue[0..<c]), Array(newValue[c..<(2 * c)]),
                                     Array(newValue[(2 * c)..<(3 * c)]), Array(newValue[(3 * c)...]))
        }
    }

    /// Keras's per-class scores (`average=None`).
    public func perClass() -> [Double] { scores(tp, fp, fn) }

    private func scores(_ tp: [Double], _ fp: [Double], _ fn: [Double]) -> [Double] {
        let epsilon = 1e-7, b2 = beta * beta
        return tp.indices.map { c in
            let precision = tp[c] / (tp[c] + fp[c] + epsilon), recall = tp[c] / (tp[c] + fn[c] + epsilon)
            return precision * recall / (b2 * precision + recall + epsilon) * (1 + b2)
        }
    }

    public override func result() -> Double {
        guard !tp.isEmpty else { return 0 }
        switch average {
        case .micro: return scores([tp.reduce(0, +)], [fp.reduce(0, +)], [fn.reduce(0, +)])[0]
        case .macro: let s = perClass(); return s.reduce(0, +) / Double(s.count)
        case .weighted:
            let total = support.reduce(0, +) + 1e-7
            return zip(perClass(), support).reduce(0) { $0 + $1.0 * $1.1 / total }
        }
    }
}

/// F1 score (F-beta with beta 1). Keras: `F1Score(average=None, threshold=None)`; see
/// `FBetaScore` for the default `average`.
public final class F1Score: FBetaScore {
    /// Keras: `keras.metrics.F1Score(average="macro", threshold=None, name="f1_score")`.
    public init(average: Average = .macro, threshold: Double? = nil, name: String = "f1_score") {
        super.init(average: average, beta: 1, threshold: threshold, name: name)
    }
    public override class var kerasNames: [String] { ["f1_score", "F1Score"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric {
        let (average, threshold) = try arguments(r)
        _ = r.value("beta")
        return F1Score(average: average, threshold: threshold, name: try r.string("name", default: "f1_score"))
    }
    public override func config() -> [String: Any] { super.config().filter { $0.key != "beta" } }
}
