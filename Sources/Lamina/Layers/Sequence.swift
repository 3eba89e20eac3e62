import Foundation

// Keras's layers for sequences [batch, steps, features]: Embedding, Conv1D and 1-D pooling
// (the global poolings are in Reshaping.swift). The 1-D layers run the 2-D ops on [batch, steps, 1, features].

/// Integer indices to learned vectors: [batch, ...] → [batch, ..., outputDim]. Keras:
/// `Embedding(input_dim, output_dim, mask_zero=False)` (embeddings initialized uniformly in
/// ±0.05). Indices outside 0..<inputDim are an error that names them.
///
/// With `maskZero: true`, index 0 is padding: the output carries a mask (`kerasMask`, 1 where
/// the index is not 0) that recurrent, pooling and attention layers, losses and metrics honour
/// — Keras's `mask_zero=True` for zero-padded sequences (`padSequences`). Index 0 still has an
/// embedding row, so `inputDim` counts it (vocabulary size + 1), as in Keras.
public final class Embedding: Layer {
    public let inputDim: Int, outputDim: Int
    public let embeddingsInitializer: Initializer
    public private(set) var embeddings: Variable?
    public let embeddingsRegularizer: Regularizer?
    /// Whether index 0 is padding that the output's mask leaves out (Keras's `mask_zero`).
    public let maskZero: Bool

    public init(inputDim: Int, outputDim: Int, embeddingsInitializer: Initializer = .randomUniform(minval: -0.05, maxval: 0.05),
                embeddingsRegularizer: Regularizer? = nil, maskZero: Bool = false,
                inputShape: [Int]? = nil, inputLength: Int? = nil, name: String? = nil) {
        (self.inputDim, self.outputDim, self.embeddingsInitializer) = (inputDim, outputDim, embeddingsInitializer)
        (self.embeddingsRegularizer, self.maskZero) = (embeddingsRegularizer, maskZero)
        super.init(name: name, inputShape: inputShape ?? inputLength.map { [$0] })
        if inputDim <= 0 || outputDim <= 0 { reject("inputDim \(inputDim) and outputDim \(outputDim) must be positive") }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try Embedding(inputDim: r.int("input_dim", minimum: 1), outputDim: r.int("output_dim", minimum: 1),
                      embeddingsInitializer: r.initializer("embeddings_initializer", default: .randomUniform(minval: -0.05, maxval: 0.05)),
                      embeddingsRegularizer: r.regularizer("embeddings_regularizer"), maskZero: r.bool("mask_zero", default: false),
                      name: r.layerName())
    }
    public override func config() throws -> [String: Any] {
        ["input_dim": inputDim, "output_dim": outputDim, "embeddings_initializer": embeddingsInitializer.config, "mask_zero": maskZero,
         "embeddings_regularizer": try embeddingsRegularizer?.serialize() ?? NSNull()]
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] { [[inputDim, outputDim]] }
    public override func build(inputShape: [Int]) throws {
        embeddings = addWeight("embeddings", shape: [inputDim, outputDim], initializer: embeddingsInitializer, regularizer: embeddingsRegularizer)
    }
    public override func checkInputShape(_ shape: [Int]) throws {}   // any number of steps
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] { s + [outputDim] }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let embeddings else { throw LaminaError.configuration("\(name) is not built") }
        let values = x.scalarsAsDouble()
        var rows = [Int](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            guard v == v.rounded(), v >= 0, v < Double(inputDim) else {
                throw LaminaError.value("\(name): index \(v) at position \(i) is not in 0..<\(inputDim) (inputDim)")
            }
            rows[i] = Int(v)
        }
        var y = embeddings.value.gather(rows: rows).reshaped(to: x.shape + [outputDim])
        if maskZero { y.kerasMask = Self.nonZero(rows, shape: x.shape) }   // from the indices already read
        return y
    }

    public override var supportsMasking: Bool { maskZero }
    /// With `maskZero`: 1 where the index is not 0, over the input's shape.
    public override func computeMask(_ x: Tensor, mask: Tensor?) throws -> Tensor? {
        maskZero ? Self.nonZero(x.scalarsAsDouble().map { Int($0) }, shape: x.shape) : nil
    }
    private static func nonZero(_ indices: [Int], shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: indices.map { $0 != 0 ? Float(1) : 0 })
    }
}

/// 1-D convolution over steps. Keras: `Conv1D(filters, kernel_size, strides=1, padding="valid")`;
/// kernel [kernelSize, channels, filters].
public final class Conv1D: Layer {
    public let filters: Int, kernelSize: Int, strides: Int
    public let padding: Padding
    /// Keras's `dilation_rate`: the kernel's taps `dilationRate` steps apart.
    public let dilationRate: Int
    public let activation: ActivationFunction
    public let useBias: Bool
    public let kernelInitializer: Initializer, biasInitializer: Initializer
    public private(set) var kernel: Variable?, bias: Variable?

    public let kernelRegularizer: Regularizer?, biasRegularizer: Regularizer?

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

/// Shared machinery of `MaxPooling1D` and `AveragePooling1D` over steps.
public class Pooling1D: Layer {
    public let poolSize: Int, strides: Int
    public let padding: Padding
    /// Keras: `pool_size=2, strides=None` (the pool size), `padding="valid"`.
    public init(poolSize: Int = 2, strides: Int? = nil, padding: Padding = .valid, inputShape: [Int]? = nil, name: String? = nil) {
        (self.poolSize, self.strides, self.padding) = (poolSize, strides ?? poolSize, padding)
        super.init(name: name, inputShape: inputShape)
        if poolSize <= 0 || self.strides <= 0 { reject("poolSize \(poolSize) and strides \(self.strides) must be positive") }
        check(padding)
    }
    public override func config() throws -> [String: Any] {
        ["pool_size": [poolSize], "strides": [strides], "padding": padding.rawValue, "data_format": "channels_last"]
    }
    static func arguments(_ r: ConfigReader) throws -> (Int, Int?, Padding, String?) {
        let strides = r.value("strides") == nil || r.value("strides") is NSNull ? nil : try r.single("strides")
        return (try r.single("pool_size", default: 2), strides, try r.padding(), try r.channelsLastLayerName())
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 2 else { throw LaminaError.shape("\(name) expects [*, steps, channels], got \(describe(s))") }
        let g = WindowGeometry(inH: s[0], inW: 1, kH: poolSize, kW: 1, strideH: strides, strideW: 1, padding: padding)
        guard g.outH > 0 else { throw LaminaError.shape("\(name): input \(describe(s)) is shorter than the pool \(poolSize)") }
        return [g.outH, s[1]]
    }
    func pool(_ x: Tensor, _ op: (Tensor) -> Tensor) -> Tensor {
        let (n, steps, c) = (x.shape[0], x.shape[1], x.shape[2])
        let y = op(x.reshaped(to: [n, steps, 1, c]))
        return y.reshaped(to: [n, y.shape[1], c])
    }
}

/// Max over windows of steps. Keras: `MaxPooling1D(pool_size=2)`.
public final class MaxPooling1D: Pooling1D {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let (p, s, padding, name) = try arguments(r)
        return MaxPooling1D(poolSize: p, strides: s, padding: padding, name: name)
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        pool(x) { $0.maxPool2d(poolSize: (poolSize, 1), strides: (strides, 1), padding: padding) }
    }
}

/// Mean over windows of steps. Keras: `AveragePooling1D(pool_size=2)`.
public final class AveragePooling1D: Pooling1D {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let (p, s, padding, name) = try arguments(r)
        return AveragePooling1D(poolSize: p, strides: s, padding: padding, name: name)
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        pool(x) { $0.avgPool2d(poolSize: (poolSize, 1), strides: (strides, 1), padding: padding) }
    }
}
