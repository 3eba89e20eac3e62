/// `x` for x > 0, `negativeSlope·x` otherwise. Keras: `LeakyReLU` (default slope 0.3 —
/// PyTorch's is 0.01, a common porting trap).
public final class LeakyReLU: Layer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let slope = try r.value("alpha") != nil ? r.double("alpha") : r.double("negative_slope", default: 0.3)
        return try LeakyReLU(negativeSlope: slope, name: r.layerName())
    }
    /// The slope for negative inputs (Keras `negative_slope`, default 0.3).
    public let negativeSlope: Double

    /// Keras: `keras.layers.LeakyReLU(negative_slope=0.3)`; PyTorch: `LeakyReLU(negative_slope=0.01)` (note the different default).
    public init(negativeSlope: Double = 0.3, inputShape: [Int]? = nil, name: String? = nil) {
        self.negativeSlope = negativeSlope
        super.init(name: name, inputShape: inputShape)
    }

    /// The older Keras spelling.
    public override func config() throws -> [String: Any] { ["negative_slope": negativeSlope] }
    /// The older Keras spelling: `LeakyReLU(alpha=...)`, the same as `negativeSlope`.
    public convenience init(alpha: Double, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(negativeSlope: alpha, inputShape: inputShape, name: name)
    }

    public override func checkInputShape(_ shape: [Int]) throws {}
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { x.leakyRelu(alpha: negativeSlope) }
}
