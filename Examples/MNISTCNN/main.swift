import ExampleSupport
import Foundation
import Lamina
import LaminaDistributed

// The Keras "simple MNIST convnet" tutorial:
// Conv2D 32 → MaxPooling → Conv2D 64 → MaxPooling → Flatten → Dense 128 → Dense 10 softmax.
//   swift run -c release mnist-cnn [--epochs 3] [--data ~/mnist] [--out out/mnist-cnn] [--from-disk]
// --from-disk writes the training images to .npy files and trains from them through a
// memory-mapped, shuffled, prefetching Dataset, with RandomRotation and RandomZoom augmentation
// (the way to train on data larger than memory).
// --distributed trains data-parallel on every process mpirun started (the script is otherwise
// unchanged; rank 0 prints and writes the files):
//   mpirun -np 2 --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1 .build/release/mnist-cnn --distributed

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mnist-cnn",
                                                    abstract: "Trains the Keras tutorial convnet on MNIST and draws its curves and mistakes.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customLong("batch-size"), help: "Mini-batch size.") var batchSize = 128
    @Flag(name: .customLong("from-disk"), help: "Train from memory-mapped .npy files through a Dataset, with augmentation.")
    var fromDisk = false
    @Flag(help: "Train data-parallel across the processes mpirun started (LaminaDistributed over MPI).")
    var distributed = false
}
let options = Options.parseOrExit()
if options.distributed {
    let parallel = try DataParallel()
    Distribution.set(parallel)
    if parallel.rank != 0 { dup2(open("/dev/null", O_WRONLY), STDOUT_FILENO) }   // rank 0 prints
}
var example = Example("mnist-cnn", epochs: 3, common: options.common)
let (train, test) = example.mnist(trainShape: [28, 28, 1])

let model = Sequential()
model.add(Input(shape: [28, 28, 1]))
if options.fromDisk {   // active only while training
    model.add(RandomRotation(0.05))
    model.add(RandomZoom(0.1))
}
model.add(Conv2D(32, kernelSize: (3, 3), activation: .relu))
model.add(MaxPooling2D(poolSize: (2, 2)))
model.add(Conv2D(64, kernelSize: (3, 3), activation: .relu))
model.add(MaxPooling2D(poolSize: (2, 2)))
model.add(Flatten())
model.add(Dense(128, activation: .relu))
model.add(Dense(10, activation: .softmax))
model.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
model.summary()

let firstBatch = FirstBatchLoss()
let history: History
if options.fromDisk {
    let (xPath, yPath) = (example.output("train_x.npy"), example.output("train_y.npy"))
    try NumPy.save(train.x, to: xPath)
    try NumPy.save(train.y, to: yPath)
    let split = train.x.shape[0] * 9 / 10
    let all = try Dataset.fromNumPy(x: xPath.path, y: yPath.path)
    let validation = try Dataset.fromTensors(train.x.sliced(axis: 0, split..<train.x.shape[0]),
                                             train.y.sliced(axis: 0, split..<train.x.shape[0])).batch(500)
    print("Training from \(xPath.path) (memory-mapped, shuffled, prefetched)")
    history = try model.fit(all.take(split).shuffle(bufferSize: 4096).batch(options.batchSize).prefetch(2),
                            epochs: example.epochs, validationData: validation, callbacks: [firstBatch])
} else {
    history = try model.fit(train.x, train.y, epochs: example.epochs, batchSize: options.batchSize,
                            validationSplit: 0.1, callbacks: [firstBatch])
}
let (testLoss, testMetrics) = try model.evaluate(test.x, test.y, batchSize: 500)
print(String(format: "Test loss %.4f, test accuracy %.2f%%", testLoss, 100 * testMetrics["accuracy"]!))

// The trained model, for `gan --judge` and anyone else: Sequential.load(path) gives it back.
try model.save(to: example.output("model.lamina"))
print("Saved the model to \(example.output("model.lamina").path)")
if let parallel = Distribution.current {
    let stats = parallel.statistics
    print(String(format: "Data-parallel on %d ranks: %d allreduce calls, %.2f s in them", parallel.size, stats.calls, stats.seconds))
    guard parallel.rank == 0 else { exit(0) }   // rank 0 draws the pictures and writes the record
}

// Pictures: the curves, the confusion matrix, and the digits it got wrong.
try history.plot(to: example.output("curves.svg"))
let probabilities = try model.predict(test.x, batchSize: 500)
let predicted = probabilities.argmax(axis: -1).asArray(Int32.self), truth = test.y.asArray(Int32.self)
let matrix = confusionMatrix(predicted: predicted, truth: truth, classes: 10)
try HeatMap(matrix, title: "Confusion matrix (test set)", xLabel: "predicted", yLabel: "true")
    .save(to: example.output("confusion.svg"))
let wrong = truth.indices.filter { predicted[$0] != truth[$0] }
if !wrong.isEmpty {
    let shown = Array(wrong.prefix(64))
    try ImageGrid.save(test.x.gather(rows: shown).reshaped(to: [shown.count, 28, 28]), to: example.output("misclassified.png"),
                       columns: 16, range: 0...1)
    print("Misclassified (first \(shown.count), predicted/true): "
          + shown.prefix(16).map { "\(predicted[$0])/\(truth[$0])" }.joined(separator: " "))
}

let losses = history.history["loss"]!
example.record("first_loss", firstBatch.value!)
example.record("final_loss", Double(losses.last!))
example.record("test_loss", Double(testLoss))
example.record("test_accuracy", Double(testMetrics["accuracy"]!))
example.record("misclassified", wrong.count)
example.finish(files: ["curves.svg", "confusion.svg", "model.lamina"] + (wrong.isEmpty ? [] : ["misclassified.png"]))
