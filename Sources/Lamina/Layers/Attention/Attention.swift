import Foundation

/// Dot-product (Luong-style) attention over `[query, value]` or `[query, value, key]`.
/// Keras: `keras.layers.Attention(use_scale=False, score_mode="dot", dropout=0.0)`.
///
/// Scores `query·keyᵀ` (`scoreMode: "dot"`, times a learned scalar `scale` with `useScale`) or
/// `concat_score_weight · Σ tanh(scale·(q + k))` (`"concat"`); key positions masked by the value's
/// `kerasMask` or the causal mask get `−1e9`; a softmax over the keys weighs the values; rows of
/// a masked query are zero, and the output carries the query's mask (as Keras 3).
///
/// Shapes: query `[batch, tq, dim]`, value `[batch, tv, dim]`, key `[batch, tv, dim]` →
/// `[batch, tq, dim]`; the scores are `[batch, tq, tv]`.
/// ```swift
/// let context = Attention()([query, value])                       // eager or symbolic
/// let (out, scores) = try Attention(useScale: true)([q, v], returnAttentionScores: true)
/// ```
open class Attention: Layer {
    /// Whether the scores are multiplied by a learned scalar (`scale`).
    public let useScale: Bool
    /// "dot" or "concat" (Keras's `score_mode`).
    public let scoreMode: String
    /// The dropout rate on the attention weights during training.
    public let dropout: Double
    /// Seeds the dropout; nil draws from the default generator.
    public let seed: UInt64?
    private let dropoutLayer: Dropout
    /// The learned score scale, when `useScale` (built on the first call).
    public private(set) var scale: Variable?
    /// The learned weight of "concat" scores (Keras's `concat_score_weight`).
    public private(set) var concatScoreWeight: Variable?

    /// Keras: `keras.layers.Attention(use_scale=False, score_mode="dot", dropout=0.0, seed=None)`.
    public init(useScale: Bool = false, scoreMode: String = "dot", dropout: Double = 0, seed: UInt64? = nil, name: String? = nil) {
        (self.useScale, self.scoreMode, self.dropout, self.seed) = (useScale, scoreMode, dropout, seed)
        dropoutLayer = Dropout(min(max(dropout, 0), 0.999), seed: seed)
        super.init(name: name)
        if !["dot", "concat"].contains(scoreMode) { reject("scoreMode must be \"dot\" or \"concat\", got \"\(scoreMode)\"") }
        if !(0..<1).contains(dropout) { reject("dropout must be in [0, 1), got \(dropout)") }
    }

    open override var supportsMasking: Bool { true }

    open override func config() throws -> [String: Any] {
        ["use_scale": useScale, "score_mode": scoreMode, "dropout": dropout, "seed": seed.map { Int($0) as Any } ?? NSNull()]
    }
    open override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        Attention(useScale: try r.bool("use_scale", default: false), scoreMode: try r.string("score_mode", default: "dot"),
                  dropout: try r.double("dropout", default: 0, in: 0...0.999), seed: try r.optionalInt("seed", minimum: 0).map(UInt64.init),
                  name: try r.layerName())
    }

    /// Creates the weights for the query's feature size `dim`.
    open func makeWeights(dim: Int) {
        if useScale { scale = addWeight("scale", shape: [], initializer: .ones) }
        if scoreMode == "concat" { concatScoreWeight = addWeight("concat_score_weight", shape: [], initializer: .ones) }
    }

    /// The scores `[batch, tq, tv]` of query `[batch, tq, dim]` against key `[batch, tv, dim]`.
    open func scores(_ query: Tensor, _ key: Tensor) -> Tensor {
        if scoreMode == "dot" {
            let s = query.matmul(key.permuted([0, 2, 1]))
            return scale.map { s * $0.value } ?? s
        }
        var sum = query.expandingDims(axis: 2) + key.expandingDims(axis: 1)
        if let scale { sum = sum * scale.value }
        return sum.tanh().sum(axes: [3]) * concatScoreWeight!.value
    }

    // MARK: - Building and shapes

    /// Builds for per-sample shapes [query, value] or [query, value, key]; returns the output shape.
    func build(_ shapes: [[Int]]) throws -> [Int] {
        if let argumentError { throw argumentError }
        guard shapes.count == 2 || shapes.count == 3 else {
            throw LaminaError.shape("\(name) (\(className)) takes [query, value] or [query, value, key], got \(shapes.count) inputs")
        }
        let (q, v) = (shapes[0], shapes[1]), k = shapes.count == 3 ? shapes[2] : v
        guard q.count == 2, v.count == 2, k.count == 2, q[1] == k[1], k[0] == v[0] else {
            throw LaminaError.shape("\(name) (\(className)) expects query [tq, dim], value [tv, dim'] and key [tv, dim], got \(shapes.map { describe($0) }.joined(separator: ", "))")
        }
        if !isBuilt {
            makeWeights(dim: q[1])
            markBuilt(inputShape: nil, outputShape: [q[0], v[1]])
        }
        return [q[0], v[1]]
    }

    open override func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        if !isBuilt, let dtype { self.dtype = dtype }
        return [try build(inputShapes)]
    }

    open override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        throw LaminaError.shape("\(name) (\(className)) takes a list: \(className)()([query, value])")
    }

    // MARK: - Calls

    /// The attention of `inputs` = [query, value] or [query, value, key].
    public func callAsFunction(_ inputs: [Tensor], training: Bool = false, useCausalMask: Bool = false) throws -> Tensor {
        try attend(inputs, training: training, scores: false, causal: useCausalMask).0
    }

    /// The attention and its scores `[batch, tq, tv]` (Keras's `return_attention_scores=True`):
    /// the softmax weights, after dropout in training (as Keras), so `output = scores · value`
    /// on unmasked query rows.
    public func callAsFunction(_ inputs: [Tensor], returnAttentionScores: Bool, training: Bool = false,
                               useCausalMask: Bool = false) throws -> (Tensor, Tensor) {
        let (out, s) = try attend(inputs, training: training, scores: true, causal: useCausalMask)
        return (out, s!)
    }

    private func attend(_ inputs: [Tensor], training: Bool, scores wantScores: Bool, causal: Bool) throws -> (Tensor, Tensor?) {
        for x in inputs where x.rank != 3 { throw LaminaError.shape("\(name) (\(className)) expects [batch, steps, features] inputs, got \(x.shape)") }
        guard Set(inputs.map { $0.shape[0] }).count == 1 else { throw LaminaError.shape("\(name): inputs have different batch sizes") }
        if !isBuilt, let first = inputs.first, first.dtype.isFloatingPoint { dtype = first.dtype }
        _ = try build(inputs.map { Array($0.shape.dropFirst()) })
        let dtypes = inputs.map(\.dtype)
        guard let dt = dtypes.first, dt.isFloatingPoint, dtypes.allSatisfy({ $0 == dt }), weights.isEmpty || dt == dtype else {
            throw LaminaError.value("\(name) (\(className))\(weights.isEmpty ? "" : " holds \(dtype) weights;") inputs must share one float dtype, got \(dtypes)")
        }
        let (q, v) = (inputs[0], inputs[1]), k = inputs.count == 3 ? inputs[2] : v
        let (b, tq, tv) = (q.shape[0], q.shape[1], v.shape[1])
        var s = scores(q, k)
        // Keras: scores − 1e9 where the value is masked or the key is in the future.
        var keep: Tensor?
        if let m = v.kerasMask { keep = m.cast(to: s.dtype).reshaped(to: [b, 1, tv]) }
        if causal {
            let tri = MultiHeadAttention.lowerTriangle(tq, tv, dtype: s.dtype)
            keep = keep.map { $0 * tri } ?? tri
        }
        if let keep { s = s - (1 - keep) * 1e9 }
        let p = s.softmax(axis: -1)
        let weights = training && dropout > 0 ? try dropoutLayer(p, training: true) : p
        var out = weights.matmul(v)
        if let qm = q.kerasMask {
            out = out * qm.cast(to: out.dtype).reshaped(to: [b, tq, 1])
            out.kerasMask = qm
        }
        // Keras's _apply_scores returns the weights the values were multiplied by: in training
        // with dropout, the dropped-out ones (MultiHeadAttention returns them before dropout).
        return (out, wantScores ? weights : nil)
    }

    open override func callAll(_ inputs: [Tensor], training: Bool) throws -> [Tensor] {
        [try attend(inputs, training: training, scores: false, causal: false).0]
    }

    /// A graph call: `args` [[query, value(, key)]], kwargs `return_attention_scores`, `use_causal_mask`.
    open override func callAll(_ arguments: CallArguments<Tensor>, training: Bool) throws -> [Tensor] {
        let (inputs, scores, causal) = try parts(arguments)
        let (out, s) = try attend(inputs, training: training, scores: scores, causal: causal)
        return s.map { [out, $0] } ?? [out]
    }

    open override func buildCall(_ shapes: CallArguments<[Int]>, dtype: DType?) throws -> [[Int]] {
        let (inputs, scores, _) = try parts(shapes)
        if !isBuilt, let dtype { self.dtype = dtype }
        let out = try build(inputs)
        return scores ? [out, [inputs[0][0], inputs[1][0]]] : [out]
    }

    private func parts<T>(_ a: CallArguments<T>) throws -> ([T], scores: Bool, causal: Bool) {
        let known: Set = ["return_attention_scores", "use_causal_mask", "training"]
        if let unknown = a.kwargs.first(where: { !known.contains($0.name) }) {
            throw LaminaError.configuration("\(name) (\(className)): unknown argument '\(unknown.name)'")
        }
        return (a.args.flatMap(\.tensors), a["return_attention_scores"]?.bool ?? false, a["use_causal_mask"]?.bool ?? false)
    }

    private func symbolicCall(_ inputs: [any SymbolicTensorConvertible], scores: Bool, causal: Bool) -> [SymbolicTensor] {
        var kwargs: [(name: String, value: CallArgument<SymbolicTensor>)] = []
        if scores { kwargs.append(("return_attention_scores", .value(true))) }
        if causal { kwargs.append(("use_causal_mask", .value(true))) }
        return callSymbolic(arguments: CallArguments(args: [.list(inputs.map { .tensor($0.symbolic) })], kwargs: kwargs))
    }

    /// Attention in a functional model: `Attention()([query, value])`.
    public func callAsFunction(_ inputs: [any SymbolicTensorConvertible], useCausalMask: Bool = false) -> SymbolicTensor {
        symbolicCall(inputs, scores: false, causal: useCausalMask)[0]
    }

    /// Attention and its scores in a functional model.
    public func callAsFunction(_ inputs: [any SymbolicTensorConvertible], returnAttentionScores: Bool,
                               useCausalMask: Bool = false) -> (SymbolicTensor, SymbolicTensor) {
        let out = symbolicCall(inputs, scores: returnAttentionScores, causal: useCausalMask)
        return (out[0], out.count > 1 ? out[1] : out[0])
    }
}
