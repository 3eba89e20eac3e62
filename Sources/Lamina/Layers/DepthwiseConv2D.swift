import Foundation

/// Depthwise 2-D convolution over NHWC images: each input channel convolved with its own
/// `depthMultiplier` filters. Keras: `keras.layers.DepthwiseConv2D`.
///
/// Input `[batch, h, w, channels]` → `[batch, oh, ow, channels·depthMultiplier]` (output
/// channel `c·depthMultiplier + m`). Weights: kernel `[kh, kw, channels, depthMultiplier]`,
/// bias `[channels·depthMultiplier]`.
public final class DepthwiseConv2D: Layer {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try DepthwiseConv2D(kernelSize: r.pair("kernel_size"), strides: r.pair("strides", default: (1, 1)), padding: r.padding(),
                            depthMultiplier: r.int("depth_multiplier", default: 1, minimum: 1),
                            dataFormat: r.value("data_format") == nil ? nil : r.string("data_format"),
                            dilationRate: r.pair("dilation_rate", default: (1, 1)), activation: r.activation(),
                            useBias: r.bool("use_bias", default: true),
                            depthwiseInitializer: r.initializer("depthwise_initializer", default: .glorotUniform),
                            biasInitializer: r.initializer("bias_initializer", default: .zeros),
                            depthwiseRegularizer: r.regularizer("depthwise_regularizer"), biasRegularizer: r.regularizer("bias_regularizer"),
                            name: r.layerName())
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        _ = try computeOutputShape(s)  // checks the rank and that the kernel fits
        return [[kernelSize.0, kernelSize.1, s[2], depthMultiplier]] + (useBias ? [[s[2] * depthMultiplier]] : [])
    }

    /// The kernel's height and width (Keras's `kernel_size`).
    public let kernelSize: (Int, Int)
    /// Steps of the window (Keras's `strides`).
    public let strides: (Int, Int)
    /// `.valid` or `.same` (TensorFlow's split: the odd pixel bottom/right).
    public let padding: Padding
    /// Filters per input channel (Keras's `depth_multiplier`).
    public let depthMultiplier: Int
    /// Keras's `dilation_rate`: the kernel's taps `dilationRate` pixels apart.
    public let dilationRate: (Int, Int)
    /// Applied to the output (Keras's `activation`).
    public let activation: ActivationFunction
    /// Whether a bias is added (Keras's `use_bias`).
    public let useBias: Bool
    /// Keras's `depthwise_initializer` and `bias_initializer`.
    public let depthwiseInitializer: Initializer, biasInitializer: Initializer
    /// Keras's `depthwise_regularizer` and `bias_regularizer`.
    public let depthwiseRegularizer: Regularizer?, biasRegularizer: Regularizer?
    /// The weights once built: kernel `[kh, kw, in, multiplier]` and bias `[in·multiplier]`.
    public private(set) var kernel: Variable?, bias: Variable?

    /// Keras's `DepthwiseConv2D(kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
    /// data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True, ...)`; only the
    /// `channels_last` data format is supported.
    public init(kernelSize: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid, depthMultiplier: Int = 1,
                dataFormat: String? = nil, dilationRate: (Int, Int) = (1, 1), activation: ActivationFunction = .linear,
                useBias: Bool = true, depthwiseInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                depthwiseRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                inputShape: [Int]? = nil, name: String? = nil) {
        (self.kernelSize, self.strides, self.padding, self.depthMultiplier) = (kernelSize, strides, padding, depthMultiplier)
        (self.dilationRate, self.activation, self.useBias) = (dilationRate, activation, useBias)
        (self.depthwiseInitializer, self.biasInitializer) = (depthwiseInitializer, biasInitializer)
        (self.depthwiseRegularizer, self.biasRegularizer) = (depthwiseRegularizer, biasRegularizer)
        super.init(name: name, inputShape: inputShape)
        checkDepthwiseArguments(kernelSize: kernelSize, strides: strides, dilationRate: dilationRate, depthMultiplier: depthMultiplier,
                                dataFormat: dataFormat, activation: activation, padding: padding)
    }

    /// Square kernel, strides and dilation: `DepthwiseConv2D(kernelSize: 3, padding: .same)`.
    public convenience init(kernelSize: Int, strides: Int = 1, padding: Padding = .valid, depthMultiplier: Int = 1,
                            dataFormat: String? = nil, dilationRate: Int = 1, activation: ActivationFunction = .linear,
                            useBias: Bool = true, depthwiseInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                            depthwiseRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                            inputShape: [Int]? = nil, name: String? = nil) {
        self.init(kernelSize: (kernelSize, kernelSize), strides: (strides, strides), padding: padding, depthMultiplier: depthMultiplier,
                  dataFormat: dataFormat, dilationRate: (dilationRate, dilationRate), activation: activation, useBias: useBias,
                  depthwiseInitializer: depthwiseInitializer, biasInitializer: biasInitializer,
                  depthwiseRegularizer: depthwiseRegularizer, biasRegularizer: biasRegularizer, inputShape: inputShape, name: name)
    }

    public override func build(inputShape: [Int]) throws {
        _ = try computeOutputShape(inputShape)
        kernel = addWeight("kernel", shape: [kernelSize.0, kernelSize.1, inputShape[2], depthMultiplier],
                           initializer: depthwiseInitializer, regularizer: depthwiseRegularizer)
        if useBias {
            bias = addWeight("bias", shape: [inputShape[2] * depthMultiplier], initializer: biasInitializer, regularizer: biasRegularizer)
        }
    }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        let out = try convolutionOutputSize(s, kernelSize: kernelSize, strides: strides, padding: padding, dilationRate: dilationRate)
        return [out.0, out.1, s[2] * depthMultiplier]
    }

    /// Keras's `get_config()`.
    public override func config() throws -> [String: Any] {
        ["kernel_size": [kernelSize.0, kernelSize.1], "strides": [strides.0, strides.1], "padding": padding.rawValue,
         "depth_multiplier": depthMultiplier, "data_format": "channels_last", "dilation_rate": [dilationRate.0, dilationRate.1],
         "activation": activation.description, "use_bias": useBias,
         "depthwise_initializer": depthwiseInitializer.config, "bias_initializer": biasInitializer.config,
         "depthwise_regularizer": try depthwiseRegularizer?.serialize() ?? NSNull(),
         "bias_regularizer": try biasRegularizer?.serialize() ?? NSNull()]
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let kernel else { throw LaminaError.configuration("\(name) is not built") }
        return activation(x.depthwiseConv2d(kernel.value, bias: bias?.value, strides: strides, padding: padding, dilation: dilationRate))
    }

    /// This layer on `pad`'s output, computed from `pad`'s input without the padded copy (a
    /// model runs ZeroPadding2D -> DepthwiseConv2D so); nil where that does not apply as
    /// written — not built, `.same` padding, a mask, an input of another dtype or rank — and
    /// the two layers must run one after the other.
    func callZeroPadded(_ x: Tensor, by pad: ZeroPadding2D) -> Tensor? {
        guard let kernel, padding.kind == .valid, argumentError == nil, pad.argumentError == nil, x.rank == 4, x.dtype == dtype,
              x.kerasMask == nil, x.shape[1] + pad.padding.top + pad.padding.bottom >= (kernelSize.0 - 1) * dilationRate.0 + 1,
              x.shape[2] + pad.padding.left + pad.padding.right >= (kernelSize.1 - 1) * dilationRate.1 + 1 else { return nil }
        return activation(x.depthwiseConv2d(kernel.value, bias: bias?.value, strides: strides, dilation: dilationRate,
                                            zeroPadding: pad.padding))
    }
}

extension DepthwiseConv2D {
    /// This layer (on `pad`'s output, from `pad`'s input, where given), then `bn` in inference
    /// mode, then `relu` where given, as one op (`Tensor.depthwiseConv2d(_:normalizedBy:…)`: each
    /// image's output normalized and clamped while in cache). A model runs ZeroPadding2D →
    /// DepthwiseConv2D → BatchNormalization → ReLU6 so when the normalization is not training.
    /// nil where that does not apply as written (see `callZeroPadded`; an activation of the
    /// layer's own, another dtype or shape) and the layers must run one after the other.
    func callNormalized(_ x: Tensor, zeroPaddedBy pad: ZeroPadding2D?, by bn: BatchNormalization, then relu: EpilogueReLU?) -> Tensor? {
        guard let kernel, activation == .linear, argumentError == nil, pad?.argumentError == nil, let normalization = bn.inferenceOperands,
              x.rank == 4, x.dtype == .float32, dtype == .float32, x.kerasMask == nil, pad == nil || padding.kind == .valid else { return nil }
        let p = pad?.padding ?? (top: 0, bottom: 0, left: 0, right: 0)
        guard [x.shape[1] + p.top + p.bottom, x.shape[2] + p.left + p.right, x.shape[3]] == inputShape else { return nil }
        return x.depthwiseConv2d(kernel.value, bias: bias?.value, strides: strides, padding: padding, dilation: dilationRate,
                                 zeroPadding: p, normalizedBy: normalization, fusedReLU: relu != nil, reluMaxValue: relu?.maxValue)
    }
}

extension Layer {
    /// The output height and width of a 2-D window (kernel, strides, padding, dilation) over a
    /// per-sample NHWC shape; throws naming the layer when the rank is wrong or the kernel does not fit.
    func convolutionOutputSize(_ s: [Int], kernelSize: (Int, Int), strides: (Int, Int), padding: Padding,
                               dilationRate: (Int, Int)) throws -> (Int, Int) {
        guard s.count == 3 else { throw LaminaError.shape("\(name) expects [*, height, width, channels], got \(describe(s))") }
        let g = WindowGeometry(inH: s[0], inW: s[1], kH: (kernelSize.0 - 1) * dilationRate.0 + 1,
                               kW: (kernelSize.1 - 1) * dilationRate.1 + 1, strideH: strides.0, strideW: strides.1, padding: padding)
        guard g.outH > 0 && g.outW > 0 else {
            throw LaminaError.shape("\(name): input \(describe(s)) is smaller than the kernel \(kernelSize) (dilation \(dilationRate)) with \(padding) padding")
        }
        return (g.outH, g.outW)
    }
}

extension Layer {
    /// For the depthwise family's constructors: records a non-positive size, multiplier or
    /// dilation, a data format other than channels_last, an unknown activation or padding.
    func checkDepthwiseArguments(kernelSize: (Int, Int), strides: (Int, Int), dilationRate: (Int, Int), depthMultiplier: Int,
                                 dataFormat: String?, activation: ActivationFunction, padding: Padding) {
        if kernelSize.0 <= 0 || kernelSize.1 <= 0 || strides.0 <= 0 || strides.1 <= 0 {
            reject("kernelSize \(kernelSize) and strides \(strides) must be positive")
        }
        if depthMultiplier <= 0 { reject("depthMultiplier must be positive, got \(depthMultiplier)") }
        if dilationRate.0 <= 0 || dilationRate.1 <= 0 { reject("dilationRate \(dilationRate) must be positive") }
        if let dataFormat, dataFormat != "channels_last" {
            reject("only dataFormat \"channels_last\" is supported, got \"\(dataFormat)\"")
        }
        check(activation)
        check(padding)
    }
}
