import Foundation

/// Integer indices to learned vectors: [batch, ...] → [batch, ..., outputDim]. Keras:
/// `Embedding(input_dim, output_dim, mask_zero=False)` (embeddings initialized uniformly in
/// ±0.05). Indices outside 0..<inputDim are an error that names them.
///
/// With `maskZero: true`, index 0 is padding: the output carries a mask (`kerasMask`, 1 where
/// the index is not 0) that recurrent, pooling and attention layers, losses and metrics honour
/// — Keras's `mask_zero=True` for zero-padded sequences (`padSequences`). Index 0 still has an
/// embedding row, so `inputDim` counts it (vocabulary size + 1), as in Keras.
public final class Embedding: Layer {
    /// The vocabulary size (indices 0..<inputDim) and the length of each vector.
    public let inputDim: Int, outputDim: Int
    /// How the vectors start (default uniform in ±0.05, as Keras).
    public let embeddingsInitializer: Initializer
    /// The table `[inputDim, outputDim]`, nil until the layer is built.
    public private(set) var embeddings: Variable?
    /// A penalty on the table added to the loss (nil: none). Keras: `embeddings_regularizer`.
    public let embeddingsRegularizer: Regularizer?
    /// Whether index 0 is padding that the output's mask leaves out (Keras's `mask_zero`).
    public let maskZero: Bool

    /// Keras: `keras.layers.Embedding(input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False)`; PyTorch: `nn.Embedding`.
    /// `inputLength` is the older Keras `input_length` (an `inputShape` of `[inputLength]`); non-positive sizes are reported through `argumentError`.
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
