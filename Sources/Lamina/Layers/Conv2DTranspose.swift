import Foundation

/// Transposed ("fractionally strided") 2-D convolution over NHWC images, the upsampling
/// layer of DCGAN generators. Keras: `keras.layers.Conv2DTranspose`.
///
/// Input `[batch, h, w, channels]` → `[batch, oh, ow, filters]` with Keras's output size:
/// `h·stride` for `.same`, `h·stride + max(kernel − stride, 0)` for `.valid`.
/// Weights: kernel `[kh, kw, filters, channels]` (output channels before input channels, as
/// in Keras), bias `[filters]`.
public final class Conv2DTranspose: Layer {
    /// `nn.ConvTranspose2d`: `weight` (in, out, kh, kw) becomes (kh, kw, out, in).
    public override func weightsFromPyTorch(_ module: inout PyTorchModule, flattenedFrom: [Int]?) throws -> [Tensor] {
        [try module.take("weight", rank: 4).permuted([2, 3, 1, 0])] + (useBias ? [try module.take("bias", rank: 1)] : [])
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try Conv2DTranspose(r.int("filters", minimum: 1), kernelSize: r.pair("kernel_size"), strides: r.pair("strides", default: (1, 1)),
                            padding: r.padding(), activation: r.activation(), useBias: r.bool("use_bias", default: true),
                            kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                            biasInitializer: r.initializer("bias_initializer", default: .zeros),
                            kernelRegularizer: r.regularizer("kernel_regularizer"), biasRegularizer: r.regularizer("bias_regularizer"),
                            name: r.layerName())
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        _ = try computeOutputShape(s)
        return [[kernelSize.0, kernelSize.1, filters, s[2]]] + (useBias ? [[filters]] : [])
    }

    /// The number of output channels.
    public let filters: Int
    /// The window's height and width, and the upsampling steps.
    public let kernelSize: (Int, Int), strides: (Int, Int)
    /// `.valid` or `.same` (output size input × strides).
    public let padding: Padding
    /// Applied to the output.
    public let activation: ActivationFunction
    /// Whether the layer adds a bias per filter.
    public let useBias: Bool
    /// How the kernel and the bias start.
    public let kernelInitializer: Initializer, biasInitializer: Initializer
    /// Penalties added to the training loss.
    public let kernelRegularizer: Regularizer?, biasRegularizer: Regularizer?
    /// The kernel `[kh, kw, filters, in]` (Keras's layout) and the bias, once built.
    public private(set) var kernel: Variable?, bias: Variable?

    /// Keras: `Conv2DTranspose(filters, kernel_size, strides=(1, 1), padding="valid", activation=None, use_bias=True, ...)`.
    public init(_ filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                activation: ActivationFunction = .linear, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                inputShape: [Int]? = nil, name: String? = nil) {
        (self.filters, self.kernelSize, self.strides, self.padding) = (filters, kernelSize, strides, padding)
        (self.activation, self.useBias, self.kernelInitializer, self.biasInitializer) = (activation, useBias, kernelInitializer, biasInitializer)
        (self.kernelRegularizer, self.biasRegularizer) = (kernelRegularizer, biasRegularizer)
        super.init(name: name, inputShape: inputShape)
        if filters <= 0 || kernelSize.0 <= 0 || kernelSize.1 <= 0 || strides.0 <= 0 || strides.1 <= 0 {
            reject("filters \(filters), kernelSize \(kernelSize) and strides \(strides) must be positive")
        }
        check(activation)
        check(padding)
    }

    /// Square kernel and strides: `Conv2DTranspose(64, kernelSize: 5, strides: 2, padding: .same)`.
    public convenience init(_ filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid,
                            activation: ActivationFunction = .linear, useBias: Bool = true,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(filters, kernelSize: (kernelSize, kernelSize), strides: (strides, strides), padding: padding,
                  activation: activation, useBias: useBias, inputShape: inputShape, name: name)
    }

    /// Keras's positional spelling: `Conv2DTranspose(64, (5, 5), strides: (2, 2), padding: "same")`.
    public convenience init(_ filters: Int, _ kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                            activation: ActivationFunction = .linear, useBias: Bool = true,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(filters, kernelSize: kernelSize, strides: strides, padding: padding, activation: activation,
                  useBias: useBias, inputShape: inputShape, name: name)
    }

    /// Keras's `deconv_output_length` without output padding.
    func outputSize(_ s: [Int]) -> (Int, Int) {
        func length(_ n: Int, _ k: Int, _ stride: Int) -> Int {
            padding == .same ? n * stride : n * stride + Swift.max(k - stride, 0)
        }
        return (length(s[0], kernelSize.0, strides.0), length(s[1], kernelSize.1, strides.1))
    }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 3, s[0] > 0, s[1] > 0 else {
            throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(s))")
        }
        let (h, w) = outputSize(s)
        return [h, w, filters]
    }

    public override func build(inputShape: [Int]) throws {
        _ = try computeOutputShape(inputShape)
        kernel = addWeight("kernel", shape: [kernelSize.0, kernelSize.1, filters, inputShape[2]], initializer: kernelInitializer,
                           regularizer: kernelRegularizer)
        if useBias { bias = addWeight("bias", shape: [filters], initializer: biasInitializer, regularizer: biasRegularizer) }
    }

    public override func config() throws -> [String: Any] {
        ["filters": filters, "kernel_size": [kernelSize.0, kernelSize.1], "strides": [strides.0, strides.1],
         "padding": padding.rawValue, "output_padding": NSNull(), "dilation_rate": [1, 1], "activation": activation.description,
         "use_bias": useBias, "kernel_initializer": kernelInitializer.config, "bias_initializer": biasInitializer.config,
         "kernel_regularizer": try kernelRegularizer?.serialize() ?? NSNull(), "bias_regularizer": try biasRegularizer?.serialize() ?? NSNull()]
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let kernel else { throw LaminaError.configuration("\(name) is not built") }
        let size = outputSize(Array(x.shape.dropFirst()))
        return activation(x.conv2dTranspose(kernel.value, bias: bias?.value, strides: strides, padding: padding, outputSize: size))
    }
}
