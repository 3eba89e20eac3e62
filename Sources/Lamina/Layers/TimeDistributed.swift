/// Applies one layer to every timestep of a sequence: `[batch, time, ...]` → the layer on each
/// `[batch, ...]` slice, with the same weights at every step. Keras: `TimeDistributed(layer)`.
///
/// ```swift
/// let frames = Input(shape: [8, 32, 32, 3])                        // 8 frames per sample
/// let x = TimeDistributed(Conv2D(16, kernelSize: (3, 3)))(frames)  // [8, 30, 30, 16]
/// ```
/// The steps run as one batch of `batch·time` samples (one GEMM or convolution instead of one
/// per step). The weights are the wrapped layer's (Keras keeps them under `layer/`); a mask
/// on the input passes through to the output, as in Keras 3.
public final class TimeDistributed: Layer {
    /// The layer applied at each step.
    public let layer: Layer
    public override var sublayers: [Layer] { [layer] }

    /// Keras: `TimeDistributed(layer)`: applies `layer` to every time step (axis 1) with shared weights.
    public init(_ layer: Layer, inputShape: [Int]? = nil, name: String? = nil) {
        self.layer = layer
        super.init(name: name, inputShape: inputShape)
        if let argumentError = layer.argumentError { reject(argumentError.message) }
        if layer is Model { reject("wrapping a model is not supported; wrap its layers") }
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard let object = r.value("layer") else { throw r.error("missing 'layer'") }
        let made = TimeDistributed(try LayerRegistry.make(object), name: try r.layerName())
        if let error = made.argumentError { throw r.error(error.message) }
        return made
    }
    public override func config() throws -> [String: Any] { ["layer": try layer.serialize()] }

    /// The shape of one step: the input's without its time axis.
    private func stepShape(_ s: [Int]) throws -> [Int] {
        guard s.count >= 2 else {
            throw LaminaError.shape("\(name) expects [*, time, ...] with at least one axis after time, got \(describe(s))")
        }
        return Array(s.dropFirst())
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] { try layer.weightShapes(for: try stepShape(s)) }
    /// Keras's groups: `layer/vars/<i>` (the wrapped layer's paths under `layer/`).
    public override var kerasWeightPaths: [String] { layer.kerasWeightPaths.map { "layer/" + $0 } }

    public override func build(inputShape: [Int]) throws {
        try layer.buildIfNeeded(try stepShape(inputShape), dtype: dtype)
    }
    public override func checkInputShape(_ shape: [Int]) throws {
        try layer.checkInputShape(try stepShape(shape))
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        [s[0]] + (try layer.computeOutputShape(try stepShape(s)))
    }

    public override var supportsMasking: Bool { true }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard x.rank >= 3 else { throw LaminaError.shape("\(name) expects [batch, time, ...], got \(describe(x.shape))") }
        let (batch, steps) = (x.shape[0], x.shape[1])
        let y = try layer(x.reshaped(to: [batch * steps] + Array(x.shape.dropFirst(2))), training: training)
        return y.reshaped(to: [batch, steps] + Array(y.shape.dropFirst()))
    }
    public override func call(_ x: Tensor, mask: Tensor?, training: Bool) throws -> Tensor {
        if let mask, mask.rank < 2 || Array(mask.shape.prefix(2)) != Array(x.shape.prefix(2)) {
            throw LaminaError.shape("\(name): the mask \(describe(mask.shape)) does not fit the input \(describe(x.shape)); it must start with [batch, time]")
        }
        return try call(x, training: training)
    }
}
