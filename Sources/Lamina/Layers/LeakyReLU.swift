/// `x` for x > 0, `negativeSlope·x` otherwise. Keras: `LeakyReLU` (default slope 0.3 —
/// PyTorch's is 0.01, a common porting trap).
public final class LeakyReLU: Layer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let slope = try r.value("alpha") != nil ? r.double("alpha") : r.double("negative_slope", default: 0.3)
        return try LeakyReLU(negativeSlope: slope, name: r.layerName())
    }
    public let negativeSlope: Double

    public init(negativeSlope: Double = 0.3, inputShape: [Int]? = nil, name: String? = nil) {
        self.negativeSlope = negativeSlope
        super.init(name: name, inputShape: inputShape)
    }

    /// The older Keras spelling.
    public override func config() throws -> [String: Any] { ["negative_slope": negativeSlope] }
    public convenience init(alpha: Double, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(negativeSlope: alpha, inputShape: inputShape, name: name)
    }

    public override func checkInputShape(_ shape: [Int]) throws {}
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { x.leakyRelu(alpha: negativeSlope) }
}
