/// Applies an activation function. Keras: `keras.layers.Activation`.
public final class Activation: Layer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer { try Activation(r.activation(), name: r.layerName()) }
    public let activation: ActivationFunction

    public init(_ activation: ActivationFunction, inputShape: [Int]? = nil, name: String? = nil) {
        self.activation = activation
        super.init(name: name, inputShape: inputShape)
        check(activation)
    }

    public override func config() throws -> [String: Any] { ["activation": activation.description] }
    public override func checkInputShape(_ shape: [Int]) throws {}
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { activation(x) }
}

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

/// Nearest-neighbour upsampling of NHWC images. Keras: `UpSampling2D` (size 2×2).
public final class UpSampling2D: Layer {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try UpSampling2D(size: r.pair("size", default: (2, 2)), name: r.layerName())
    }
    public let size: (Int, Int)

    public init(size: (Int, Int) = (2, 2), inputShape: [Int]? = nil, name: String? = nil) {
        self.size = size
        super.init(name: name, inputShape: inputShape)
        if size.0 <= 0 || size.1 <= 0 { reject("size \(size) must be positive") }
    }

    public override func config() throws -> [String: Any] { ["size": [size.0, size.1]] }
    public convenience init(size: Int, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(size: (size, size), inputShape: inputShape, name: name)
    }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(s))") }
        return [s[0] * size.0, s[1] * size.1, s[2]]
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { x.upsampling2d(size: size) }
}

/// Declares a model's per-sample input shape, as `keras.Input(shape=...)`. It is not a
/// layer of the model: `Sequential([Input(shape: [784]), Dense(10)])` has one layer.
public final class Input: Layer {
    public override class var kerasClassName: String { "InputLayer" }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        var shape: [Int]
        if r.value("batch_shape") != nil {
            shape = Array(try r.ints("batch_shape", allowNull: true, minimum: -1).dropFirst())
        } else {
            shape = try r.ints("batch_input_shape", allowNull: true, minimum: -1).dropFirst().map { $0 }
        }
        guard !shape.contains(where: { $0 <= 0 }) else { throw r.error("input shape \(shape) must be fully known") }
        let input = try Input(shape: shape, name: r.layerName())
        input.isText = r.value("dtype") as? String == "string"
        return input
    }
    public init(shape: [Int], dtype: DType = .float32, name: String? = nil) {
        super.init(name: name ?? NameScope.unique("input_layer"), inputShape: shape)
        self.dtype = dtype
        if shape.contains(where: { $0 <= 0 }) { reject("shape \(shape) must be fully known and positive") }
        markBuilt(inputShape: shape, outputShape: shape)
    }

    /// A string input (Keras: `keras.Input(shape=(1,), dtype="string")`) for a model that starts
    /// with `TextVectorization`; it takes texts as `Tensor(texts:)` or through `fit(texts:)` and
    /// `predict(texts:)`. Other names are those of `DType`.
    public convenience init(shape: [Int], dtype: String, name: String? = nil) {
        self.init(shape: shape, dtype: dtype == "string" ? .float32 : DType(rawValue: dtype) ?? .float32, name: name)
        if dtype == "string" { isText = true } else if DType(rawValue: dtype) == nil { reject("dtype must be \"string\", \"float32\", \"float64\" or \"int32\", got \"\(dtype)\"") }
    }
    /// Whether the input holds texts (encoded by `Tensor(texts:)`; its length varies by batch).
    public internal(set) var isText = false
    /// The dtype Keras's config records.
    var kerasDType: String { isText ? "string" : dtype.rawValue }

    /// The symbolic tensor this input stands for in a functional model (`symbolic`).
    lazy var placeholder: SymbolicTensor = argumentError.map { SymbolicTensor(error: $0) } ?? {
        let node = GraphNode(layer: self, inputs: [])
        node.outputShapes = [declaredInputShape ?? []]
        return SymbolicTensor(shape: declaredInputShape ?? [], dtype: dtype, node: node, index: 0)
    }()
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { x }
}
