import Lamina

// The two layers of the keras.io example "Text classification with Transformer" (Apoorv
// Nandan), ported as Keras writes them, shared by the Transformer examples and lamina-bench's
// transformer workload.

/// Token embedding plus an embedding of the position (`TokenAndPositionEmbedding`).
public final class TokenAndPositionEmbedding: Layer {
    public let tokenEmb: Embedding, posEmb: Embedding

    public init(maxlen: Int, vocabSize: Int, embedDim: Int) {
        tokenEmb = Embedding(inputDim: vocabSize, outputDim: embedDim)
        posEmb = Embedding(inputDim: maxlen, outputDim: embedDim)
        super.init()
    }

    public override var sublayers: [Layer] { [tokenEmb, posEmb] }

    /// Builds the nested layers when the model is built (the graph knows the input shape).
    public override func build(inputShape: [Int]) throws {
        try tokenEmb.buildIfNeeded(inputShape)
        try posEmb.buildIfNeeded([])
    }

    public override func computeOutputShape(_ inputShape: [Int]) throws -> [Int] { inputShape + [tokenEmb.outputDim] }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let positions = try posEmb(Tensor.arange(0, Double(x.shape[x.rank - 1]), dtype: .int32))
        return try tokenEmb(x) + positions
    }
}

/// The post-norm encoder block (`TransformerBlock`): self-attention and a feed-forward network,
/// each with dropout, a residual and layer normalization. `keyDim` is the example's `embedDim`
/// unless given (the benchmark splits `embedDim` across heads, as PyTorch's MultiheadAttention).
public final class TransformerBlock: Layer {
    public let att: MultiHeadAttention, ffn: Sequential
    public let layernorm1 = LayerNormalization(epsilon: 1e-6), layernorm2 = LayerNormalization(epsilon: 1e-6)
    public let dropout1: Dropout, dropout2: Dropout

    public init(embedDim: Int, numHeads: Int, ffDim: Int, keyDim: Int? = nil, rate: Double = 0.1) {
        att = MultiHeadAttention(numHeads: numHeads, keyDim: keyDim ?? embedDim)
        ffn = Sequential([Dense(ffDim, activation: .relu), Dense(embedDim)])
        (dropout1, dropout2) = (Dropout(rate), Dropout(rate))
        super.init()
    }

    /// The nested layers, so that the model finds their weights.
    public override var sublayers: [Layer] { [att, ffn, layernorm1, layernorm2, dropout1, dropout2] }

    /// Builds the nested layers (their weights exist before `compile`) with one forward pass of zeros.
    public override func build(inputShape: [Int]) throws {
        _ = try call(Tensor.zeros([1] + inputShape, dtype: dtype), training: false)
    }

    public override func call(_ inputs: Tensor, training: Bool) throws -> Tensor {
        var attnOutput = try att(inputs, inputs, training: training)
        attnOutput = try dropout1(attnOutput, training: training)
        let out1 = try layernorm1(inputs + attnOutput, training: training)
        var ffnOutput = try ffn(out1, training: training)
        ffnOutput = try dropout2(ffnOutput, training: training)
        return try layernorm2(out1 + ffnOutput, training: training)
    }
}
