import Foundation
/// A densely connected layer: `activation(x · kernel + bias)`. Keras: `keras.layers.Dense`.
///
/// Input `[batch, ..., in]` → output `[batch, ..., units]` (applied to the last axis).
/// Weights: kernel `[in, units]`, bias `[units]`.
public final class Dense: Layer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    /// `nn.Linear`: `weight` (out, in) transposed; after a Flatten of an image, input rows reordered
    /// from PyTorch's (c, h, w) flattening to Lamina's (h, w, c).
    public override func weightsFromPyTorch(_ module: inout PyTorchModule, flattenedFrom image: [Int]?) throws -> [Tensor] {
        var kernel = try module.take("weight", rank: 2).transposed()   // (in, out)
        if let image, image.count == 3, image.reduce(1, *) == kernel.shape[0] {
            // Row r of Lamina's (h, w, c) flattening is row (c·h·w + i·w + j) of PyTorch's (c, h, w).
            let (h, w, c) = (image[0], image[1], image[2])
            var rows: [Int] = []
            for i in 0..<h { for j in 0..<w { for k in 0..<c { rows.append(k * h * w + i * w + j) } } }
            kernel = kernel.gather(rows: rows)
        }
        return [kernel] + (useBias ? [try module.take("bias", rank: 1)] : [])
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try Dense(r.int("units", minimum: 1), activation: r.activation(), useBias: r.bool("use_bias", default: true),
                  kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                  biasInitializer: r.initializer("bias_initializer", default: .zeros),
                  kernelRegularizer: r.regularizer("kernel_regularizer"), biasRegularizer: r.regularizer("bias_regularizer"),
                  name: r.layerName())
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        [[s.last ?? 0, units]] + (useBias ? [[units]] : [])
    }

    /// The output size.
    public let units: Int
    /// Applied to the output.
    public let activation: ActivationFunction
    /// Whether the layer adds a bias.
    public let useBias: Bool
    /// How the kernel and the bias start (glorot uniform and zeros).
    public let kernelInitializer: Initializer, biasInitializer: Initializer
    /// The kernel `[in, units]` and the bias `[units]`, once built.
    public private(set) var kernel: Variable?, bias: Variable?

    /// Penalties added to the training loss.
    public let kernelRegularizer: Regularizer?, biasRegularizer: Regularizer?

    /// Keras: `Dense(units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
    /// bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None)`.
    public init(_ units: Int, activation: ActivationFunction = .linear, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                inputShape: [Int]? = nil, inputDim: Int? = nil, name: String? = nil) {
        (self.kernelRegularizer, self.biasRegularizer) = (kernelRegularizer, biasRegularizer)
        self.units = units
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
        super.init(name: name, inputShape: inputShape ?? inputDim.map { [$0] })
        if units <= 0 { reject("units must be positive, got \(units)") }
        check(activation)
    }

    public override func build(inputShape: [Int]) throws {
        guard let inDim = inputShape.last else { throw LaminaError.shape("\(name) expects at least one feature axis, got a batch of scalars") }
        kernel = addWeight("kernel", shape: [inDim, units], initializer: kernelInitializer, regularizer: kernelRegularizer)
        if useBias { bias = addWeight("bias", shape: [units], initializer: biasInitializer, regularizer: biasRegularizer) }
    }

    public override func checkInputShape(_ shape: [Int]) throws {
        guard let k = kernel, shape.last == k.shape[0] else {
            throw LaminaError.shape("\(name) expects \(describe(inputShape ?? [kernel?.shape[0] ?? 0])), got \(describe(shape))")
        }
    }

    public override func computeOutputShape(_ inputShape: [Int]) throws -> [Int] { inputShape.dropLast() + [units] }

    /// Keras's `get_config()`.
    public override func config() throws -> [String: Any] {
        ["units": units, "activation": activation.description, "use_bias": useBias,
         "kernel_initializer": kernelInitializer.config, "bias_initializer": biasInitializer.config,
         "kernel_regularizer": try kernelRegularizer?.serialize() ?? NSNull(), "bias_regularizer": try biasRegularizer?.serialize() ?? NSNull()]
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let kernel else { throw LaminaError.configuration("\(name) is not built") }
        var flat = x
        if x.rank > 3 { flat = x.reshaped(to: [-1, x.shape.last!]) }
        var y = bias.map { flat.matmul(kernel.value, bias: $0.value) } ?? flat.matmul(kernel.value)
        if x.rank > 3 { y = y.reshaped(to: Array(x.shape.dropLast()) + [units]) }
        return activation(y)
    }
}
