import Foundation

/// Runs a recurrent layer over the sequence in both directions and merges the two outputs.
/// Keras: `Bidirectional(LSTM(64), merge_mode="concat")`.
///
/// As in Keras, the wrapped layer is copied from its config into `forwardLayer`
/// (`forward_<name>`) and, with `goBackwards` flipped, into `backwardLayer`
/// (`backward_<name>`); the backward sequence output is flipped back to time order before
/// merging. Weights: the forward layer's, then the backward layer's.
///
/// With a mask both directions skip padded steps (the backward layer reads the padded sequence
/// from its end, so it starts from its initial state over the padding), and masked steps of
/// returned sequences are zeros (Keras sets `zero_output_for_mask` on both layers). With
/// `returnState` the wrapped layers' states follow the output: `[output, forward h (, c),
/// backward h (, c)]`.
public final class Bidirectional: Layer {
    /// How the two directions combine. Keras's `merge_mode` (`None`, a pair of outputs, is not offered).
    public enum MergeMode: String, Sendable, CaseIterable {
        /// The two directions' outputs concatenated, added, multiplied or averaged.
        case concat, sum, mul, ave
    }

    /// The layer run forwards and its copy run backwards over the sequence.
    public let forwardLayer: Recurrent, backwardLayer: Recurrent
    /// How the two outputs combine.
    public let mergeMode: MergeMode
    public override var sublayers: [Layer] { [forwardLayer, backwardLayer] }

    /// Keras: `Bidirectional(layer, merge_mode="concat", backward_layer=None)`; the backward layer
    /// defaults to a copy of `layer` going backwards.
    public init(_ layer: Recurrent, mergeMode: MergeMode = .concat, backwardLayer: Recurrent? = nil,
                inputShape: [Int]? = nil, name: String? = nil) {
        self.mergeMode = mergeMode
        var failure: String?
        func copy(_ prefix: String, goBackwards: Bool?) -> Recurrent {
            do {
                var object = try layer.serialize()
                var config = object["config"] as? [String: Any] ?? [:]
                let base = layer.name.hasPrefix(prefix) ? String(layer.name.dropFirst(prefix.count)) : layer.name
                config["name"] = prefix + base
                if let goBackwards { config["go_backwards"] = goBackwards }
                object["config"] = config
                object["build_config"] = nil
                if let copy = try LayerRegistry.make(object) as? Recurrent { return copy }
                failure = "\(layer.className) did not copy as a recurrent layer"
            } catch let error as LaminaError {
                failure = "cannot copy \(layer.name): \(error.message)"
            } catch {
                failure = "cannot copy \(layer.name): \(error)"
            }
            return layer
        }
        forwardLayer = copy("forward_", goBackwards: nil)
        self.backwardLayer = backwardLayer ?? copy("backward_", goBackwards: !layer.goBackwards)
        super.init(name: name, inputShape: inputShape)
        if let failure { reject(failure) }
        if let argumentError = layer.argumentError { reject(argumentError.message) }
        if forwardLayer.goBackwards == self.backwardLayer.goBackwards {
            reject("the forward and backward layers must differ in goBackwards")
        }
        if forwardLayer.returnSequences != self.backwardLayer.returnSequences {
            reject("the forward and backward layers must agree in returnSequences")
        }
        if forwardLayer.returnState != self.backwardLayer.returnState {
            reject("the forward and backward layers must agree in returnState")
        }
        // As Keras: masked steps of returned sequences are zeros in both directions.
        forwardLayer.zeroOutputForMask = forwardLayer.returnSequences
        self.backwardLayer.zeroOutputForMask = self.backwardLayer.returnSequences
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard let object = r.value("layer") else { throw r.error("missing 'layer'") }
        guard let layer = try LayerRegistry.make(object) as? Recurrent else { throw r.error("'layer' must be SimpleRNN, LSTM or GRU") }
        var backward: Recurrent?
        if let object = r.value("backward_layer") {
            guard let b = try LayerRegistry.make(object) as? Recurrent else { throw r.error("'backward_layer' must be SimpleRNN, LSTM or GRU") }
            backward = b
        }
        let mode = try r.string("merge_mode", default: "concat")
        guard let mergeMode = MergeMode(rawValue: mode) else {
            throw r.error("'merge_mode' must be one of concat, sum, mul, ave (None is not supported), got \"\(mode)\"")
        }
        let made = Bidirectional(layer, mergeMode: mergeMode, backwardLayer: backward, name: try r.layerName())
        if let error = made.argumentError { throw r.error(error.message) }
        return made
    }
    public override func config() throws -> [String: Any] {
        ["layer": try forwardLayer.serialize(), "backward_layer": try backwardLayer.serialize(), "merge_mode": mergeMode.rawValue]
    }

    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        try forwardLayer.weightShapes(for: s) + backwardLayer.weightShapes(for: s)
    }
    /// Keras's groups: `forward_layer/cell/vars/<i>` then `backward_layer/cell/vars/<i>`.
    public override var kerasWeightPaths: [String] {
        forwardLayer.kerasWeightPaths.map { "forward_layer/" + $0 } + backwardLayer.kerasWeightPaths.map { "backward_layer/" + $0 }
    }

    public override func build(inputShape: [Int]) throws {
        try forwardLayer.buildIfNeeded(inputShape, dtype: dtype)
        try backwardLayer.buildIfNeeded(inputShape, dtype: dtype)
    }
    public override func checkInputShape(_ shape: [Int]) throws {
        try forwardLayer.checkInputShape(shape)
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        var out = try forwardLayer.computeOutputShape(s)
        let backward = try backwardLayer.computeOutputShape(s)
        if mergeMode == .concat {
            out[out.count - 1] += backward[backward.count - 1]
        } else if out != backward {
            throw LaminaError.shape("\(name): forward output \(describe(out)) and backward output \(describe(backward)) differ; \(mergeMode) needs equal shapes")
        }
        return out
    }

    /// Whether the wrapped layers return their states: `callAll` (and a graph call) then returns
    /// `[output] + forward states + backward states`, as Keras.
    public var returnState: Bool { forwardLayer.returnState }

    public override var supportsMasking: Bool { true }
    public override func computeMask(_ x: Tensor, mask: Tensor?) throws -> Tensor? {
        forwardLayer.returnSequences ? mask : nil
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try run(x, mask: nil, initialState: nil, training: training)[0]
    }
    public override func call(_ x: Tensor, mask: Tensor?, training: Bool) throws -> Tensor {
        try run(x, mask: mask, initialState: nil, training: training)[0]
    }

    /// Both directions over `x` (each skipping masked steps; the backward layer reads the
    /// padded sequence from its end, as Keras), merged; then both layers' final states.
    /// `initialState` holds the forward layer's states, then the backward layer's.
    func run(_ x: Tensor, mask: Tensor?, initialState: [Tensor]?, training: Bool) throws -> [Tensor] {
        var forwardInitial: [Tensor]?, backwardInitial: [Tensor]?
        if let initialState, !initialState.isEmpty {
            let k = forwardLayer.stateCount
            guard initialState.count == 2 * k else {
                throw LaminaError.shape("\(name) takes \(2 * k) initial states (forward then backward), got \(initialState.count)")
            }
            (forwardInitial, backwardInitial) = (Array(initialState.prefix(k)), Array(initialState.suffix(k)))
        }
        let f = try forwardLayer.forward(x, mask: mask, initialState: forwardInitial, training: training)
        let b = try backwardLayer.forward(x, mask: mask, initialState: backwardInitial, training: training)
        let y = f[0]
        var reverse = b[0]
        if backwardLayer.returnSequences { reverse = reverse.reversed(axis: 1) }
        let merged: Tensor
        switch mergeMode {
        case .concat: merged = Tensor.concatenated([y, reverse], axis: -1)
        case .sum: merged = y + reverse
        case .mul: merged = y * reverse
        case .ave: merged = (y + reverse) * 0.5
        }
        return [merged] + f.dropFirst() + b.dropFirst()
    }

    /// A call on `[x]` or `[x, forward states..., backward states...]`: `[output]`, or with
    /// `returnState` `[output] + forward states + backward states`.
    public override func callAll(_ inputs: [Tensor], training: Bool) throws -> [Tensor] {
        if let argumentError { throw argumentError }
        return try callWithStates(inputs, returnSequences: forwardLayer.returnSequences, returnState: returnState, training: training) {
            try run($0, mask: $1, initialState: $2, training: training)
        }
    }

    public override func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        if let argumentError { throw argumentError }
        guard let first = inputShapes.first else { throw LaminaError.shape("\(name) takes an input") }
        let k = forwardLayer.stateCount, states = inputShapes.dropFirst()
        guard states.isEmpty || states.count == 2 * k else {
            throw LaminaError.shape("\(name) takes \(2 * k) initial states (forward then backward), got \(states.count)")
        }
        for (i, s) in states.enumerated() where s != [(i < k ? forwardLayer : backwardLayer).units] {
            throw LaminaError.shape("\(name): initial state \(i) must be [units] per sample, got \(describe(s))")
        }
        let out = try buildIfNeeded(first, dtype: dtype)
        guard returnState else { return [out] }
        return [out] + Array(repeating: [forwardLayer.units], count: k) + Array(repeating: [backwardLayer.units], count: k)
    }
}

extension Bidirectional {
    /// Runs both directions from initial states (the forward layer's, then the backward
    /// layer's): `[output]`, or with `returnState` `[output] + forward states + backward states`.
    public func callAsFunction(_ x: Tensor, initialState: [Tensor], training: Bool = false) throws -> [Tensor] {
        try callAll([x] + initialState, training: training)
    }
    /// A graph call returning every output (`[output] + forward states + backward states` with `returnState`).
    public func callAll(_ x: any SymbolicTensorConvertible) -> [SymbolicTensor] { callSymbolic([x.symbolic]) }
    /// A graph call from initial states (forward layer's, then backward layer's).
    public func callAsFunction(_ x: any SymbolicTensorConvertible, initialState: [any SymbolicTensorConvertible]) -> [SymbolicTensor] {
        callSymbolic([x.symbolic] + initialState.map(\.symbolic))
    }
}
