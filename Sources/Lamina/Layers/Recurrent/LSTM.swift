import Foundation

/// Long short-term memory. Keras: `LSTM` — gates in Keras order i, f, c, o; recurrent
/// activation sigmoid; `unitForgetBias` starts the forget-gate bias at 1.
/// Weights: kernel `[in, 4·units]`, recurrent_kernel `[units, 4·units]`, bias `[4·units]`.
public final class LSTM: Recurrent {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        LSTM(options: try options(r), activation: try r.activation(default: .tanh),
             recurrentActivation: try r.activation("recurrent_activation", default: .sigmoid),
             unitForgetBias: try r.bool("unit_forget_bias", default: true), name: try r.layerName())
    }
    /// The cell's activation (default tanh) and the gates' (default sigmoid). Keras: `activation`, `recurrent_activation`.
    public let activation: ActivationFunction, recurrentActivation: ActivationFunction
    /// Whether the forget-gate bias starts at 1 (Keras `unit_forget_bias`, default true).
    public let unitForgetBias: Bool

    /// Keras: `keras.layers.LSTM(units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, ...)` with Keras's defaults;
    /// PyTorch: `nn.LSTM(batch_first=True)`.
    public convenience init(_ units: Int, activation: ActivationFunction = .tanh, recurrentActivation: ActivationFunction = .sigmoid,
                useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
                recurrentInitializer: Initializer = .orthogonal, biasInitializer: Initializer = .zeros,
                unitForgetBias: Bool = true, kernelRegularizer: Regularizer? = nil,
                recurrentRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                dropout: Double = 0, recurrentDropout: Double = 0, seed: UInt64? = nil,
                returnSequences: Bool = false, returnState: Bool = false, goBackwards: Bool = false, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(options: Options(units: units, returnSequences: returnSequences, goBackwards: goBackwards, useBias: useBias,
                                   kernelInitializer: kernelInitializer, recurrentInitializer: recurrentInitializer,
                                   biasInitializer: biasInitializer, kernelRegularizer: kernelRegularizer,
                                   recurrentRegularizer: recurrentRegularizer, biasRegularizer: biasRegularizer,
                                   dropout: dropout, recurrentDropout: recurrentDropout, seed: seed, returnState: returnState),
                  activation: activation, recurrentActivation: recurrentActivation, unitForgetBias: unitForgetBias,
                  inputShape: inputShape, name: name)
    }
    init(options: Options, activation: ActivationFunction, recurrentActivation: ActivationFunction, unitForgetBias: Bool,
         inputShape: [Int]? = nil, name: String?) {
        (self.activation, self.recurrentActivation, self.unitForgetBias) = (activation, recurrentActivation, unitForgetBias)
        super.init(options, inputShape: inputShape, name: name)
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

    override var stateCount: Int { 2 }

    override func recur(_ x: Tensor, mask: Tensor?, initial: [Tensor]?, training: Bool) throws -> [Tensor] {
        let inputs = timeMajorInputs(x, training: training), u = recurrentKernel!.value, n = units
        let drop = recurrentMask(batch: x.shape[0], training: training, dtype: x.dtype)
        if activation == .tanh && recurrentActivation == .sigmoid && drop == nil {
            // The default gates: one op from the inputs, with backpropagation through time (the
            // projection, the mask and the initial states inside it). It returns h (all steps or
            // the last) then c_T.
            let steps = x.shape[1]
            let y = inputs.lstm(kernel: kernel!.value, bias: bias?.value, recurrentKernel: u, returnSequences: returnSequences, mask: mask,
                                initialState: initial.map { ($0[0], $0[1]) }, returnCell: true)
            let c = y.sliced(axis: 0, (y.shape[0] - 1)..<y.shape[0]).squeezed(axis: 0)
            if returnSequences {
                let sequence = y.sliced(axis: 0, 0..<steps)
                return finish(sequence: sequence, states: [sequence.sliced(axis: 0, (steps - 1)..<steps).squeezed(axis: 0), c], mask: mask)
            }
            return finish(sequence: nil, states: [y.sliced(axis: 0, 0..<1).squeezed(axis: 0), c], mask: mask)
        }
        let r = run(project(inputs), mask: mask, initial: initial) { xt, s in
            let (h, c) = (s[0], s[1])
            let z = xt + (drop.map { h * $0 } ?? h).matmul(u)
            let i = recurrentActivation(z.sliced(axis: 1, 0..<n))
            let f = recurrentActivation(z.sliced(axis: 1, n..<2 * n))
            let g = activation(z.sliced(axis: 1, 2 * n..<3 * n))
            let o = recurrentActivation(z.sliced(axis: 1, 3 * n..<4 * n))
            let cNew = f * c + i * g
            return [o * activation(cNew), cNew]
        }
        return finish(sequence: r.sequence, states: r.states, mask: mask)
    }
}
