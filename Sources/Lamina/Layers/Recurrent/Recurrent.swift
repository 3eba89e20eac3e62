import Foundation

/// Shared machinery of the recurrent layers (`SimpleRNN`, `LSTM`, `GRU`) over
/// `[batch, timesteps, features]`: weights, regularizers, `goBackwards`, and the dropout
/// masks. As in Keras, one input mask and one recurrent mask are drawn per call and used at
/// every step; the recurrent mask multiplies h₍t−1₎ where it enters the recurrent product.
/// (Keras's implementation 1, which it switches to when `recurrentDropout > 0`, draws a mask
/// per gate instead; Lamina shares one across the gates.)
///
/// **Masks** (from `Embedding(maskZero: true)` or `Masking`): a masked step leaves the sample's
/// states as they were; a returned sequence repeats the previous output there (zeros before the
/// first kept step), as Keras 3. The output keeps the mask with `returnSequences`, else ends it.
///
/// **States**: with `returnState: true`, `callAll([x])` (or `layer.callAll(x)` on a symbolic
/// tensor) returns `[output, h]`, or `[output, h, c]` for LSTM; a plain call returns the output.
/// Initial states: `lstm(x, initialState: [h, c])`, eagerly or on symbolic tensors (they become
/// inputs of the model). As in Keras 3, a call given initial states does not apply the input's
/// mask to the recurrence (Keras passes the mask by itself only to single-tensor calls).
///
/// ```swift
/// let ids = Input(shape: [20], dtype: .int32)
/// let x = Embedding(inputDim: 1000, outputDim: 32, maskZero: true)(ids)
/// let outs = LSTM(64, returnState: true).callAll(x)          // [output, h, c]
/// let decoded = LSTM(64)(x, initialState: [outs[1], outs[2]])[0]
/// ```
public class Recurrent: Layer, RandomLayer {
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
        return [[s[1], gates * units], [units, gates * units]] + (useBias ? [biasShape] : [])
    }
    /// Keras keeps a recurrent layer's variables in its cell: `layers/lstm/cell/vars`.
    public override var kerasVariablesPath: String { "cell/vars" }

    /// The size of the hidden state and of each output step. Keras: `units`.
    public let units: Int
    /// Whether the output is every step's `[batch, steps, units]` or only the last `[batch, units]`. Keras: `return_sequences`.
    public let returnSequences: Bool
    /// Keras's `return_state`: `callAll` (and a graph call) returns the output followed by the
    /// final states — `[output, h]` (SimpleRNN, GRU) or `[output, h, c]` (LSTM).
    public let returnState: Bool
    /// Keras's `zero_output_for_mask`: masked steps of a returned sequence are zeros instead of
    /// the previous output (`Bidirectional` sets it on its layers when they return sequences).
    public internal(set) var zeroOutputForMask: Bool
    /// Keras's `go_backwards`: the sequence is read from its last step, and the returned
    /// sequence is in that (reversed) order.
    public let goBackwards: Bool
    /// How the input kernel, the recurrent kernel and the bias start (Keras defaults: glorot uniform, orthogonal, zeros).
    public let kernelInitializer: Initializer, recurrentInitializer: Initializer, biasInitializer: Initializer
    /// Whether the layer has a bias. Keras: `use_bias`.
    public let useBias: Bool
    /// Penalties on the kernels and the bias added to the loss (nil: none).
    public let kernelRegularizer: Regularizer?, recurrentRegularizer: Regularizer?, biasRegularizer: Regularizer?
    /// Fractions of the inputs and of the recurrent state dropped while training.
    public let dropout: Double, recurrentDropout: Double
    /// Seeds the dropout; nil draws from the default generator. Keras: `seed`.
    public let seed: UInt64?
    /// The layer's own generator when seeded (saved with the model to resume exactly).
    var generator: RandomGenerator?
    /// The input kernel, recurrent kernel and bias, nil until the layer is built.
    public private(set) var kernel: Variable?, recurrentKernel: Variable?, bias: Variable?

    /// The options every recurrent layer takes, in one value for the subclasses' initializers.
    struct Options {
        var units: Int, returnSequences: Bool, goBackwards: Bool, useBias: Bool
        var kernelInitializer: Initializer, recurrentInitializer: Initializer, biasInitializer: Initializer
        var kernelRegularizer: Regularizer?, recurrentRegularizer: Regularizer?, biasRegularizer: Regularizer?
        var dropout: Double, recurrentDropout: Double, seed: UInt64?
        var returnState = false, zeroOutputForMask = false
    }

    init(_ o: Options, inputShape: [Int]?, name: String?) {
        (units, returnSequences, goBackwards, useBias) = (o.units, o.returnSequences, o.goBackwards, o.useBias)
        (returnState, zeroOutputForMask) = (o.returnState, o.zeroOutputForMask)
        (kernelInitializer, recurrentInitializer, biasInitializer) = (o.kernelInitializer, o.recurrentInitializer, o.biasInitializer)
        (kernelRegularizer, recurrentRegularizer, biasRegularizer) = (o.kernelRegularizer, o.recurrentRegularizer, o.biasRegularizer)
        (dropout, recurrentDropout, seed) = (o.dropout, o.recurrentDropout, o.seed)
        generator = o.seed.map { RandomGenerator(seed: $0) }
        super.init(name: name, inputShape: inputShape)
        if units <= 0 { reject("units must be positive, got \(units)") }
        if !(0..<1).contains(dropout) || !(0..<1).contains(recurrentDropout) {
            reject("dropout \(dropout) and recurrentDropout \(recurrentDropout) must be in [0, 1)")
        }
    }

    /// The shared options from a Keras config (initializer defaults are Keras's).
    static func options(_ r: ConfigReader) throws -> Options {
        Options(units: try r.int("units", minimum: 1), returnSequences: try r.bool("return_sequences", default: false),
                goBackwards: try r.bool("go_backwards", default: false), useBias: try r.bool("use_bias", default: true),
                kernelInitializer: try r.initializer("kernel_initializer", default: .glorotUniform),
                recurrentInitializer: try r.initializer("recurrent_initializer", default: .orthogonal),
                biasInitializer: try r.initializer("bias_initializer", default: .zeros),
                kernelRegularizer: try r.regularizer("kernel_regularizer"), recurrentRegularizer: try r.regularizer("recurrent_regularizer"),
                biasRegularizer: try r.regularizer("bias_regularizer"),
                dropout: try r.double("dropout", default: 0, in: 0...0.999_999),
                recurrentDropout: try r.double("recurrent_dropout", default: 0, in: 0...0.999_999),
                seed: try r.optionalInt("seed", minimum: 0).map(UInt64.init),
                returnState: try r.bool("return_state", default: false),
                zeroOutputForMask: try r.bool("zero_output_for_mask", default: false))
    }

    public override func config() throws -> [String: Any] {
        ["units": units, "use_bias": useBias, "return_sequences": returnSequences, "go_backwards": goBackwards,
         "return_state": returnState, "zero_output_for_mask": zeroOutputForMask,
         "kernel_initializer": kernelInitializer.config, "recurrent_initializer": recurrentInitializer.config,
         "bias_initializer": biasInitializer.config,
         "kernel_regularizer": try kernelRegularizer?.serialize() ?? NSNull(),
         "recurrent_regularizer": try recurrentRegularizer?.serialize() ?? NSNull(),
         "bias_regularizer": try biasRegularizer?.serialize() ?? NSNull(),
         "dropout": dropout, "recurrent_dropout": recurrentDropout, "seed": seed.map { NSNumber(value: $0) } ?? NSNull()]
    }
    /// Gate blocks per step: 1 for SimpleRNN, 4 for LSTM, 3 for GRU.
    var gates: Int { 1 }
    var biasShape: [Int] { [gates * units] }

    public override func build(inputShape: [Int]) throws {
        guard inputShape.count == 2 else { throw LaminaError.shape("\(name) expects [*, timesteps, features], got \(describe(inputShape))") }
        kernel = addWeight("kernel", shape: [inputShape[1], gates * units], initializer: kernelInitializer, regularizer: kernelRegularizer)
        recurrentKernel = addWeight("recurrent_kernel", shape: [units, gates * units], initializer: recurrentInitializer,
                                    regularizer: recurrentRegularizer)
        if useBias { bias = addWeight("bias", shape: biasShape, initializer: biasInitializer, regularizer: biasRegularizer) }
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

    /// The input projection of all timesteps in one GEMM, time-major `[timesteps, batch,
    /// gates·units]` and in reading order (reversed for `goBackwards`), the input dropout
    /// mask applied while training. `inputBias` defaults to the whole bias.
    func projectInputs(_ x: Tensor, training: Bool, inputBias: Tensor? = nil) -> Tensor {
        project(timeMajorInputs(x, training: training), inputBias: inputBias)
    }

    /// `timeMajor · kernel + inputBias` (defaulting to the whole bias): the bias goes into the
    /// GEMM (rows start from it), not into a broadcast add afterwards.
    func project(_ timeMajor: Tensor, inputBias: Tensor? = nil) -> Tensor {
        if let b = inputBias ?? bias?.value { return timeMajor.matmul(kernel!.value, bias: b) }
        return timeMajor.matmul(kernel!.value)
    }

    /// The inputs time-major `[timesteps, batch, features]` in reading order, the input dropout
    /// mask applied while training (the (narrow) input is permuted, not the projection).
    func timeMajorInputs(_ x: Tensor, training: Bool) -> Tensor {
        var x = x
        if training && dropout > 0 {
            x = x * dropoutMask([x.shape[0], 1, x.shape[2]], rate: dropout, dtype: x.dtype, generator: &generator)
        }
        var timeMajor = x.permuted([1, 0, 2])
        if goBackwards { timeMajor = timeMajor.reversed(axis: 0) }
        return timeMajor
    }

    /// The recurrent dropout mask `[batch, units]` for this call, nil when inactive.
    func recurrentMask(batch: Int, training: Bool, dtype: DType) -> Tensor? {
        guard training && recurrentDropout > 0 else { return nil }
        return dropoutMask([batch, units], rate: recurrentDropout, dtype: dtype, generator: &generator)
    }

    /// The states a step carries: 1 (h) for SimpleRNN and GRU, 2 (h, c) for LSTM.
    var stateCount: Int { 1 }

    /// Runs `step(xw_t, states) → states` (h first) over the time-major projections from
    /// `initial` (zeros when nil); where the time-major mask `[T, B]` is 0 a sample keeps its
    /// states. Returns every step's h (time-major `[T, B, n]`, when returning sequences) and the
    /// final states.
    func run(_ xw: Tensor, mask: Tensor?, initial: [Tensor]?,
             _ step: (Tensor, [Tensor]) -> [Tensor]) -> (sequence: Tensor?, states: [Tensor]) {
        var states = initial ?? Array(repeating: Tensor.zeros([xw.shape[1], units], dtype: xw.dtype), count: stateCount)
        var outputs: [Tensor] = []
        for t in 0..<xw.shape[0] {
            let new = step(xw.sliced(axis: 0, t..<t + 1).squeezed(axis: 0), states)
            if let mask {
                let m = mask.sliced(axis: 0, t..<t + 1).reshaped(to: [xw.shape[1], 1])
                states = zip(new, states).map { m * $0 + (1 - m) * $1 }
            } else {
                states = new
            }
            if returnSequences { outputs.append(states[0]) }
        }
        return (returnSequences ? Tensor.stacked(outputs, axis: 0) : nil, states)
    }

    /// The layer's outputs from the recurrence's h sequence (time-major, in reading order) or
    /// last h: Keras's masked outputs — a masked step outputs the previous output (zeros before
    /// the first kept step) or, with `zeroOutputForMask`, zeros. Returns `[output] + states`.
    func finish(sequence: Tensor?, states: [Tensor], mask: Tensor?) -> [Tensor] {
        var output: Tensor
        if let mask {
            let steps = mask.shape[0], batch = mask.shape[1], m = mask.scalarsAsDouble()
            // The weight of each step's state in the output: the mask itself, or whether a kept
            // step has been seen yet (after one, the previous output is the carried state).
            var w = m
            if !zeroOutputForMask {
                for t in 1..<max(steps, 1) { for b in 0..<batch { w[t * batch + b] = max(w[t * batch + b], w[(t - 1) * batch + b]) } }
            }
            let weights = Tensor(shape: [steps, batch, 1], scalars: w).cast(to: states[0].dtype)
            if let sequence {
                output = (sequence * weights).permuted([1, 0, 2])
            } else {
                output = states[0] * weights.sliced(axis: 0, (steps - 1)..<steps).reshaped(to: [batch, 1])
            }
        } else {
            output = sequence.map { $0.permuted([1, 0, 2]) } ?? states[0]
        }
        return [output] + states
    }

    /// The time-major mask `[T, B]` in reading order from a Keras mask `[B, T]`, checked.
    func timeMajorMask(_ mask: Tensor?, for x: Tensor) throws -> Tensor? {
        guard let mask else { return nil }
        guard mask.shape == [x.shape[0], x.shape[1]] else {
            throw LaminaError.shape("\(name): the mask must be [batch, timesteps] = \(describe(Array(x.shape.prefix(2)))), got \(describe(mask.shape))")
        }
        var m = mask.cast(to: x.dtype).transposed()
        if goBackwards { m = m.reversed(axis: 0) }
        return m
    }

    /// Checks initial states (one `[batch, units]` tensor per state) and casts them to `dtype`.
    func checkedInitialState(_ initial: [Tensor]?, batch: Int, dtype: DType) throws -> [Tensor]? {
        guard let initial, !initial.isEmpty else { return nil }
        guard initial.count == stateCount else {
            throw LaminaError.shape("\(name) takes \(stateCount) initial state\(stateCount == 1 ? "" : "s") ([h\(stateCount == 2 ? ", c" : "")]), got \(initial.count)")
        }
        for s in initial where s.shape != [batch, units] {
            throw LaminaError.shape("\(name): initial states must be [batch, units] = \(describe([batch, units])), got \(describe(s.shape))")
        }
        return initial.map { $0.dtype == dtype ? $0 : $0.cast(to: dtype) }
    }

    /// The recurrence: `[output] + final states` for input `x` `[B, T, F]`, the time-major mask
    /// and checked initial states. Subclasses implement it.
    func recur(_ x: Tensor, mask: Tensor?, initial: [Tensor]?, training: Bool) throws -> [Tensor] {
        fatalError("\(className) must override recur")
    }

    /// The output and the final states for `x` with an optional mask `[B, T]` and initial states.
    func forward(_ x: Tensor, mask: Tensor?, initialState: [Tensor]?, training: Bool) throws -> [Tensor] {
        guard x.rank == 3, x.shape[1] > 0 else {
            throw LaminaError.shape("\(name) expects [batch, timesteps ≥ 1, features], got \(describe(x.shape))")
        }
        return try recur(x, mask: try timeMajorMask(mask, for: x),
                  initial: try checkedInitialState(initialState, batch: x.shape[0], dtype: x.dtype), training: training)
    }

    public override var supportsMasking: Bool { true }
    /// The output's mask: the input's when returning sequences, none otherwise (Keras).
    public override func computeMask(_ x: Tensor, mask: Tensor?) throws -> Tensor? { returnSequences ? mask : nil }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try forward(x, mask: nil, initialState: nil, training: training)[0]
    }
    public override func call(_ x: Tensor, mask: Tensor?, training: Bool) throws -> Tensor {
        try forward(x, mask: mask, initialState: nil, training: training)[0]
    }

    /// A call on `[x]` or `[x, initial states...]` (how a graph passes initial states, as extra
    /// inputs of the node): `[output]`, or `[output] + final states` with `returnState`.
    public override func callAll(_ inputs: [Tensor], training: Bool) throws -> [Tensor] {
        if let argumentError { throw argumentError }
        return try callWithStates(inputs, returnSequences: returnSequences, returnState: returnState, training: training) {
            try forward($0, mask: $1, initialState: $2, training: training)
        }
    }

    public override func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        if let argumentError { throw argumentError }
        guard let first = inputShapes.first else { throw LaminaError.shape("\(name) takes an input") }
        let states = inputShapes.dropFirst()
        guard states.isEmpty || states.count == stateCount else {
            throw LaminaError.shape("\(name) takes \(stateCount) initial state\(stateCount == 1 ? "" : "s"), got \(states.count)")
        }
        for s in states where s != [units] {
            throw LaminaError.shape("\(name): initial states must be [\(units)] per sample, got \(describe(s))")
        }
        let out = try buildIfNeeded(first, dtype: dtype)
        return [out] + (returnState ? Array(repeating: [units], count: stateCount) : [])
    }

    /// Runs the layer from given initial states (`[h]`, or `[h, c]` for LSTM, each
    /// `[batch, units]`): `[output]`, or `[output] + final states` with `returnState`.
    /// Keras: `layer(x, initial_state=[h, c])`.
    public func callAsFunction(_ x: Tensor, initialState: [Tensor], training: Bool = false) throws -> [Tensor] {
        try callAll([x] + initialState, training: training)
    }
}

extension Recurrent {
    /// A graph call with initial states, which become extra inputs of the node:
    /// `lstm(x, initialState: [h, c])`. Returns `[output]`, or `[output] + states` with `returnState`.
    public func callAsFunction(_ x: any SymbolicTensorConvertible, initialState: [any SymbolicTensorConvertible]) -> [SymbolicTensor] {
        callSymbolic([x.symbolic] + initialState.map(\.symbolic))
    }
    /// A graph call returning every output: `let outs = lstm.callAll(x)` gives
    /// `[output, h, c]` with `returnState` (Keras: `out, h, c = LSTM(..., return_state=True)(x)`).
    public func callAll(_ x: any SymbolicTensorConvertible) -> [SymbolicTensor] {
        callSymbolic([x.symbolic])
    }
}

extension Layer {
    /// A recurrent call (a recurrent layer's or `Bidirectional`'s) on `[x]` or `[x, initial
    /// states...]`: `[output]`, or `[output] + final states` with `returnState`. `run(x, mask,
    /// initialState)` runs the recurrence. As Keras 3, a call given initial states does not use
    /// the input's mask (Keras passes a mask to `call` by itself only for a single-tensor call);
    /// the output still carries it where it keeps the steps.
    func callWithStates(_ inputs: [Tensor], returnSequences: Bool, returnState: Bool, training: Bool,
                        run: (Tensor, Tensor?, [Tensor]) throws -> [Tensor]) throws -> [Tensor] {
        guard let x = inputs.first else { throw LaminaError.shape("\(name) takes an input") }
        if inputs.count == 1 && !returnState { return [try self(x, training: training)] }
        guard x.rank == 3 else { throw LaminaError.shape("\(name) expects [batch, timesteps, features], got \(describe(x.shape))") }
        try buildIfNeeded(Array(x.shape.dropFirst()), dtype: x.dtype.isFloatingPoint ? x.dtype : nil)
        let initial = Array(inputs.dropFirst())
        var out = try run(x, initial.isEmpty ? x.kerasMask : nil, initial)
        out[0].kerasMask = returnSequences ? x.kerasMask : nil
        return returnState ? out : [out[0]]
    }
}
