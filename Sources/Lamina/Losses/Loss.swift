import Foundation

/// A loss function: reduces `(yTrue, yPred)` over a batch to a scalar (Keras's
/// `sum_over_batch_size`: the mean of per-sample losses). Spelled
/// `loss: .binaryCrossentropy`, `loss: BinaryCrossentropy(fromLogits: true)` or, from data,
/// `try Loss.named("binary_crossentropy")`.
open class Loss {
    /// Keras's name, used in configs.
    public let name: String

    public init(name: String) { self.name = name }

    /// Per-sample losses `[batch]` from labels and predictions of the same batch.
    open func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor { fatalError("\(Self.self) must override perSample") }

    /// Throws when labels and predictions cannot be compared.
    open func validate(_ yTrue: Tensor, _ yPred: Tensor) throws {
        if yTrue.shape != yPred.shape && !(yTrue.count == yPred.count) {
            throw LaminaError.shape("\(name): labels of shape \(yTrue.shape) do not match predictions of shape \(yPred.shape)")
        }
    }

    /// Labels as the predictions' dtype and shape (Keras squeezes/expands a trailing 1).
    func aligned(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let y = yTrue.dtype == yPred.dtype ? yTrue : yTrue.cast(to: yPred.dtype)
        return y.shape == yPred.shape ? y : y.reshaped(to: yPred.shape)
    }

    /// The mean loss over the batch, or over the steps the predictions' mask keeps (Keras's
    /// `loss(y_true, y_pred)` with `y_pred._keras_mask`).
    public func callAsFunction(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor { reduced(yTrue, yPred, sampleWeights: nil) }

    /// Keras's `epsilon()`: predicted probabilities are clipped to [ε, 1 − ε].
    public static let epsilon = 1e-7


    /// A loss by its Keras name (`"binary_crossentropy"`, `"BinaryCrossentropy"`, `"mse"`), with
    /// its default options.
    public static func named(_ name: String) throws -> Loss {
        try LossRegistry.classes.require(name).fromKerasConfig(ConfigReader(className: name, values: [:]))
    }

    // MARK: - The class's own round trip

    /// The Keras class name this class saves as and loads from.
    open class var kerasClassName: String { String(describing: self) }
    /// Other names Keras accepts for it (`binary_crossentropy`, `mse`).
    open class var kerasAliases: [String] { [] }
    /// The options that differ from their defaults, in Keras's config keys. A loss without any
    /// saves as its name (`"binary_crossentropy"`), as Keras's compile config does.
    open func config() -> [String: Any] { [:] }
    /// A loss of this class from Keras's config (options absent: defaults). Registered classes
    /// (`LossRegistry.register(MyLoss.self)`) override it.
    open class func fromKerasConfig(_ r: ConfigReader) throws -> Loss {
        throw LaminaError.configuration("\(kerasClassName) cannot be loaded: it does not override class func fromKerasConfig(_:)")
    }
}

/// mean((yTrue − yPred)²) over the last axis. Keras: `MeanSquaredError`.
public final class MeanSquaredError: Loss {
    public override class var kerasAliases: [String] { ["mean_squared_error", "mse", "MSE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { MeanSquaredError() }
    public init() { super.init(name: "mean_squared_error") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        (aligned(yTrue, yPred) - yPred).square().reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}

/// mean(|yTrue − yPred|) over the last axis. Keras: `MeanAbsoluteError`.
public final class MeanAbsoluteError: Loss {
    public override class var kerasAliases: [String] { ["mean_absolute_error", "mae", "MAE"] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { MeanAbsoluteError() }
    public init() { super.init(name: "mean_absolute_error") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        (aligned(yTrue, yPred) - yPred).abs().reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}

/// 0.5·e² for |e| ≤ delta, delta·(|e| − 0.5·delta) beyond; mean over the last axis. Keras: `Huber`.
public final class Huber: Loss {
    public override class var kerasAliases: [String] { ["huber", "huber_loss"] }
    public override func config() -> [String: Any] { ["delta": delta] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { Huber(delta: try r.double("delta", default: 1, in: 0...1e12)) }
    public let delta: Double
    public init(delta: Double = 1) { self.delta = delta; super.init(name: "huber_loss") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let e = (aligned(yTrue, yPred) - yPred).abs()
        let quadratic = e.clip(min: 0, max: delta)
        // 0.5·q² + delta·(e − q): equals both branches and has the right gradient.
        let l = quadratic.square() * 0.5 + (e - quadratic) * delta
        return l.reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}

/// Binary cross-entropy on probabilities (clipped to [ε, 1 − ε]) or logits. Keras: `BinaryCrossentropy`.
public final class BinaryCrossentropy: Loss {
    public override class var kerasAliases: [String] { ["binary_crossentropy", "bce", "BCE"] }
    public override func config() -> [String: Any] { fromLogits ? ["from_logits": true] : [:] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { BinaryCrossentropy(fromLogits: try r.bool("from_logits", default: false)) }
    public let fromLogits: Bool
    public init(fromLogits: Bool = false) { self.fromLogits = fromLogits; super.init(name: "binary_crossentropy") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let y = aligned(yTrue, yPred)
        let l: Tensor
        if fromLogits {
            // max(z, 0) − z·y + log(1 + e^−|z|): TensorFlow's stable sigmoid cross-entropy.
            l = yPred.relu() - yPred * y + (-yPred.abs()).softplus()
        } else {
            let p = yPred.clip(min: Loss.epsilon, max: 1 - Loss.epsilon)
            l = -(y * p.log() + (1 - y) * (1 - p).log())
        }
        return l.reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}

/// Cross-entropy against one-hot labels. Probabilities are renormalized and clipped as in
/// Keras; logits go through a stable log-softmax. Keras: `CategoricalCrossentropy`.
public final class CategoricalCrossentropy: Loss {
    public override class var kerasAliases: [String] { ["categorical_crossentropy"] }
    public override func config() -> [String: Any] { fromLogits ? ["from_logits": true] : [:] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { CategoricalCrossentropy(fromLogits: try r.bool("from_logits", default: false)) }
    public let fromLogits: Bool
    public init(fromLogits: Bool = false) { self.fromLogits = fromLogits; super.init(name: "categorical_crossentropy") }
    public override func validate(_ yTrue: Tensor, _ yPred: Tensor) throws {
        guard yTrue.shape == yPred.shape else {
            throw LaminaError.shape("categorical_crossentropy: one-hot labels of shape \(yTrue.shape) do not match predictions of shape \(yPred.shape) (use sparse_categorical_crossentropy for class indices)")
        }
    }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let y = aligned(yTrue, yPred)
        let logp: Tensor
        if fromLogits {
            logp = yPred.logSoftmax(axis: -1)
        } else {
            logp = (yPred / yPred.sum(axes: [-1], keepDims: true)).clip(min: Loss.epsilon, max: 1 - Loss.epsilon).log()
        }
        return -(y * logp).sum(axes: [-1])
    }
}

/// Cross-entropy against integer class indices (int32 or whole floats). Keras:
/// `SparseCategoricalCrossentropy`.
public final class SparseCategoricalCrossentropy: Loss {
    public override class var kerasAliases: [String] { ["sparse_categorical_crossentropy"] }
    public override func config() -> [String: Any] { fromLogits ? ["from_logits": true] : [:] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { SparseCategoricalCrossentropy(fromLogits: try r.bool("from_logits", default: false)) }
    public let fromLogits: Bool
    public init(fromLogits: Bool = false) { self.fromLogits = fromLogits; super.init(name: "sparse_categorical_crossentropy") }

    public override func validate(_ yTrue: Tensor, _ yPred: Tensor) throws {
        let classes = yPred.shape.last ?? 0
        guard yTrue.count == yPred.count / max(classes, 1) else {
            throw LaminaError.shape("sparse_categorical_crossentropy: \(yTrue.count) labels for \(yPred.shape[0]) predictions of shape \(yPred.shape)")
        }
        for v in yTrue.scalarsAsDouble() where v < 0 || v >= Double(classes) || v != v.rounded() {
            throw LaminaError.value("sparse_categorical_crossentropy: label \(v) is not a class index in 0..<\(classes)")
        }
    }

    /// One-hot rows for the labels, in the predictions' dtype.
    static func oneHot(_ labels: Tensor, classes: Int, dtype: DType) -> Tensor {
        let idx = labels.scalarsAsDouble()
        var values = [Double](repeating: 0, count: idx.count * classes)
        for (i, c) in idx.enumerated() { values[i * classes + Int(c)] = 1 }
        return Tensor(shape: [idx.count, classes], scalars: values).cast(to: dtype)
    }

    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let classes = yPred.shape.last!
        let flat = yPred.reshaped(to: [-1, classes])
        let y = Self.oneHot(yTrue, classes: classes, dtype: yPred.dtype)
        let logp: Tensor
        if fromLogits {
            logp = flat.logSoftmax(axis: -1)
        } else {
            logp = (flat / flat.sum(axes: [-1], keepDims: true)).clip(min: Loss.epsilon, max: 1 - Loss.epsilon).log()
        }
        let l = -(y * logp).sum(axes: [-1])
        return l.reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}
