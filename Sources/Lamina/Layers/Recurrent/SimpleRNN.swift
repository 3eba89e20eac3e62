import Foundation

/// Fully connected RNN: `h_t = activation(x_t·W + h_{t−1}·U + b)`. Keras: `SimpleRNN`.
/// Weights: kernel `[in, units]`, recurrent_kernel `[units, units]`, bias `[units]`.
public final class SimpleRNN: Recurrent {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        SimpleRNN(options: try options(r), activation: try r.activation(default: .tanh), name: try r.layerName())
    }
    /// Applied to each new state (default tanh). Keras: `activation`.
    public let activation: ActivationFunction

    /// Keras: `keras.layers.SimpleRNN(units, activation="tanh", ...)` with Keras's defaults; PyTorch: `nn.RNN(batch_first=True)`.
    public convenience init(_ units: Int, activation: ActivationFunction = .tanh, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, recurrentInitializer: Initializer = .orthogonal,
                biasInitializer: Initializer = .zeros, kernelRegularizer: Regularizer? = nil,
                recurrentRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                dropout: Double = 0, recurrentDropout: Double = 0, seed: UInt64? = nil,
                returnSequences: Bool = false, returnState: Bool = false, goBackwards: Bool = false, inputShape: [Int]? = nil, name: String? = nil) {
        self.init(options: Options(units: units, returnSequences: returnSequences, goBackwards: goBackwards, useBias: useBias,
                                   kernelInitializer: kernelInitializer, recurrentInitializer: recurrentInitializer,
                                   biasInitializer: biasInitializer, kernelRegularizer: kernelRegularizer,
                                   recurrentRegularizer: recurrentRegularizer, biasRegularizer: biasRegularizer,
                                   dropout: dropout, recurrentDropout: recurrentDropout, seed: seed, returnState: returnState),
                  activation: activation, inputShape: inputShape, name: name)
    }
    init(options: Options, activation: ActivationFunction, inputShape: [Int]? = nil, name: String?) {
        self.activation = activation
        super.init(options, inputShape: inputShape, name: name)
        check(activation)
    }

    public override func config() throws -> [String: Any] {
        try super.config().merging(["activation": activation.description]) { $1 }
    }
    override func recur(_ x: Tensor, mask: Tensor?, initial: [Tensor]?, training: Bool) throws -> [Tensor] {
        let xw = projectInputs(x, training: training), u = recurrentKernel!.value
        let drop = recurrentMask(batch: x.shape[0], training: training, dtype: x.dtype)
        let r = run(xw, mask: mask, initial: initial) { xt, s in [activation(xt + (drop.map { s[0] * $0 } ?? s[0]).matmul(u))] }
        return finish(sequence: r.sequence, states: r.states, mask: mask)
    }
}
