import Foundation

/// Multi-head attention (Vaswani et al.). Keras: `keras.layers.MultiHeadAttention(num_heads,
/// key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None)`.
///
/// Called as Keras's: `mha(query, value, key: nil, attentionMask: nil, training:, useCausalMask:)`
/// on tensors or, in a functional model, on symbolic tensors; `returnAttentionScores: true`
/// also gives the attention probabilities `[batch, heads, tq, tk]`.
///
/// Shapes: query `[batch, tq, dq]`, value `[batch, tk, dv]`, key `[batch, tk, dk]` (the value
/// when omitted), attentionMask `[batch, tq, tk]` (nonzero attends) → `[batch, tq, outputShape ?? dq]`.
/// Weights (Keras's names and order): `query/kernel [dq, heads, keyDim]`, `query/bias [heads, keyDim]`,
/// the same for `key` and `value` (`valueDim`), `attention_output/kernel [heads, valueDim, out]`
/// and `attention_output/bias [out]`.
///
/// Masks as Keras 3's `_compute_attention_mask`: the query's `kerasMask` `[b, tq, 1]`, the value's
/// and key's `[b, 1, tk]`, the explicit mask and the causal mask are ANDed; the output carries the
/// query's mask. The scores go through one fused kernel per (batch, head)
/// (`Tensor.attentionProbabilities` + `Tensor.attentionCombine`); dropout, in training, falls
/// on the probabilities. A query row that sees no key attends uniformly (Keras's
/// `dot_product_attention`) unless the layer has dropout or returns its scores: then, as Keras's
/// masked Softmax, its probabilities are 0 and its output is the output bias.
///
/// ```swift
/// let x = Embedding(inputDim: 10000, outputDim: 64, maskZero: true)(ids)
/// let y = MultiHeadAttention(numHeads: 4, keyDim: 16)(x, x)             // self-attention, padding masked
/// let z = MultiHeadAttention(numHeads: 4, keyDim: 16)(y, y, useCausalMask: true)
/// ```
public final class MultiHeadAttention: Layer {
    /// The number of heads, and each head's query/key and value sizes.
    public let numHeads: Int, keyDim: Int, valueDim: Int
    /// The dropout rate on the attention weights during training.
    public let dropout: Double
    /// Whether the projections have biases.
    public let useBias: Bool
    /// The last dimension of the output (Keras's `output_shape`); the query's when nil.
    public let outputDim: Int?
    /// How the projection kernels and biases start.
    public let kernelInitializer: Initializer, biasInitializer: Initializer
    /// Seeds the dropout; nil draws from the default generator.
    public let seed: UInt64?
    private var dropoutLayer: Dropout
    private var queryKernel: Variable?, queryBias: Variable?, keyKernel: Variable?, keyBias: Variable?
    private var valueKernel: Variable?, valueBias: Variable?, outputKernel: Variable?, outputBias: Variable?
    /// The per-sample shapes built for: query, value, key.
    private var builtShapes: [[Int]]?

    /// Keras: `MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
    /// output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform", bias_initializer="zeros")`.
    public init(numHeads: Int, keyDim: Int, valueDim: Int? = nil, dropout: Double = 0, useBias: Bool = true,
                outputShape: Int? = nil, attentionAxes: [Int]? = nil,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
                seed: UInt64? = nil, name: String? = nil) {
        (self.numHeads, self.keyDim, self.valueDim) = (numHeads, keyDim, valueDim ?? keyDim)
        (self.dropout, self.useBias, self.outputDim) = (dropout, useBias, outputShape)
        (self.kernelInitializer, self.biasInitializer, self.seed) = (kernelInitializer, biasInitializer, seed)
        dropoutLayer = Dropout(min(max(dropout, 0), 0.999), seed: seed)
        super.init(name: name)
        if numHeads <= 0 || keyDim <= 0 || self.valueDim <= 0 {
            reject("numHeads \(numHeads), keyDim \(keyDim) and valueDim \(self.valueDim) must be positive")
        }
        if !(0..<1).contains(dropout) { reject("dropout must be in [0, 1), got \(dropout)") }
        if let outputShape, outputShape <= 0 { reject("outputShape must be positive, got \(outputShape)") }
        if let attentionAxes, attentionAxes != [1], attentionAxes != [-2] {
            reject("Lamina attends over the steps axis of [batch, steps, features] inputs only (attentionAxes [1]), got \(attentionAxes)")
        }
    }

    public override var supportsMasking: Bool { true }

    // MARK: - Config (Keras's get_config keys)

    public override func config() throws -> [String: Any] {
        ["num_heads": numHeads, "key_dim": keyDim, "value_dim": valueDim, "dropout": dropout, "use_bias": useBias,
         "use_gate": false, "output_shape": outputDim.map { $0 as Any } ?? NSNull(), "attention_axes": [1],
         "sliding_window": NSNull(), "kernel_initializer": kernelInitializer.config, "bias_initializer": biasInitializer.config,
         "kernel_regularizer": NSNull(), "bias_regularizer": NSNull(), "activity_regularizer": NSNull(),
         "kernel_constraint": NSNull(), "bias_constraint": NSNull(), "seed": seed.map { Int($0) as Any } ?? NSNull()]
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        if try r.bool("use_gate", default: false) { throw r.error("use_gate=True is not supported by Lamina") }
        if r.value("sliding_window").map({ !($0 is NSNull) }) ?? false { throw r.error("sliding_window is not supported by Lamina") }
        var output: Int?
        if let o = r.value("output_shape"), !(o is NSNull) {
            if let list = o as? [Any] {
                guard list.count == 1, let n = ConfigReader.integer(list[0]) else { throw r.error("output_shape must be one integer, got \(ConfigReader.show(o))") }
                output = n
            } else { output = try r.int("output_shape", minimum: 1) }
        }
        let axes = (r.value("attention_axes") as? [Any])?.compactMap(ConfigReader.integer)
        return MultiHeadAttention(numHeads: try r.int("num_heads", minimum: 1), keyDim: try r.int("key_dim", minimum: 1),
                                  valueDim: try r.optionalInt("value_dim", minimum: 1), dropout: try r.double("dropout", default: 0, in: 0...0.999),
                                  useBias: try r.bool("use_bias", default: true), outputShape: output, attentionAxes: axes,
                                  kernelInitializer: try r.initializer("kernel_initializer", default: .glorotUniform),
                                  biasInitializer: try r.initializer("bias_initializer", default: .zeros),
                                  seed: try r.optionalInt("seed", minimum: 0).map(UInt64.init), name: try r.layerName())
    }

    /// Keras 3 keeps each projection in its own EinsumDense: `query_dense/vars/0`, ...
    public override var kerasWeightPaths: [String] {
        ["query_dense", "key_dense", "value_dense", "output_dense"].flatMap { group in
            useBias ? ["\(group)/vars/0", "\(group)/vars/1"] : ["\(group)/vars/0"]
        }
    }

    // MARK: - Building

    private func weightShapes(query: [Int], value: [Int], key: [Int]) -> [[Int]] {
        let out = outputDim ?? query[query.count - 1]
        let pairs: [([Int], [Int])] = [([query.last!, numHeads, keyDim], [numHeads, keyDim]), ([key.last!, numHeads, keyDim], [numHeads, keyDim]),
                                       ([value.last!, numHeads, valueDim], [numHeads, valueDim]), ([numHeads, valueDim, out], [out])]
        return pairs.flatMap { useBias ? [$0.0, $0.1] : [$0.0] }
    }

    /// Builds for per-sample shapes query [tq, dq], value [tk, dv], key [tk, dk]; returns the output shape.
    @discardableResult
    func build(query: [Int], value: [Int], key: [Int]?) throws -> [Int] {
        if let argumentError { throw argumentError }
        let key = key ?? value
        for (what, s) in [("query", query), ("value", value), ("key", key)] where s.count != 2 {
            throw LaminaError.shape("\(name) expects \(what) of shape [batch, steps, features], got \(describe(s))")
        }
        guard key[0] == value[0] else {
            throw LaminaError.shape("\(name): key and value must have the same number of steps, got \(describe(key)) and \(describe(value))")
        }
        if let built = builtShapes {
            for (what, want, got) in [("query", built[0], query), ("value", built[1], value), ("key", built[2], key)] where want.last != got.last {
                throw LaminaError.shape("\(name) was built for \(what) features \(want.last!), got \(describe(got))")
            }
        } else {
            var names = ["query/kernel", "query/bias", "key/kernel", "key/bias", "value/kernel", "value/bias", "attention_output/kernel", "attention_output/bias"]
            if !useBias { names = names.filter { $0.hasSuffix("kernel") } }
            let made = zip(names, weightShapes(query: query, value: value, key: key)).map { n, s in
                addWeight(n, shape: s, initializer: n.hasSuffix("kernel") ? kernelInitializer : biasInitializer)
            }
            if useBias {
                (queryKernel, queryBias, keyKernel, keyBias) = (made[0], made[1], made[2], made[3])
                (valueKernel, valueBias, outputKernel, outputBias) = (made[4], made[5], made[6], made[7])
            } else {
                (queryKernel, keyKernel, valueKernel, outputKernel) = (made[0], made[1], made[2], made[3])
            }
            builtShapes = [query, value, key]
            markBuilt(inputShape: nil, outputShape: [query[0], outputDim ?? query[1]])
        }
        return [query[0], outputDim ?? query[1]]
    }

    // MARK: - Calls on tensors

    /// Attention of `query` over `value` (keyed by `key`, or by `value` itself).
    public func callAsFunction(_ query: Tensor, _ value: Tensor, key: Tensor? = nil, attentionMask: Tensor? = nil,
                               training: Bool = false, useCausalMask: Bool = false) throws -> Tensor {
        try attend(query, value, key: key, attentionMask: attentionMask, scores: false, training: training, causal: useCausalMask).0
    }

    /// Attention with its probabilities `[batch, heads, tq, tk]` (Keras's `return_attention_scores=True`).
    public func callAsFunction(_ query: Tensor, _ value: Tensor, key: Tensor? = nil, attentionMask: Tensor? = nil,
                               returnAttentionScores: Bool, training: Bool = false,
                               useCausalMask: Bool = false) throws -> (Tensor, Tensor) {
        let (out, scores) = try attend(query, value, key: key, attentionMask: attentionMask, scores: true, training: training, causal: useCausalMask)
        return (out, scores!)
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        throw LaminaError.shape("\(name) (MultiHeadAttention) takes a query and a value: mha(query, value)")
    }

    /// A projection of x [b, t, d] by kernel [d, h, k] (+ bias [h, k]) → [b, t, h, k].
    private func project(_ x: Tensor, _ kernel: Variable, _ bias: Variable?) -> Tensor {
        let s = kernel.value.shape, (b, t) = (x.shape[0], x.shape[1])
        let w = kernel.value.reshaped(to: [s[0], s[1] * s[2]])
        let y = bias.map { x.matmul(w, bias: $0.value.reshaped(to: [s[1] * s[2]])) } ?? x.matmul(w)
        return y.reshaped(to: [b, t, s[1], s[2]])
    }

    private func attend(_ query: Tensor, _ value: Tensor, key: Tensor?, attentionMask: Tensor?, scores: Bool,
                        training: Bool, causal: Bool) throws -> (Tensor, Tensor?) {
        for (what, t) in [("query", query), ("value", value)] + (key.map { [("key", $0)] } ?? []) where t.rank != 3 {
            throw LaminaError.shape("\(name) expects \(what) of shape [batch, steps, features], got \(t.shape)")
        }
        let keyGiven = key != nil, key = key ?? value
        let (b, tq, tk) = (query.shape[0], query.shape[1], value.shape[1])
        guard value.shape[0] == b, key.shape[0] == b else {
            throw LaminaError.shape("\(name): query, value and key have different batch sizes \(query.shape[0]), \(value.shape[0]), \(key.shape[0])")
        }
        let dtype = query.dtype
        if !isBuilt, dtype.isFloatingPoint { self.dtype = dtype }
        try build(query: Array(query.shape.dropFirst()), value: Array(value.shape.dropFirst()), key: Array(key.shape.dropFirst()))
        guard query.dtype == self.dtype, value.dtype == self.dtype, key.dtype == self.dtype else {
            throw LaminaError.value("\(name) holds \(self.dtype) weights; query, value and key are \(query.dtype), \(value.dtype), \(key.dtype)")
        }

        // Keras 3's _compute_attention_mask: query [b, tq, 1] & value [b, 1, tk] & key [b, 1, tk] & explicit.
        var mask: Tensor?
        func and(_ m: Tensor) { mask = mask.map { $0 * m } ?? m }
        if let m = query.kerasMask { and(m.cast(to: dtype).reshaped(to: [b, tq, 1])) }
        if let m = value.kerasMask { and(m.cast(to: dtype).reshaped(to: [b, 1, tk])) }
        if keyGiven, let m = key.kerasMask {   // ANDing the same mask twice changes nothing
            and(m.cast(to: dtype).reshaped(to: [b, 1, tk])) }
        if let m = attentionMask {
            let ok = (m.rank == 3 && (m.shape[0] == b || m.shape[0] == 1) && (m.shape[1] == tq || m.shape[1] == 1) && (m.shape[2] == tk || m.shape[2] == 1))
                || (m.rank == 2 && (m.shape[0] == tq || m.shape[0] == 1) && (m.shape[1] == tk || m.shape[1] == 1))
            guard ok else { throw LaminaError.shape("\(name): attentionMask \(m.shape) does not fit [batch, tq, tk] = [\(b), \(tq), \(tk)]") }
            let bool = Tensor(shape: m.shape, scalars: m.scalarsAsDouble().map { $0 != 0 ? 1.0 : 0.0 }).cast(to: dtype)
            and(bool.rank == 2 ? bool.reshaped(to: [1] + bool.shape) : bool)
        }
        let fullMask = mask.map { $0.broadcasted(to: [b, tq, tk]).detached() }

        let q = project(query, queryKernel!, queryBias), k = project(key, keyKernel!, keyBias), v = project(value, valueKernel!, valueBias)
        let scale = 1 / Double(keyDim).squareRoot()
        var o: Tensor, probabilities: Tensor?
        if scores || dropout > 0 {
            // Keras's _compute_attention: masked softmax (masked probabilities set to 0, even in a
            // row that sees nothing), dropout, then the weighted sum of values. Keras takes this
            // path whenever the layer has dropout, in inference too; otherwise
            // ops.dot_product_attention, where a row that sees nothing attends uniformly.
            var p = Tensor.attentionProbabilities(query: q, key: k, mask: fullMask, causal: causal, scale: scale)
            if fullMask != nil || causal {
                var keep = fullMask ?? Tensor.ones([b, tq, tk], dtype: dtype)
                if causal { keep = keep * Self.lowerTriangle(tq, tk, dtype: dtype) }
                p = p * keep.reshaped(to: [b, 1, tq, tk])
            }
            probabilities = p
            let dropped = training && dropout > 0 ? try dropoutLayer(p, training: true) : p
            o = Tensor.attentionCombine(probabilities: dropped, value: v)
        } else {
            o = Tensor.scaledDotProductAttention(query: q, key: k, value: v, mask: fullMask, causal: causal, scale: scale)
        }
        let w = outputKernel!.value, out = w.shape[2]
        o = o.reshaped(to: [b, tq, numHeads * valueDim])
        let w2 = w.reshaped(to: [numHeads * valueDim, out])
        var y = outputBias.map { o.matmul(w2, bias: $0.value) } ?? o.matmul(w2)
        y.kerasMask = query.kerasMask
        return (y, probabilities)
    }

    /// 1 where key j ≤ query i (Keras's `ops.tril` causal mask), [1, tq, tk].
    static func lowerTriangle(_ tq: Int, _ tk: Int, dtype: DType) -> Tensor {
        var v = [Double](repeating: 0, count: tq * tk)
        for i in 0..<tq { for j in 0...min(i, tk - 1) where tk > 0 { v[i * tk + j] = 1 } }
        return Tensor(shape: [1, tq, tk], scalars: v).cast(to: dtype)
    }

    // MARK: - Calls in a graph

    /// The positional tensors [query, value] or [query, value, key] (a saved call without keywords).
    public override func callAll(_ inputs: [Tensor], training: Bool) throws -> [Tensor] {
        guard inputs.count == 2 || inputs.count == 3 else { throw LaminaError.shape("\(name) takes query, value and optionally key, got \(inputs.count) tensors") }
        return [try self(inputs[0], inputs[1], key: inputs.count == 3 ? inputs[2] : nil, training: training)]
    }

    public override func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        guard inputShapes.count == 2 || inputShapes.count == 3 else { throw LaminaError.shape("\(name) takes query, value and optionally key, got \(inputShapes.count) tensors") }
        if !isBuilt, let dtype { self.dtype = dtype }
        return [try build(query: inputShapes[0], value: inputShapes[1], key: inputShapes.count == 3 ? inputShapes[2] : nil)]
    }

    /// The call's parts: query, value, key, attention mask, and the two flags.
    private func parts<T>(_ a: CallArguments<T>) throws -> (T, T, T?, T?, scores: Bool, causal: Bool) {
        let positional = a.args.map(\.tensor)
        guard positional.count >= 2, positional.count <= 3, let q = positional[0], let v = positional[1] else {
            throw LaminaError.shape("\(name) is called as mha(query, value, key:, attentionMask:, ...)")
        }
        let known: Set = ["key", "attention_mask", "return_attention_scores", "use_causal_mask", "training", "query_mask", "value_mask", "key_mask"]
        if let unknown = a.kwargs.first(where: { !known.contains($0.name) }) { throw LaminaError.configuration("\(name): unknown argument '\(unknown.name)'") }
        for m in ["query_mask", "value_mask", "key_mask"] where a[m]?.tensor != nil {
            throw LaminaError.configuration("\(name): Lamina takes \(m) from the tensor's own mask (kerasMask), not as an argument")
        }
        let key = positional.count == 3 ? positional[2] : a["key"]?.tensor
        return (q, v, key, a["attention_mask"]?.tensor, a["return_attention_scores"]?.bool ?? false, a["use_causal_mask"]?.bool ?? false)
    }

    public override func callAll(_ arguments: CallArguments<Tensor>, training: Bool) throws -> [Tensor] {
        let (q, v, k, m, scores, causal) = try parts(arguments)
        let (out, p) = try attend(q, v, key: k, attentionMask: m, scores: scores, training: training, causal: causal)
        return p.map { [out, $0] } ?? [out]
    }

    public override func buildCall(_ shapes: CallArguments<[Int]>, dtype: DType?) throws -> [[Int]] {
        let (q, v, k, m, scores, _) = try parts(shapes)
        if !isBuilt, let dtype { self.dtype = dtype }
        let out = try build(query: q, value: v, key: k)
        if let m, m.count != 2 || m[0] != q[0] || m[1] != v[0] {
            throw LaminaError.shape("\(name): attentionMask \(describe(m)) does not fit [tq, tk] = [\(q[0]), \(v[0])]")
        }
        return scores ? [out, [numHeads, q[0], v[0]]] : [out]
    }

    // MARK: - Calls on symbolic tensors

    private func symbolicArguments(_ query: any SymbolicTensorConvertible, _ value: any SymbolicTensorConvertible,
                                   key: (any SymbolicTensorConvertible)?, attentionMask: (any SymbolicTensorConvertible)?,
                                   scores: Bool, causal: Bool) -> CallArguments<SymbolicTensor> {
        var kwargs: [(name: String, value: CallArgument<SymbolicTensor>)] = []
        if let key { kwargs.append(("key", .tensor(key.symbolic))) }
        if let attentionMask { kwargs.append(("attention_mask", .tensor(attentionMask.symbolic))) }
        if scores { kwargs.append(("return_attention_scores", .value(true))) }
        if causal { kwargs.append(("use_causal_mask", .value(true))) }
        return CallArguments(args: [.tensor(query.symbolic), .tensor(value.symbolic)], kwargs: kwargs)
    }

    /// Attention in a functional model: `mha(query, value, key:, attentionMask:, useCausalMask:)`.
    public func callAsFunction(_ query: any SymbolicTensorConvertible, _ value: any SymbolicTensorConvertible,
                               key: (any SymbolicTensorConvertible)? = nil, attentionMask: (any SymbolicTensorConvertible)? = nil,
                               useCausalMask: Bool = false) -> SymbolicTensor {
        callSymbolic(arguments: symbolicArguments(query, value, key: key, attentionMask: attentionMask, scores: false, causal: useCausalMask))[0]
    }

    /// Attention and its probabilities in a functional model (`return_attention_scores=True`).
    public func callAsFunction(_ query: any SymbolicTensorConvertible, _ value: any SymbolicTensorConvertible,
                               key: (any SymbolicTensorConvertible)? = nil, attentionMask: (any SymbolicTensorConvertible)? = nil,
                               returnAttentionScores: Bool, useCausalMask: Bool = false) -> (SymbolicTensor, SymbolicTensor) {
        let out = callSymbolic(arguments: symbolicArguments(query, value, key: key, attentionMask: attentionMask,
                                                            scores: returnAttentionScores, causal: useCausalMask))
        return (out[0], out.count > 1 ? out[1] : out[0])
    }
}
