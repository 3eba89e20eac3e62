import Foundation

/// 2-D convolution over NHWC images. Keras: `keras.layers.Conv2D`.
///
/// Input `[batch, h, w, channels]` → `[batch, oh, ow, filters]`.
/// Weights: kernel `[kh, kw, channels, filters]`, bias `[filters]`.
public final class Conv2D: Layer {
    /// `nn.Conv2d`: `weight` (out, in, kh, kw) becomes (kh, kw, in, out).
    public override func weightsFromPyTorch(_ module: inout PyTorchModule, flattenedFrom: [Int]?) throws -> [Tensor] {
        [try module.take("weight", rank: 4).permuted([2, 3, 1, 0])] + (useBias ? [try module.take("bias", rank: 1)] : [])
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try Conv2D(r.int("filters", minimum: 1), kernelSize: r.pair("kernel_size"), strides: r.pair("strides", default: (1, 1)),
                   padding: r.padding(), dilationRate: r.pair("dilation_rate", default: (1, 1)), activation: r.activation(), useBias: r.bool("use_bias", default: true),
                   kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                   biasInitializer: r.initializer("bias_initializer", default: .zeros),
                   kernelRegularizer: r.regularizer("kernel_regularizer"), biasRegularizer: r.regularizer("bias_regularizer"),
                   groups: r.int("groups", default: 1, minimum: 1), name: r.layerName())
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        _ = try computeOutputShape(s)  // checks the rank and that the kernel fits
        return [[kernelSize.0, kernelSize.1, s[2] / groups, filters]] + (useBias ? [[filters]] : [])
    }

    /// The number of output channels.
    public let filters: Int
    /// The window's height and width, and its steps.
    public let kernelSize: (Int, Int), strides: (Int, Int)
    /// `.valid` (no padding) or `.same` (TensorFlow's: the extra pad at the bottom and right).
    public let padding: Padding
    /// Keras's `dilation_rate`: the kernel's taps `dilationRate` pixels apart.
    public let dilationRate: (Int, Int)
    /// Applied to the output.
    public let activation: ActivationFunction
    /// Whether the layer adds a bias per filter.
    public let useBias: Bool
    /// Keras's `groups`: the channels and filters split into this many groups, each group's
    /// filters seeing its own channels only (ConvNeXt's depthwise 7x7 has groups = channels).
    /// The kernel is `[kh, kw, channels / groups, filters]`.
    public let groups: Int
    /// How the kernel and the bias start (glorot uniform and zeros).
    public let kernelInitializer: Initializer, biasInitializer: Initializer
    /// The kernel `[kh, kw, in / groups, filters]` and the bias `[filters]`, once built.
    public private(set) var kernel: Variable?, bias: Variable?

    /// Penalties added to the training loss.
    public let kernelRegularizer: Regularizer?, biasRegularizer: Regularizer?

    /// Keras: `Conv2D(filters, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
    /// groups=1, activation=None, use_bias=True, ...)`, channels last.
    public init(_ filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                dilationRate: (Int, Int) = (1, 1), activation: ActivationFunction = .linear, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil, groups: Int = 1,
                inputShape: [Int]? = nil, name: String? = nil) {
        (self.kernelRegularizer, self.biasRegularizer) = (kernelRegularizer, biasRegularizer)
        self.groups = groups
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.dilationRate = dilationRate
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
        super.init(name: name, inputShape: inputShape)
        if filters <= 0 || kernelSize.0 <= 0 || kernelSize.1 <= 0 || strides.0 <= 0 || strides.1 <= 0 {
            reject("filters \(filters), kernelSize \(kernelSize) and strides \(strides) must be positive")
        }
        if dilationRate.0 <= 0 || dilationRate.1 <= 0 { reject("dilationRate \(dilationRate) must be positive") }
        if groups < 1 || filters % max(groups, 1) != 0 { reject("groups \(groups) must be positive and divide filters \(filters)") }
        if (strides.0 > 1 || strides.1 > 1) && (dilationRate.0 > 1 || dilationRate.1 > 1) {
            reject("strides \(strides) > 1 cannot be combined with dilationRate \(dilationRate) > 1 (as in Keras)")
        }
        check(activation)
        check(padding)
    }

    /// Square kernel and strides: `Conv2D(32, kernelSize: 3)`.
    public convenience init(_ filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dilationRate: Int = 1,
                            activation: ActivationFunction = .linear, useBias: Bool = true,
                            kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                            kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(filters, kernelSize: (kernelSize, kernelSize), strides: (strides, strides), padding: padding,
                  dilationRate: (dilationRate, dilationRate), activation: activation, useBias: useBias, kernelInitializer: kernelInitializer,
                  biasInitializer: biasInitializer, kernelRegularizer: kernelRegularizer, biasRegularizer: biasRegularizer,
                  inputShape: inputShape, name: name)
    }

    /// Keras's positional spelling: `Conv2D(32, (3, 3), activation: .relu)`.
    public convenience init(_ filters: Int, _ kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                            dilationRate: (Int, Int) = (1, 1), activation: ActivationFunction = .linear, useBias: Bool = true,
                            kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                            kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(filters, kernelSize: kernelSize, strides: strides, padding: padding, dilationRate: dilationRate, activation: activation,
                  useBias: useBias, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer,
                  kernelRegularizer: kernelRegularizer, biasRegularizer: biasRegularizer, inputShape: inputShape, name: name)
    }

    func geometry(_ s: [Int]) -> WindowGeometry {
        WindowGeometry(inH: s[0], inW: s[1], kH: (kernelSize.0 - 1) * dilationRate.0 + 1, kW: (kernelSize.1 - 1) * dilationRate.1 + 1,
                       strideH: strides.0, strideW: strides.1, padding: padding)
    }

    public override func build(inputShape: [Int]) throws {
        _ = try computeOutputShape(inputShape)
        kernel = addWeight("kernel", shape: [kernelSize.0, kernelSize.1, inputShape[2] / groups, filters], initializer: kernelInitializer,
                           regularizer: kernelRegularizer)
        if useBias { bias = addWeight("bias", shape: [filters], initializer: biasInitializer, regularizer: biasRegularizer) }
    }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(s))") }
        guard s[2] % groups == 0 else { throw LaminaError.shape("\(name): \(s[2]) input channels do not split into \(groups) groups") }
        let g = geometry(s)
        guard g.outH > 0 && g.outW > 0 else {
            throw LaminaError.shape("\(name): input \(describe(s)) is smaller than the kernel \(kernelSize) with \(padding) padding")
        }
        return [g.outH, g.outW, filters]
    }

    public override func config() throws -> [String: Any] {
        var c = try baseConfig()
        if groups != 1 { c["groups"] = groups }   // left out when 1, which Keras defaults to
        return c
    }
    private func baseConfig() throws -> [String: Any] {
        ["filters": filters, "kernel_size": [kernelSize.0, kernelSize.1], "strides": [strides.0, strides.1],
         "padding": padding.rawValue, "dilation_rate": [dilationRate.0, dilationRate.1], "activation": activation.description, "use_bias": useBias,
         "kernel_initializer": kernelInitializer.config, "bias_initializer": biasInitializer.config,
         "kernel_regularizer": try kernelRegularizer?.serialize() ?? NSNull(), "bias_regularizer": try biasRegularizer?.serialize() ?? NSNull()]
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let kernel else { throw LaminaError.configuration("\(name) is not built") }
        if groups > 1 { return activation(try groupedConvolution(x, kernel.value)) }
        let k = kernel.value.dilated(axis: 0, rate: dilationRate.0).dilated(axis: 1, rate: dilationRate.1)
        if activation == .relu {
            return x.conv2d(k, bias: bias?.value, strides: strides, padding: padding, fusedReLU: true)
        }
        return activation(x.conv2d(k, bias: bias?.value, strides: strides, padding: padding))
    }

    /// This layer, then `bn` in inference mode, then `residual +` where given (an Add), then
    /// `relu` where given, as one op (`Tensor.conv2d(_:normalizedBy:…)`: the normalization, the
    /// addition and the ReLU are applied while each chunk of the convolution's output is in
    /// cache). A model runs Conv2D → BatchNormalization (→ Add) → ReLU so when the normalization
    /// is not training. nil where that does not apply as written — grouped, dilated or with an
    /// activation of its own, not built, a mask, another dtype, rank or shape — and the layers
    /// must run one after the other.
    func callNormalized(_ x: Tensor, by bn: BatchNormalization, adding residual: Tensor? = nil, then relu: EpilogueReLU?) -> Tensor? {
        guard let kernel, groups == 1, dilationRate == (1, 1), activation == .linear, argumentError == nil,
              let normalization = bn.inferenceOperands, x.rank == 4, x.dtype == .float32, dtype == .float32, x.kerasMask == nil,
              Array(x.shape.dropFirst()) == inputShape, let outputShape,
              residual.map({ $0.shape == [x.shape[0]] + outputShape && $0.dtype == .float32 && $0.kerasMask == nil }) ?? true else { return nil }
        return x.conv2d(kernel.value, bias: bias?.value, strides: strides, padding: padding, normalizedBy: normalization, adding: residual,
                        fusedReLU: relu != nil, reluMaxValue: relu?.maxValue)
    }

    /// This layer and a following max pooling as one op (`Tensor.conv2dMaxPool`; Sequential
    /// calls it): at inference the full-size convolution output never leaves the cache; in
    /// training the ReLU runs after the pooling, on the pooled values only (a quarter of them
    /// with 2×2 pools; the same values and gradients). Nil when the activation is neither ReLU
    /// nor linear, the convolution grouped or dilated, the input masked or not float32: then
    /// the layers run in turn.
    func callThenMaxPool(_ x: Tensor, _ pool: MaxPooling2D) throws -> Tensor? {
        guard groups == 1, activation == .relu || activation == .linear, dilationRate == (1, 1), x.dtype == .float32, x.rank == 4,
              x.kerasMask == nil else { return nil }
        let convShape = try buildIfNeeded(Array(x.shape.dropFirst()), dtype: x.dtype)
        try pool.buildIfNeeded(convShape, dtype: x.dtype)
        guard let kernel else { throw LaminaError.configuration("\(name) is not built") }
        guard kernel.value.dtype == .float32 else { return nil }  // built for another dtype: the layer casts its input
        return x.conv2dMaxPool(kernel.value, bias: bias?.value, strides: strides, padding: padding, fusedReLU: activation == .relu,
                               poolSize: pool.poolSize, poolStrides: pool.strides, poolPadding: pool.padding)
    }

    /// `groups` > 1: one group per channel is a depthwise convolution (the kernel
    /// `[kh, kw, 1, C·m]` is the depthwise kernel `[kh, kw, C, m]`, filters in the same order);
    /// otherwise each group's channels convolved with its filters, then joined.
    private func groupedConvolution(_ x: Tensor, _ kernel: Tensor) throws -> Tensor {
        let channels = x.shape[3]
        guard channels % groups == 0 else { throw LaminaError.shape("\(name): \(channels) input channels do not split into \(groups) groups") }
        if groups == channels {
            let k = kernel.reshaped(to: [kernelSize.0, kernelSize.1, channels, filters / groups])
            return x.depthwiseConv2d(k, bias: bias?.value, strides: strides, padding: padding, dilation: dilationRate)
        }
        let k = kernel.dilated(axis: 0, rate: dilationRate.0).dilated(axis: 1, rate: dilationRate.1)
        let (cin, cout) = (channels / groups, filters / groups)
        let parts = (0..<groups).map { g in
            x.sliced(axis: 3, g * cin..<(g + 1) * cin).conv2d(k.sliced(axis: 3, g * cout..<(g + 1) * cout), strides: strides, padding: padding)
        }
        let joined = Tensor.concatenated(parts, axis: 3)
        return bias.map { joined + $0.value } ?? joined
    }
}

/// A ReLU layer a convolution can apply as its epilogue: `Activation(.relu)`, `Activation(.relu6)`,
/// or `ReLU` without a negative slope or threshold — max(x, 0), capped at `maxValue` where given.
struct EpilogueReLU {
    let maxValue: Double?

    init?(_ layer: Layer) {
        guard layer.argumentError == nil else { return nil }
        if let a = layer as? Activation, a.activation == .relu || a.activation == .relu6 {
            maxValue = a.activation == .relu6 ? 6 : nil
        } else if let r = layer as? ReLU, r.negativeSlope == 0, r.threshold == 0, r.maxValue.map({ $0 >= 0 }) ?? true {
            maxValue = r.maxValue
        } else {
            return nil
        }
    }
}
