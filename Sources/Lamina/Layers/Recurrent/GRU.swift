import Foundation

/// Gated recurrent unit. Keras: `GRU` — gates in Keras order z (update), r (reset), h
/// (candidate); `h_t = z·h_{t−1} + (1 − z)·h̃`. With `resetAfter` (Keras 3's default, and
/// PyTorch's `nn.GRU`) the reset gate multiplies the recurrent product, which has its own
/// bias: bias `[2, 3·units]` (input row, recurrent row); without it, `h̃` takes
/// `(r·h_{t−1})·U_h` and the bias is `[3·units]`.
/// Weights: kernel `[in, 3·units]`, recurrent_kernel `[units, 3·units]`, bias.
public final class GRU: Recurrent {
    /// `nn.GRU` (one layer, one direction): gate blocks r, z, n become Keras's z, r, h;
    /// matrices transposed; `bias_ih`, `bias_hh` become the two rows of the bias.
    public override func weightsFromPyTorch(_ module: inout PyTorchModule, flattenedFrom: [Int]?) throws -> [Tensor] {
        guard resetAfter else { throw module.error("nn.GRU maps to GRU(resetAfter: true) only") }
        let n = units
        func reorder(_ t: Tensor) -> Tensor {   // blocks along axis 0: r, z, n → z, r, n
            Tensor.concatenated([t.sliced(axis: 0, n..<2 * n), t.sliced(axis: 0, 0..<n), t.sliced(axis: 0, 2 * n..<3 * n)])
        }
        var out = [reorder(try module.take("weight_ih_l0", rank: 2)).transposed(), reorder(try module.take("weight_hh_l0", rank: 2)).transposed()]
        if useBias {
            out.append(Tensor.stacked([reorder(try module.take("bias_ih_l0", rank: 1)), reorder(try module.take("bias_hh_l0", rank: 1))]))
        }
        return out
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        GRU(options: try options(r), activation: try r.activation(default: .tanh),
            recurrentActivation: try r.activation("recurrent_activation", default: .sigmoid),
            resetAfter: try r.bool("reset_after", default: true), name: try r.layerName())
    }
    /// The candidate's activation (default tanh) and the gates' (default sigmoid). Keras: `activation`, `recurrent_activation`.
    public let activation: ActivationFunction, recurrentActivation: ActivationFunction
    /// Whether the reset gate is applied after the recurrent product (Keras `reset_after`, default true; PyTorch's form).
    public let resetAfter: Bool

    /// Keras: `keras.layers.GRU(units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, ...)` with Keras's defaults;
    /// PyTorch: `nn.GRU(batch_first=True)`.
    public convenience init(_ units: Int, activation: ActivationFunction = .tanh, recurrentActivation: ActivationFunction = .sigmoid,
                useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
                recurrentInitializer: Initializer = .orthogonal, biasInitializer: Initializer = .zeros,
                kernelRegularizer: Regularizer? = nil, recurrentRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil,
                dropout: Double = 0, recurrentDropout: Double = 0, seed: UInt64? = nil,
                returnSequences: Bool = false, returnState: Bool = false, goBackwards: Bool = false, resetAfter: Bool = true,
                inputShape: [Int]? = nil, name: String? = nil) {
        self.init(options: Options(units: units, returnSequences: returnSequences, goBackwards: goBackwards, useBias: useBias,
                                   kernelInitializer: kernelInitializer, recurrentInitializer: recurrentInitializer,
                                   biasInitializer: biasInitializer, kernelRegularizer: kernelRegularizer,
                                   recurrentRegularizer: recurrentRegularizer, biasRegularizer: biasRegularizer,
                                   dropout: dropout, recurrentDropout: recurrentDropout, seed: seed, returnState: returnState),
                  activation: activation, recurrentActivation: recurrentActivation, resetAfter: resetAfter,
                  inputShape: inputShape, name: name)
    }
    init(options: Options, activation: ActivationFunction, recurrentActivation: ActivationFunction, resetAfter: Bool,
         inputShape: [Int]? = nil, name: String?) {
        (self.activation, self.recurrentActivation, self.resetAfter) = (activation, recurrentActivation, resetAfter)
        super.init(options, inputShape: inputShape, name: name)
        check(activation)
        check(recurrentActivation)
    }

    public override func config() throws -> [String: Any] {
        try super.config().merging(["activation": activation.description, "reset_after": resetAfter,
                                    "recurrent_activation": recurrentActivation.description]) { $1 }
    }
    override var gates: Int { 3 }
    override var biasShape: [Int] { resetAfter ? [2, 3 * units] : [3 * units] }

    override func recur(_ x: Tensor, mask: Tensor?, initial: [Tensor]?, training: Bool) throws -> [Tensor] {
        let n = units, u = recurrentKernel!.value
        let (inputBias, recurrentBias): (Tensor?, Tensor?) = resetAfter
            ? (bias.map { $0.value.sliced(axis: 0, 0..<1).reshaped(to: [3 * n]) }, bias.map { $0.value.sliced(axis: 0, 1..<2).reshaped(to: [3 * n]) })
            : (bias?.value, nil)
        let xw = projectInputs(x, training: training, inputBias: inputBias)
        let drop = recurrentMask(batch: x.shape[0], training: training, dtype: x.dtype)
        let (uzr, uh) = (u.sliced(axis: 1, 0..<2 * n), u.sliced(axis: 1, 2 * n..<3 * n))
        let r = run(xw, mask: mask, initial: initial) { xt, s in
            let h = s[0], hm = drop.map { h * $0 } ?? h
            var inner = resetAfter ? hm.matmul(u) : hm.matmul(uzr)
            if let recurrentBias { inner = inner + recurrentBias }
            let z = recurrentActivation(xt.sliced(axis: 1, 0..<n) + inner.sliced(axis: 1, 0..<n))
            let r = recurrentActivation(xt.sliced(axis: 1, n..<2 * n) + inner.sliced(axis: 1, n..<2 * n))
            let recurrentH = resetAfter ? r * inner.sliced(axis: 1, 2 * n..<3 * n) : (r * hm).matmul(uh)
            let candidate = activation(xt.sliced(axis: 1, 2 * n..<3 * n) + recurrentH)
            return [z * h + (1 - z) * candidate]
        }
        return finish(sequence: r.sequence, states: r.states, mask: mask)
    }
}
