import Foundation
import ExampleSupport
import Lamina

// The `transformer` workload: the Keras example "Text classification with Transformer" (token +
// position embeddings, one post-norm encoder block, mean over time, Dense(20, relu), Dense(2,
// softmax)), sized and fed exactly as Benchmarks/peers/common.py's TF_* constants and
// synthetic_imdb(): embed 64, 4 heads of 16, ff 128, maxlen 200, vocab 20,000, batch 32, Adam 1e-3,
// 2,048 training and 1,000 test reviews from the same deterministic stream in all three frameworks.

enum TransformerConfig {
    static let vocab = 20_000, maxlen = 200, embed = 64, heads = 4, keyDim = 16, ff = 128
    static let batch = 32, train = 2048, test = 1000, inferBatch = 250, minLength = 20

    /// The closed-form parameter count (common.transformer_param_count()).
    static var parameterCount: Int {
        let (e, h, k, f) = (embed, heads, keyDim, ff)
        let embeddings = vocab * e + maxlen * e
        let attention = 3 * (e * h * k + h * k) + (h * k * e + e)
        return embeddings + attention + (e * f + f + f * e + e) + 2 * 2 * e + (e * 20 + 20 + 20 * 2 + 2)
    }
}

/// splitmix64's finaliser over (key + 1) * golden (common._mix64).
@inline(__always) func mix64(_ key: UInt64) -> UInt64 {
    var z = (key &+ 1) &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Reviews first..<first+count of common.synthetic_imdb(): int32 ids [count, maxlen] zero padded
/// at the end, and int32 labels [count].
func syntheticIMDB(first: Int, count: Int, maxlen: Int = TransformerConfig.maxlen,
                   vocab: Int = TransformerConfig.vocab) -> (x: Tensor, y: Tensor) {
    let minLength = TransformerConfig.minLength
    var ids = [Int32](repeating: 0, count: count * maxlen), labels = [Int32](repeating: 0, count: count)
    for i in 0..<count {
        let s = UInt64(first + i)
        let length = minLength + Int(mix64((1 << 40) + s) % UInt64(maxlen - minLength + 1))
        let label = Int(mix64((2 << 40) + s) % 2)
        labels[i] = Int32(label)
        for t in 0..<length {
            let u = mix64((3 << 40) + s * UInt64(maxlen) + UInt64(t))
            let signal = (u >> 32) % 100 < 8
            ids[i * maxlen + t] = Int32(signal ? 1 + label * 50 + Int((u >> 40) % 50) : 1 + Int(u % UInt64(vocab - 1)))
        }
    }
    return (Tensor(shape: [count, maxlen], scalars: ids), Tensor(shape: [count], scalars: labels))
}

// The model's layers are the Keras example's (Examples/Support/TransformerLayers.swift).

func transformerModel() throws -> Model {
    let c = TransformerConfig.self
    let inputs = Input(shape: [c.maxlen], dtype: .int32)
    var x = TokenAndPositionEmbedding(maxlen: c.maxlen, vocabSize: c.vocab, embedDim: c.embed)(inputs)
    x = TransformerBlock(embedDim: c.embed, numHeads: c.heads, ffDim: c.ff, keyDim: c.embed / c.heads)(x)
    x = GlobalAveragePooling1D()(x)
    x = Dropout(0.1)(x)
    x = Dense(20, activation: .relu)(x)
    x = Dropout(0.1)(x)
    return Model(inputs: inputs, outputs: Dense(2, activation: .softmax)(x))
}

/// One epoch of fit (after a 20-batch warm-up from the same initial state), test accuracy and
/// predict samples/s (batch 250, best of 3 after a warm-up), as the peers' wl_transformer.
func benchTransformer() throws {
    let wall = now(), c = TransformerConfig.self
    let (x, y) = syntheticIMDB(first: 0, count: c.train)
    let (xTest, yTest) = syntheticIMDB(first: c.train, count: c.test)
    let checksum = x.asArray(Int32.self).reduce(0) { $0 + Int($1) }
    Lamina.setRandomSeed(seed)
    let model = try transformerModel()
    let parameters = model.weights.reduce(0) { $0 + $1.value.shape.reduce(1, *) }
    guard parameters == c.parameterCount else {
        throw LaminaError.value("transformer: \(parameters) parameters, the peers have \(c.parameterCount)")
    }
    let compile = { model.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy) }
    compile()
    let initial = model.getWeights()
    let warm = 20 * c.batch
    try model.fit(x.sliced(axis: 0, 0..<warm), y.sliced(axis: 0, 0..<warm), epochs: 1, batchSize: c.batch, verbose: 0)
    try model.setWeights(initial)
    compile()
    Lamina.setRandomSeed(seed + 1)
    var t = now()
    let history = try model.fit(x, y, epochs: 1, batchSize: c.batch, verbose: 0)
    let epoch = now() - t
    var probs = try model.predict(xTest, batchSize: c.inferBatch)
    var runs = [Double]()
    for _ in 0..<3 {
        t = now()
        probs = try model.predict(xTest, batchSize: c.inferBatch)
        runs.append(now() - t)
    }
    let predicted = probs.argmax(axis: -1).asArray(Int32.self), truth = yTest.asArray(Int32.self)
    let accuracy = Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
    emit([
        "workload": "transformer", "epoch_s": rounded(epoch), "samples_per_s": rounded(Double(c.train) / epoch, 1),
        "predict_samples_per_s": rounded(Double(c.test) / runs.min()!, 1), "test_accuracy": rounded(accuracy, 4),
        "epoch_mean_loss": rounded(Double(history.history["loss"]!.last!), 4),
        "data": "synthetic IMDB-like (common.synthetic_imdb)", "data_checksum": checksum,
        "batch": c.batch, "samples": c.train, "test_samples": c.test,
        "config": ["vocab": c.vocab, "maxlen": c.maxlen, "embed_dim": c.embed, "num_heads": c.heads,
                   "key_dim": c.keyDim, "ff_dim": c.ff],
        "n_params": parameters, "wall_s": rounded(now() - wall),
    ])
}
