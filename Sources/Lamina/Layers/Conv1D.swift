import Foundation

// The 1-D layers run the 2-D ops on [batch, steps, 1, features].

/// 1-D convolution over steps. Keras: `Conv1D(filters, kernel_size, strides=1, padding="valid")`;
/// kernel [kernelSize, channels, filters].
public final class Conv1D: Layer {
    /// The number of output channels, the kernel's length in steps, and the step between windows. Keras: `filters`, `kernel_size`, `strides`.
    public let filters: Int, kernelSize: Int, strides: Int
    /// `.valid` (no padding) or `.same` (output length ⌈steps / strides⌉). Keras: `padding`.
    public let padding: Padding
    /// Keras's `dilation_rate`: the kernel's taps `dilationRate` steps apart.
    public let dilationRate: Int
    /// Applied to the output (`.linear`: none). Keras: `activation`.
    public let activation: ActivationFunction
    /// Whether a bias of `filters` values is added. Keras: `use_bias`.
    public let useBias: Bool
    /// How the kernel and the bias start (Keras defaults: glorot uniform, zeros).
    public let kernelInitializer: Initializer, biasInitializer: Initializer
    /// The kernel `[kernelSize, channels, filters]` and bias `[filters]`, nil until the layer is built.
    public private(set) var kernel: Variable?, bias: Variable?

    /// Penalties on the kernel and the bias added to the loss (nil: none). Keras: `kernel_regularizer`, `bias_regularizer`.
    public let kernelRegularizer: Regularizer?, biasRegularizer: Regularizer?

    /// Keras: `keras.layers.Conv1D(filters, kernel_size, strides=1, padding="valid", dilation_rate=1, activation=None, use_bias=True)`;
    /// PyTorch: `Conv1d` (channels last here). A non-positive size is reported through `argumentError`.
    public init(_ filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilationRate: Int = 1,
                activation: ActivationFunction = .linear,
                useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                inputShape: [Int]? = nil, name: String? = nil) {
        (self.kernelRegularizer, self.biasRegularizer) = (kernelRegularizer, biasRegularizer)
        (self.filters, self.kernelSize, self.strides, self.padding, self.activation) = (filters, kernelSize, strides, padding, activation)
        (self.useBias, self.kernelInitializer, self.biasInitializer) = (useBias, kernelInitializer, biasInitializer)
        self.dilationRate = dilationRate
        super.init(name: name, inputShape: inputShape)
        if filters <= 0 || kernelSize <= 0 || strides <= 0 || dilationRate <= 0 {
            reject("filters \(filters), kernelSize \(kernelSize), strides \(strides) and dilationRate \(dilationRate) must be positive")
        }
        if strides > 1 && dilationRate > 1 { reject("strides \(strides) > 1 cannot be combined with dilationRate \(dilationRate) > 1 (as in Keras)") }
        check(activation)
        check(padding)
    }
    /// Keras's positional spelling: `Conv1D(32, 3)`.
    public convenience init(_ filters: Int, _ kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilationRate: Int = 1,
                            activation: ActivationFunction = .linear, useBias: Bool = true, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(filters, kernelSize: kernelSize, strides: strides, padding: padding, dilationRate: dilationRate, activation: activation, useBias: useBias,
                  inputShape: inputShape, name: name)
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try Conv1D(r.int("filters", minimum: 1), kernelSize: r.single("kernel_size"),
                          strides: r.single("strides", default: 1), padding: r.padding(),
                          dilationRate: r.single("dilation_rate", default: 1), activation: r.activation(),
                          useBias: r.bool("use_bias", default: true),
                          kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                          biasInitializer: r.initializer("bias_initializer", default: .zeros),
                          kernelRegularizer: r.regularizer("kernel_regularizer"), biasRegularizer: r.regularizer("bias_regularizer"),
                          name: r.channelsLastLayerName())
    }
    public override func config() throws -> [String: Any] {
        ["filters": filters, "kernel_size": [kernelSize], "strides": [strides], "padding": padding.rawValue, "dilation_rate": [dilationRate],
         "data_format": "channels_last",
         "activation": activation.description, "use_bias": useBias, "kernel_initializer": kernelInitializer.config,
         "bias_initializer": biasInitializer.config, "kernel_regularizer": try kernelRegularizer?.serialize() ?? NSNull(),
         "bias_regularizer": try biasRegularizer?.serialize() ?? NSNull()]
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        _ = try computeOutputShape(s)
        return [[kernelSize, s[1], filters]] + (useBias ? [[filters]] : [])
    }
    public override func build(inputShape: [Int]) throws {
        kernel = addWeight("kernel", shape: [kernelSize, inputShape[1], filters], initializer: kernelInitializer,
                           regularizer: kernelRegularizer)
        if useBias { bias = addWeight("bias", shape: [filters], initializer: biasInitializer, regularizer: biasRegularizer) }
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 2 else { throw LaminaError.shape("\(name) expects [*, steps, channels], got \(describe(s))") }
        let g = WindowGeometry(inH: s[0], inW: 1, kH: (kernelSize - 1) * dilationRate + 1, kW: 1, strideH: strides, strideW: 1, padding: padding)
        guard g.outH > 0 else { throw LaminaError.shape("\(name): input \(describe(s)) is shorter than the kernel \(kernelSize)") }
        return [g.outH, filters]
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let kernel else { throw LaminaError.configuration("\(name) is not built") }
        let (n, steps, c) = (x.shape[0], x.shape[1], x.shape[2])
        let k = kernel.value.dilated(axis: 0, rate: dilationRate).reshaped(to: [(kernelSize - 1) * dilationRate + 1, 1, c, filters])
        let y = x.reshaped(to: [n, steps, 1, c]).conv2d(k, bias: bias?.value, strides: (strides, 1), padding: padding,
                                                         fusedReLU: activation == .relu)
        let out = y.reshaped(to: [n, y.shape[1], filters])
        return activation == .relu ? out : activation(out)
    }
}
