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
    /// Keras: `keras.Input(shape=..., dtype="float32")`; `shape` excludes the batch axis, and an unknown or non-positive size is reported through `argumentError`.
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
