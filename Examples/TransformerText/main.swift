import ExampleSupport
import Foundation
import Lamina

// The Keras example "Text classification with Transformer" (keras.io/examples/nlp/
// text_classification_with_transformer, Apoorv Nandan), ported line by line: token + position
// embeddings, one Transformer encoder block, mean over time, a small classifier head, trained on
// IMDB's movie reviews (positive / negative) with the 20,000 most frequent words, 200 per review.
//   swift run -c release transformer-text [--epochs 2] [--samples 2000] [--data DIR] [--synthetic]
// IMDB is Keras's imdb.npz, looked for in --data, $LAMINA_DATA(/imdb), ~/.keras/datasets and
// ~/.cache/lamina/imdb, and downloaded from Keras's mirror when none has it. --synthetic trains on
// made-up reviews instead (words 1-50 mean negative, 51-100 positive), for a run without IMDB.

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transformer-text",
                                                    abstract: "A Transformer classifies IMDB movie reviews (the Keras example).")
    @OptionGroup var common: CommonOptions
    @Option(help: "Use only the first N training and N test reviews (0 = all 25,000 of each).") var samples = 0
    @Flag(help: "Train on synthetic reviews instead of IMDB (no download needed).") var synthetic = false
    @Flag(name: .customLong("no-download"), help: "Never download IMDB; fail with where to put imdb.npz.") var noDownload = false
    @Option(name: .customLong("embed-dim"), help: "Embedding size for each token.") var embedDim = 32
    @Option(name: .customLong("num-heads"), help: "Number of attention heads.") var numHeads = 2
    @Option(name: .customLong("ff-dim"), help: "Hidden layer size in the feed-forward network inside the Transformer.") var ffDim = 32

    func validate() throws {
        if samples < 0 { throw ValidationError("--samples must be ≥ 0, got \(samples)") }
        for (flag, value) in [("--embed-dim", embedDim), ("--num-heads", numHeads), ("--ff-dim", ffDim)] where value <= 0 {
            throw ValidationError("\(flag) must be positive, got \(value)")
        }
    }
}
let options = Options.parseOrExit()
var example = Example("transformer-text", epochs: 2, common: options.common)

// ## Implement a Transformer block as a layer, and the embedding layer
// `TransformerBlock` and `TokenAndPositionEmbedding`, the example's two layers, are in
// Examples/Support/TransformerLayers.swift (shared with lamina-bench's transformer workload).

// ## Download and prepare dataset

let vocabSize = 20000  // Only consider the top 20k words
let maxlen = 200  // Only consider the first 200 words of each movie review

/// Made-up reviews for --synthetic: 20-200 random words, about 8% of them sentiment words
/// (1-50 negative, 51-100 positive).
func syntheticReviews(_ count: Int, seed: UInt64) -> ([[Int]], Tensor) {
    var rng = RandomGenerator(seed: seed)
    var reviews = [[Int]](), labels = [Int32]()
    for _ in 0..<count {
        let label = Int(rng.next() % 2)
        let length = 20 + Int(rng.next() % 181)
        reviews.append((0..<length).map { _ in
            rng.next() % 100 < 8 ? 1 + label * 50 + Int(rng.next() % 50) : 1 + Int(rng.next() % UInt64(vocabSize - 1))
        })
        labels.append(Int32(label))
    }
    return (reviews, Tensor(shape: [count], scalars: labels))
}

let (xTrainSeqs, yTrainAll, xValSeqs, yValAll): ([[Int]], Tensor, [[Int]], Tensor)
if options.synthetic {
    let n = options.samples > 0 ? options.samples : 2000
    let train = syntheticReviews(n, seed: example.seed), test = syntheticReviews(n, seed: example.seed &+ 1_000_003)
    (xTrainSeqs, yTrainAll, xValSeqs, yValAll) = (train.0, train.1, test.0, test.1)
    print("Synthetic reviews (--synthetic): \(n) for training, \(n) for testing")
} else {
    do {
        let (train, test) = try IMDB.load(numWords: vocabSize, directory: example.dataPath, download: !options.noDownload)
        (xTrainSeqs, yTrainAll, xValSeqs, yValAll) = (train.x, train.y, test.x, test.y)
    } catch {
        Example.fail("""
            \(error)
            IMDB is Keras's imdb.npz (https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz, \
            17 MB; Python Keras saves it in ~/.keras/datasets with keras.datasets.imdb.load_data()). \
            Put it in a folder and pass --data FOLDER (or set LAMINA_DATA), or run with --synthetic.
            """)
    }
}
let n = options.samples > 0 ? min(options.samples, xTrainSeqs.count) : xTrainSeqs.count
let m = options.samples > 0 ? min(options.samples, xValSeqs.count) : xValSeqs.count
print("\(n) Training sequences")
print("\(m) Validation sequences")
let xTrain = try padSequences(Array(xTrainSeqs.prefix(n)), maxlen: maxlen)
let xVal = try padSequences(Array(xValSeqs.prefix(m)), maxlen: maxlen)
let yTrain = yTrainAll.sliced(axis: 0, 0..<n), yVal = yValAll.sliced(axis: 0, 0..<m)

// ## Create classifier model using transformer layer
// Transformer layer outputs one vector for each time step of our input sequence. Here, we take
// the mean across all time steps and use a feed forward network on top of it to classify text.

let embedDim = options.embedDim  // Embedding size for each token
let numHeads = options.numHeads  // Number of attention heads
let ffDim = options.ffDim  // Hidden layer size in feed forward network inside transformer

let inputs = Input(shape: [maxlen], dtype: .int32)
let embeddingLayer = TokenAndPositionEmbedding(maxlen: maxlen, vocabSize: vocabSize, embedDim: embedDim)
var x = embeddingLayer(inputs)
let transformerBlock = TransformerBlock(embedDim: embedDim, numHeads: numHeads, ffDim: ffDim)
x = transformerBlock(x)
x = GlobalAveragePooling1D()(x)
x = Dropout(0.1)(x)
x = Dense(20, activation: .relu)(x)
x = Dropout(0.1)(x)
let outputs = Dense(2, activation: .softmax)(x)

let model = Model(inputs: inputs, outputs: outputs)

// ## Train and Evaluate

model.compile(optimizer: Adam(), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
model.summary()
let firstBatch = FirstBatchLoss()
let history = try model.fit(xTrain, yTrain, epochs: example.epochs, batchSize: 32, validationData: (xVal, yVal),
                            callbacks: [firstBatch])
let (testLoss, testMetrics) = try model.evaluate(xVal, yVal, batchSize: 250)
print(String(format: "Test loss %.4f, test accuracy %.2f%%", testLoss, 100 * testMetrics["accuracy"]!))
try history.plot(to: example.output("curves.svg"))

example.record("first_loss", firstBatch.value ?? .nan)
example.record("final_loss", Double(history.history["loss"]!.last!))
example.record("test_accuracy", Double(testMetrics["accuracy"]!))
example.record("parameters", model.countParams())
example.record("data", options.synthetic ? "synthetic" : "imdb")
example.finish(files: ["curves.svg"])
