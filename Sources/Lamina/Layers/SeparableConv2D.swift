import Foundation

/// Depthwise separable 2-D convolution over NHWC images: a depthwise convolution, then a
/// 1×1 (pointwise) convolution to `filters` channels, then bias and activation.
/// Keras: `keras.layers.SeparableConv2D`.
///
/// Input `[batch, h, w, channels]` → `[batch, oh, ow, filters]`. Weights (Keras's order):
/// depthwise kernel `[kh, kw, channels, depthMultiplier]`, pointwise kernel
/// `[1, 1, channels·depthMultiplier, filters]`, bias `[filters]`.
public final class SeparableConv2D: Layer {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try SeparableConv2D(r.int("filters", minimum: 1), kernelSize: r.pair("kernel_size"), strides: r.pair("strides", default: (1, 1)),
                            padding: r.padding(), dataFormat: r.value("data_format") == nil ? nil : r.string("data_format"),
                            dilationRate: r.pair("dilation_rate", default: (1, 1)),
                            depthMultiplier: r.int("depth_multiplier", default: 1, minimum: 1), activation: r.activation(),
                            useBias: r.bool("use_bias", default: true),
                            depthwiseInitializer: r.initializer("depthwise_initializer", default: .glorotUniform),
                            pointwiseInitializer: r.initializer("pointwise_initializer", default: .glorotUniform),
                            biasInitializer: r.initializer("bias_initializer", default: .zeros),
                            depthwiseRegularizer: r.regularizer("depthwise_regularizer"),
                            pointwiseRegularizer: r.regularizer("pointwise_regularizer"), biasRegularizer: r.regularizer("bias_regularizer"),
                            name: r.layerName())
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        _ = try computeOutputShape(s)  // checks the rank and that the kernel fits
        return [[kernelSize.0, kernelSize.1, s[2], depthMultiplier], [1, 1, s[2] * depthMultiplier, filters]]
            + (useBias ? [[filters]] : [])
    }

    /// The number of output channels (Keras's `filters`).
    public let filters: Int
    /// The depthwise kernel's height and width (Keras's `kernel_size`).
    public let kernelSize: (Int, Int)
    /// Steps of the depthwise window (Keras's `strides`).
    public let strides: (Int, Int)
    /// `.valid` or `.same` (TensorFlow's split: the odd pixel bottom/right).
    public let padding: Padding
    /// Keras's `dilation_rate` of the depthwise kernel.
    public let dilationRate: (Int, Int)
    /// Depthwise filters per input channel (Keras's `depth_multiplier`).
    public let depthMultiplier: Int
    /// Applied to the output (Keras's `activation`).
    public let activation: ActivationFunction
    /// Whether a bias is added (Keras's `use_bias`).
    public let useBias: Bool
    /// Keras's `depthwise_initializer`, `pointwise_initializer` and `bias_initializer`.
    public let depthwiseInitializer: Initializer, pointwiseInitializer: Initializer, biasInitializer: Initializer
    /// Keras's `depthwise_regularizer`, `pointwise_regularizer` and `bias_regularizer`.
    public let depthwiseRegularizer: Regularizer?, pointwiseRegularizer: Regularizer?, biasRegularizer: Regularizer?
    /// The weights once built, in Keras's order.
    public private(set) var depthwiseKernel: Variable?, pointwiseKernel: Variable?, bias: Variable?

    /// Keras's `SeparableConv2D(filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
    /// dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True, ...)`; channels-last only.
    public init(_ filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                dataFormat: String? = nil, dilationRate: (Int, Int) = (1, 1), depthMultiplier: Int = 1,
                activation: ActivationFunction = .linear, useBias: Bool = true,
                depthwiseInitializer: Initializer = .glorotUniform, pointwiseInitializer: Initializer = .glorotUniform,
                biasInitializer: Initializer = .zeros, depthwiseRegularizer: Regularizer? = nil,
                pointwiseRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                inputShape: [Int]? = nil, name: String? = nil) {
        (self.filters, self.kernelSize, self.strides, self.padding) = (filters, kernelSize, strides, padding)
        (self.dilationRate, self.depthMultiplier, self.activation, self.useBias) = (dilationRate, depthMultiplier, activation, useBias)
        (self.depthwiseInitializer, self.pointwiseInitializer, self.biasInitializer) = (depthwiseInitializer, pointwiseInitializer, biasInitializer)
        (self.depthwiseRegularizer, self.pointwiseRegularizer, self.biasRegularizer) = (depthwiseRegularizer, pointwiseRegularizer, biasRegularizer)
        super.init(name: name, inputShape: inputShape)
        if filters <= 0 { reject("filters must be positive, got \(filters)") }
        checkDepthwiseArguments(kernelSize: kernelSize, strides: strides, dilationRate: dilationRate, depthMultiplier: depthMultiplier,
                                dataFormat: dataFormat, activation: activation, padding: padding)
    }

    /// Square kernel, strides and dilation: `SeparableConv2D(64, kernelSize: 3, padding: .same)`.
    public convenience init(_ filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid, dataFormat: String? = nil,
                            dilationRate: Int = 1, depthMultiplier: Int = 1, activation: ActivationFunction = .linear,
                            useBias: Bool = true, depthwiseInitializer: Initializer = .glorotUniform,
                            pointwiseInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                            depthwiseRegularizer: Regularizer? = nil, pointwiseRegularizer: Regularizer? = nil,
                            biasRegularizer: Regularizer? = nil, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(filters, kernelSize: (kernelSize, kernelSize), strides: (strides, strides), padding: padding, dataFormat: dataFormat,
                  dilationRate: (dilationRate, dilationRate), depthMultiplier: depthMultiplier, activation: activation, useBias: useBias,
                  depthwiseInitializer: depthwiseInitializer, pointwiseInitializer: pointwiseInitializer, biasInitializer: biasInitializer,
                  depthwiseRegularizer: depthwiseRegularizer, pointwiseRegularizer: pointwiseRegularizer, biasRegularizer: biasRegularizer,
                  inputShape: inputShape, name: name)
    }

    public override func build(inputShape: [Int]) throws {
        _ = try computeOutputShape(inputShape)
        let c = inputShape[2]
        depthwiseKernel = addWeight("depthwise_kernel", shape: [kernelSize.0, kernelSize.1, c, depthMultiplier],
                                    initializer: depthwiseInitializer, regularizer: depthwiseRegularizer)
        pointwiseKernel = addWeight("pointwise_kernel", shape: [1, 1, c * depthMultiplier, filters],
                                    initializer: pointwiseInitializer, regularizer: pointwiseRegularizer)
        if useBias { bias = addWeight("bias", shape: [filters], initializer: biasInitializer, regularizer: biasRegularizer) }
    }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        let out = try convolutionOutputSize(s, kernelSize: kernelSize, strides: strides, padding: padding, dilationRate: dilationRate)
        return [out.0, out.1, filters]
    }

    /// Keras's `get_config()`.
    public override func config() throws -> [String: Any] {
        ["filters": filters, "kernel_size": [kernelSize.0, kernelSize.1], "strides": [strides.0, strides.1], "padding": padding.rawValue,
         "data_format": "channels_last", "dilation_rate": [dilationRate.0, dilationRate.1], "depth_multiplier": depthMultiplier,
         "activation": activation.description, "use_bias": useBias,
         "depthwise_initializer": depthwiseInitializer.config, "pointwise_initializer": pointwiseInitializer.config,
         "bias_initializer": biasInitializer.config,
         "depthwise_regularizer": try depthwiseRegularizer?.serialize() ?? NSNull(),
         "pointwise_regularizer": try pointwiseRegularizer?.serialize() ?? NSNull(),
         "bias_regularizer": try biasRegularizer?.serialize() ?? NSNull()]
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let depthwiseKernel, let pointwiseKernel else { throw LaminaError.configuration("\(name) is not built") }
        let d = x.depthwiseConv2d(depthwiseKernel.value, strides: strides, padding: padding, dilation: dilationRate)
        let (n, h, w, c) = (d.shape[0], d.shape[1], d.shape[2], d.shape[3])
        let rows = d.reshaped(to: [n * h * w, c]), pointwise = pointwiseKernel.value.reshaped(to: [c, filters])
        let y = bias.map { rows.matmul(pointwise, bias: $0.value) } ?? rows.matmul(pointwise)
        return activation(y.reshaped(to: [n, h, w, filters]))
    }
}
