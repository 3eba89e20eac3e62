/// Shared input handling of the recurrent layers: `[batch, timesteps, features]`.
public class Recurrent: Layer {
    /// `nn.LSTM` / `nn.RNN` (tanh), one layer, one direction: matrices transposed (the gate
    /// blocks i, f, g, o are Keras's i, f, c, o), the two biases summed.
    public override func weightsFromPyTorch(_ module: inout PyTorchModule, flattenedFrom: [Int]?) throws -> [Tensor] {
        guard self is LSTM || (self as? SimpleRNN)?.activation == .tanh else { throw module.error("only tanh nn.RNN maps to SimpleRNN") }
        var out = [try module.take("weight_ih_l0", rank: 2).transposed(), try module.take("weight_hh_l0", rank: 2).transposed()]
        if useBias { out.append(try module.take("bias_ih_l0", rank: 1) + module.take("bias_hh_l0", rank: 1)) }
        return out
    }

    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        _ = try computeOutputShape(s)  // checks [timesteps, features]
        return [[s[1], gates * units], [units, gates * units]] + (useBias ? [[gates * units]] : [])
    }
    /// Keras keeps a recurrent layer's variables in its cell: `layers/lstm/cell/vars`.
    public override var kerasVariablesPath: String { "cell/vars" }

    public let units: Int
    public let returnSequences: Bool
    public let kernelInitializer: Initializer, recurrentInitializer: Initializer, biasInitializer: Initializer
    public let useBias: Bool
    public private(set) var kernel: Variable?, recurrentKernel: Variable?, bias: Variable?

    init(units: Int, returnSequences: Bool, useBias: Bool, kernelInitializer: Initializer,
         recurrentInitializer: Initializer, biasInitializer: Initializer, inputShape: [Int]?, name: String?) {
        self.units = units
        self.returnSequences = returnSequences
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.recurrentInitializer = recurrentInitializer
        self.biasInitializer = biasInitializer
        super.init(name: name, inputShape: inputShape)
        if units <= 0 { reject("units must be positive, got \(units)") }
    }

    /// Gate blocks per step: 1 for SimpleRNN, 4 for LSTM.
    public override func config() throws -> [String: Any] {
        ["units": units, "use_bias": useBias, "return_sequences": returnSequences,
         "kernel_initializer": kernelInitializer.config, "recurrent_initializer": recurrentInitializer.config,
         "bias_initializer": biasInitializer.config]
    }
    var gates: Int { 1 }

    public override func build(inputShape: [Int]) throws {
        guard inputShape.count == 2 else { throw LaminaError.shape("\(name) expects [*, timesteps, features], got \(describe(inputShape))") }
        kernel = addWeight("kernel", shape: [inputShape[1], gates * units], initializer: kernelInitializer)
        recurrentKernel = addWeight("recurrent_kernel", shape: [units, gates * units], initializer: recurrentInitializer)
        if useBias { bias = addWeight("bias", shape: [gates * units], initializer: biasInitializer) }
    }

    public override func checkInputShape(_ shape: [Int]) throws {
        guard shape.count == 2, shape[1] == kernel?.shape[0] else {
            throw LaminaError.shape("\(name) expects [*, timesteps, \(kernel?.shape[0] ?? 0)], got \(describe(shape))")
        }
    }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 2 else { throw LaminaError.shape("\(name) expects [*, timesteps, features], got \(describe(s))") }
        return returnSequences ? [s[0], units] : [units]
    }

    /// The input projection of all timesteps in one GEMM, time-major: `[timesteps, batch, gates·units]`.
    func projectInputs(_ x: Tensor) -> Tensor {
        // Permute the (narrow) input rather than the (gates·units wide) projection.
        // The bias goes into the GEMM (rows start from it), not into a broadcast add afterwards.
        let timeMajor = x.permuted([1, 0, 2])
        if let bias { return timeMajor.matmul(kernel!.value, bias: bias.value) }
        return timeMajor.matmul(kernel!.value)
    }

    /// Stacks per-step outputs `[batch, units]` to `[batch, timesteps, units]`.
    func collect(_ outputs: [Tensor]) -> Tensor {
        returnSequences ? Tensor.stacked(outputs, axis: 1) : outputs[outputs.count - 1]
    }
}

/// Fully connected RNN: `h_t = activation(x_t·W + h_{t−1}·U + b)`. Keras: `SimpleRNN`.
/// Weights: kernel `[in, units]`, recurrent_kernel `[units, units]`, bias `[units]`.
public final class SimpleRNN: Recurrent {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try SimpleRNN(r.int("units", minimum: 1), activation: r.activation(default: .tanh),
                      useBias: r.bool("use_bias", default: true),
                      kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                      recurrentInitializer: r.initializer("recurrent_initializer", default: .orthogonal),
                      biasInitializer: r.initializer("bias_initializer", default: .zeros),
                      returnSequences: r.bool("return_sequences", default: false), name: r.layerName())
    }
    public let activation: ActivationFunction

    public init(_ units: Int, activation: ActivationFunction = .tanh, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, recurrentInitializer: Initializer = .orthogonal,
                biasInitializer: Initializer = .zeros, returnSequences: Bool = false,
                inputShape: [Int]? = nil, name: String? = nil) {
        self.activation = activation
        super.init(units: units, returnSequences: returnSequences, useBias: useBias, kernelInitializer: kernelInitializer,
                   recurrentInitializer: recurrentInitializer, biasInitializer: biasInitializer,
                   inputShape: inputShape, name: name)
        check(activation)
    }

    public override func config() throws -> [String: Any] {
        try super.config().merging(["activation": activation.description]) { $1 }
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let xw = projectInputs(x), u = recurrentKernel!.value
        var h = Tensor.zeros([x.shape[0], units], dtype: x.dtype)
        var outputs: [Tensor] = []
        for t in 0..<x.shape[1] {
            h = activation(xw.sliced(axis: 0, t..<t + 1).squeezed(axis: 0) + h.matmul(u))
            outputs.append(h)
        }
        return collect(outputs)
    }
}

/// Long short-term memory. Keras: `LSTM` — gates in Keras order i, f, c, o; recurrent
/// activation sigmoid; `unitForgetBias` starts the forget-gate bias at 1.
/// Weights: kernel `[in, 4·units]`, recurrent_kernel `[units, 4·units]`, bias `[4·units]`.
public final class LSTM: Recurrent {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        _ = r.value("seed")   // only seeds recurrent dropout, which must be 0
        return try LSTM(r.int("units", minimum: 1), activation: r.activation(default: .tanh),
                        recurrentActivation: r.activation("recurrent_activation", default: .sigmoid),
                        useBias: r.bool("use_bias", default: true),
                        kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                        recurrentInitializer: r.initializer("recurrent_initializer", default: .orthogonal),
                        biasInitializer: r.initializer("bias_initializer", default: .zeros),
                        unitForgetBias: r.bool("unit_forget_bias", default: true),
                        returnSequences: r.bool("return_sequences", default: false), name: r.layerName())
    }
    public let activation: ActivationFunction, recurrentActivation: ActivationFunction
    public let unitForgetBias: Bool

    public init(_ units: Int, activation: ActivationFunction = .tanh, recurrentActivation: ActivationFunction = .sigmoid,
                useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
                recurrentInitializer: Initializer = .orthogonal, biasInitializer: Initializer = .zeros,
                unitForgetBias: Bool = true, returnSequences: Bool = false,
                inputShape: [Int]? = nil, name: String? = nil) {
        self.activation = activation
        self.recurrentActivation = recurrentActivation
        self.unitForgetBias = unitForgetBias
        super.init(units: units, returnSequences: returnSequences, useBias: useBias, kernelInitializer: kernelInitializer,
                   recurrentInitializer: recurrentInitializer, biasInitializer: biasInitializer,
                   inputShape: inputShape, name: name)
        check(activation)
        check(recurrentActivation)
    }

    public override func config() throws -> [String: Any] {
        try super.config().merging(["activation": activation.description, "unit_forget_bias": unitForgetBias,
                                    "recurrent_activation": recurrentActivation.description]) { $1 }
    }
    override var gates: Int { 4 }

    public override func build(inputShape: [Int]) throws {
        try super.build(inputShape: inputShape)
        if unitForgetBias, let bias {
            // Keras: bias = [b_i, ones, b_c, b_o] with the other blocks from biasInitializer.
            let u = units
            bias.value = Tensor.concatenated([bias.value.sliced(axis: 0, 0..<u), .ones([u], dtype: dtype),
                                              bias.value.sliced(axis: 0, 2 * u..<4 * u)])
        }
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let xw = projectInputs(x), u = recurrentKernel!.value, n = units
        if activation == .tanh && recurrentActivation == .sigmoid {
            // The default gates: one fused op with backpropagation through time.
            let h = xw.lstmRecurrence(recurrentKernel: u, returnSequences: returnSequences)
            return returnSequences ? h.permuted([1, 0, 2]) : h
        }
        var h = Tensor.zeros([x.shape[0], n], dtype: x.dtype), c = h
        var outputs: [Tensor] = []
        for t in 0..<x.shape[1] {
            let z = xw.sliced(axis: 0, t..<t + 1).squeezed(axis: 0) + h.matmul(u)
            let i = recurrentActivation(z.sliced(axis: 1, 0..<n))
            let f = recurrentActivation(z.sliced(axis: 1, n..<2 * n))
            let g = activation(z.sliced(axis: 1, 2 * n..<3 * n))
            let o = recurrentActivation(z.sliced(axis: 1, 3 * n..<4 * n))
            c = f * c + i * g
            h = o * activation(c)
            outputs.append(h)
        }
        return collect(outputs)
    }
}
