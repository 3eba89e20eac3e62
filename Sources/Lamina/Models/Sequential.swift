import Foundation

/// A linear stack of layers. Keras: `keras.Sequential`.
///
/// ```swift
/// let model = Sequential([
///     Conv2D(32, kernelSize: (3, 3), activation: .relu, inputShape: [28, 28, 1]),
///     MaxPooling2D(), Flatten(), Dense(10, activation: .softmax),
/// ])
/// model.compile(optimizer: .adam, loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
/// ```
/// A Sequential is itself a layer, so models nest (a GAN's generator and discriminator).
/// When its first layer declares `inputShape:` (or it starts with `Input(shape:)`) the model
/// is built at once; otherwise on the first batch.
public final class Sequential: Model {
    public override class var kerasClassName: String { "Sequential" }
    public override class var kerasModule: String { "keras" }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer { try Sequential.fromConfig(r) }
    private var chain: [Layer] = []
    private var declaredInput: [Int]?

    /// A stack of `layers` (added in order, as `add` adds them). Keras: `Sequential(layers, name=None)`.
    public init(_ layers: [Layer] = [], name: String? = nil) {
        super.init(name: name ?? NameScope.unique("sequential"))
        for layer in layers { add(layer) }
    }

    /// The layers in order (an `Input` is not one of them).
    public override var layers: [Layer] { chain }
    public override var inputCount: Int { 1 }
    public override var outputCount: Int { 1 }
    public override var inputShapes: [[Int]]? { modelInputShape.map { [$0] } }
    public override var outputShapes: [[Int]]? { outputShape.map { [$0] } }
    public override var inputNames: [String] { ["input_layer"] }
    public override var outputNames: [String] { [chain.last?.name ?? name] }

    /// The first error met by `add`: a layer's invalid argument (`Dropout(1.5)`), a layer that
    /// does not fit the incoming shape, or an `Input` after other layers. Keras raises it at
    /// `add`; Lamina keeps `model.add(...)` a plain call, as in a ported script, and throws the
    /// error from `fit`, `evaluate`, `predict`, `trainOnBatch`, `save` and calls of the model.
    /// Nothing is built after it.
    public private(set) var addError: LaminaError?

    /// Appends a layer; builds the model when the input shape is known. See `addError`.
    public func add(_ layer: Layer) {
        func fail(_ error: LaminaError) { if addError == nil { addError = error } }
        if let error = layer.argumentError { fail(error) }
        if layer is Input {
            guard layers.isEmpty else { fail(LaminaError.configuration("\(name).add(\(layer.name)): an Input must come first")); return }
            declaredInput = layer.declaredInputShape
            return
        }
        if layers.isEmpty, declaredInput == nil {
            // A nested model brings the input shape it was built or declared with.
            declaredInput = (layer as? Sequential)?.modelInputShape ?? layer.declaredInputShape
        }
        if let error = (layer as? Sequential)?.addError { fail(error) }
        chain.append(layer)
        guard addError == nil, let shape = declaredInput else { return }
        do {
            try buildIfNeeded(shape)
        } catch {
            let why = (error as? LaminaError)?.message ?? "\(error)"
            fail(LaminaError(.shape, "\(name).add(\(layer.name)) after \(describe(outputShapeBefore(layer) ?? shape)): \(why)"))
        }
    }

    /// The output shape of the layers before `layer`, when it can be worked out.
    private func outputShapeBefore(_ layer: Layer) -> [Int]? {
        guard var shape = declaredInput else { return nil }
        for l in layers where l !== layer { guard let next = try? l.computeOutputShape(shape) else { return nil }; shape = next }
        return shape
    }

    /// Throws `addError`, if any.
    public override func checkDefinition() throws { if let addError { throw addError } }

    /// Appends a layer loaded from a file; the caller builds the model afterwards (throwing).
    func appendWithoutBuilding(_ layer: Layer) { chain.append(layer) }

    /// Declares the input shape and builds, throwing where the layers do not fit it.
    func setDeclaredInput(_ shape: [Int]) throws {
        declaredInput = shape
        try buildIfNeeded(shape)
    }

    /// Removes the last layer.
    @discardableResult
    public func pop() -> Layer? { chain.popLast() }

    /// The per-sample input shape, once known.
    public var modelInputShape: [Int]? { inputShape ?? declaredInput }

    /// The per-sample output shape of the layers as they are now (layers added after building
    /// count), once the input shape is known. Keras: `model.output_shape`.
    public override var outputShape: [Int]? {
        guard let input = modelInputShape, isBuilt else { return super.outputShape }
        return try? layers.reduce(input) { try $1.computeOutputShape($0) }
    }

    public override func build(inputShape: [Int]) throws {
        var shape = inputShape
        for layer in layers { shape = try layer.buildIfNeeded(shape, dtype: dtype) }
    }

    /// The weights of every layer in order, each for the shape that reaches it (a nested
    /// `Sequential` declares its layers' weights as a layer does).
    public override func weightShapes(for inputShape: [Int]) throws -> [[Int]] {
        var shape = inputShape, shapes: [[Int]] = []
        for layer in layers {
            shapes += try layer.weightShapes(for: shape)
            shape = try layer.computeOutputShape(shape)
        }
        return shapes
    }

    // Layers can be appended after building, so compute shapes and build lazily each time.
    public override func computeOutputShape(_ inputShape: [Int]) throws -> [Int] {
        var shape = inputShape
        for layer in layers { shape = try layer.buildIfNeeded(shape, dtype: dtype) }
        return shape
    }

    /// The first layer decides what fits once built (Dense accepts any leading axes);
    /// before that, the declared input shape must match exactly.
    public override func checkInputShape(_ shape: [Int]) throws {
        guard let first = layers.first else { return }
        if first.isBuilt {
            try first.checkInputShape(shape)
        } else if let expected = declaredInput, shape != expected {
            throw LaminaError.shape("\(first.name) expects \(describe(expected)), got \(describe(shape))")
        }
    }

    public override func config() throws -> [String: Any] {
        var layerConfigs: [[String: Any]] = []
        if let shape = modelInputShape {
            layerConfigs.append(kerasObject("keras.layers", "InputLayer",
                                            ["batch_shape": [NSNull()] + shape, "dtype": dtype.rawValue, "name": "input_layer"]))
        }
        for layer in layers { layerConfigs.append(try layer.serialize()) }
        return ["layers": layerConfigs]
    }

    public override func forward(_ xs: [Tensor], training: Bool) throws -> [Tensor] {
        guard xs.count == 1 else { throw LaminaError.shape("\(name) takes one input, got \(xs.count)") }
        return [try call(xs[0], training: training)]
    }

    // A Sequential builds on its first input, as a plain layer does.
    public override func callAll(_ xs: [Tensor], training: Bool) throws -> [Tensor] {
        guard xs.count == 1 else { throw LaminaError.shape("\(name) takes one input, got \(xs.count)") }
        return [try self(xs[0], training: training)]
    }

    public override func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        try checkDefinition()
        guard inputShapes.count == 1 else { throw LaminaError.shape("\(name) takes one input, got \(inputShapes.count)") }
        return [try buildIfNeeded(inputShapes[0], dtype: dtype)]
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try checkDefinition()
        var y = x, i = 0
        while i < layers.count {
            // Conv2D (ReLU or linear) + MaxPooling2D run as one op (`Tensor.conv2dMaxPool`): at
            // inference the full-size convolution output never leaves the cache; in training the
            // ReLU runs on the pooled values.
            if i + 1 < layers.count, let conv = layers[i] as? Conv2D,
               let pool = layers[i + 1] as? MaxPooling2D, let fused = try conv.callThenMaxPool(y, pool) {
                y = fused
                i += 2
                continue
            }
            y = try layers[i](y, training: training)
            i += 1
        }
        return y
    }
}
