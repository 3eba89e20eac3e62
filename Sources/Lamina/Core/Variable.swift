/// A model weight: a named tensor that layers, optimizers and users share by reference.
/// Optimizers update `value` in place.
public final class Variable {
    /// Keras-style path, e.g. `dense_1/kernel`.
    public var name: String
    public var value: Tensor
    /// False for statistics such as BatchNormalization's moving mean (Keras's non-trainable weights).
    public let trainable: Bool
    /// The bytes per value Keras gives this weight when its dtype differs from the layer's:
    /// 8 for Normalization's `count`, an int64 in Keras (summaries count its size so, and
    /// `.keras` files hold it as int64). Nil: the tensor's own dtype.
    public var kerasByteSize: Int?

    public init(name: String, value: Tensor, trainable: Bool = true) {
        self.name = name
        self.value = value
        self.trainable = trainable
    }

    public var shape: [Int] { value.shape }
}
