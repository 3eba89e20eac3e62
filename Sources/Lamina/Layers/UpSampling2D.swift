/// Nearest-neighbour upsampling of NHWC images. Keras: `UpSampling2D` (size 2×2).
public final class UpSampling2D: Layer {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try UpSampling2D(size: r.pair("size", default: (2, 2)), name: r.layerName())
    }
    /// The factors by which rows and columns are repeated.
    public let size: (Int, Int)

    /// Keras: `keras.layers.UpSampling2D(size=(2, 2), interpolation="nearest")`; PyTorch: `Upsample(scale_factor=2, mode="nearest")`.
    /// A non-positive factor is reported through `argumentError`.
    public init(size: (Int, Int) = (2, 2), inputShape: [Int]? = nil, name: String? = nil) {
        self.size = size
        super.init(name: name, inputShape: inputShape)
        if size.0 <= 0 || size.1 <= 0 { reject("size \(size) must be positive") }
    }

    public override func config() throws -> [String: Any] { ["size": [size.0, size.1]] }
    /// The same factor for rows and columns. Keras: `UpSampling2D(size=n)`.
    public convenience init(size: Int, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(size: (size, size), inputShape: inputShape, name: name)
    }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(s))") }
        return [s[0] * size.0, s[1] * size.1, s[2]]
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { x.upsampling2d(size: size) }
}
