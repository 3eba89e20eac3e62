/// A model weight: a named tensor that layers, optimizers and users share by reference.
/// Optimizers update `value` in place.
public final class Variable {
    /// Keras-style path, e.g. `dense_1/kernel`.
    public var name: String
    /// The current value (the optimizer updates it in place).
    public var value: Tensor
    /// False for statistics such as BatchNormalization's moving mean (Keras's non-trainable weights).
    public let trainable: Bool
    /// The bytes per value Keras gives this weight when its dtype differs from the layer's:
    /// 8 for Normalization's `count`, an int64 in Keras (summaries count its size so, and
    /// `.keras` files hold it as int64). Nil: the tensor's own dtype.
    public var kerasByteSize: Int?

    /// A weight named `name` (`dense/kernel`) holding `value`; `trainable: false` for statistics (BatchNormalization's moving mean).
    public init(name: String, value: Tensor, trainable: Bool = true) {
        self.name = name
        self.value = value
        self.trainable = trainable
    }

    /// The value's shape.
    public var shape: [Int] { value.shape }
}
