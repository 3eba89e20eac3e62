import Foundation

/// A loss function: reduces `(yTrue, yPred)` over a batch to a scalar (Keras's
/// `sum_over_batch_size`: the mean of per-sample losses). Spelled
/// `loss: .binaryCrossentropy`, `loss: BinaryCrossentropy(fromLogits: true)` or, from data,
/// `try Loss.named("binary_crossentropy")`.
open class Loss {
    /// Keras's name, used in configs.
    public let name: String

    /// A loss with Keras's `name` (for subclasses, which pass their Keras name such as `"huber_loss"`).
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

/// Loadable loss classes by Keras class name and aliases. Each class owns its round trip
/// (`config()`, `fromKerasConfig`); registering is naming it.
public enum LossRegistry {
    static let builtinTypes: [Loss.Type] = [MeanSquaredError.self, MeanAbsoluteError.self, Huber.self, BinaryCrossentropy.self,
                                            CategoricalCrossentropy.self, SparseCategoricalCrossentropy.self, KLDivergence.self,
                                            Hinge.self, SquaredHinge.self, CategoricalHinge.self, LogCosh.self, Poisson.self,
                                            CosineSimilarity.self, BinaryFocalCrossentropy.self,
                                            MeanAbsolutePercentageError.self, MeanSquaredLogarithmicError.self]
    static let classes = KerasClasses<Loss.Type>("loss", registry: "LossRegistry", names: { [$0.kerasClassName] + $0.kerasAliases },
                                                 builtinTypes)

    /// Makes these classes savable and loadable, under their `kerasClassName` and `kerasAliases`.
    public static func register(_ types: Loss.Type...) { classes.register(types) }
}
