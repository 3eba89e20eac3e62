/// Applies an activation function. Keras: `keras.layers.Activation`.
public final class Activation: Layer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer { try Activation(r.activation(), name: r.layerName()) }
    /// The function applied elementwise.
    public let activation: ActivationFunction

    /// Keras: `keras.layers.Activation(activation)`; an unknown activation is reported through `argumentError`.
    public init(_ activation: ActivationFunction, inputShape: [Int]? = nil, name: String? = nil) {
        self.activation = activation
        super.init(name: name, inputShape: inputShape)
        check(activation)
    }

    public override func config() throws -> [String: Any] { ["activation": activation.description] }
    public override func checkInputShape(_ shape: [Int]) throws {}
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { activation(x) }
}
