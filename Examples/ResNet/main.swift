import ExampleSupport
import Foundation
import Lamina

// A small residual network on MNIST, written with the functional API as Keras users write
// ResNets: symbolic inputs, layers called on tensors, `Add()([y, shortcut])` joining the two
// paths of each block, and `Model(inputs:outputs:)` around the graph. Three blocks (16, 32 and 64
// filters; the last two halve the resolution with a 1x1 projection on the shortcut), global
// average pooling, softmax.
//   swift run -c release resnet [--epochs 2] [--data ~/mnist] [--out out/resnet] [--limit n]

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resnet",
                                                    abstract: "Trains a small functional-API ResNet on MNIST, saves it and loads it back.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customLong("batch-size"), help: "Mini-batch size.") var batchSize = 128
}
let options = Options.parseOrExit()
var example = Example("resnet", epochs: 2, common: options.common)
let (train, test) = example.mnist(trainShape: [28, 28, 1])

/// conv-BN-ReLU-conv-BN on one path, the input (or its 1x1 projection) on the other, added.
func residualBlock(_ x: SymbolicTensor, filters: Int, strides: Int = 1) -> SymbolicTensor {
    var y = Conv2D(filters, kernelSize: 3, strides: strides, padding: .same, useBias: false)(x)
    y = BatchNormalization()(y)
    y = Activation(.relu)(y)
    y = Conv2D(filters, kernelSize: 3, padding: .same, useBias: false)(y)
    y = BatchNormalization()(y)
    var shortcut = x
    if strides != 1 || x.shape.last != filters {
        shortcut = Conv2D(filters, kernelSize: 1, strides: strides, useBias: false)(x)
        shortcut = BatchNormalization()(shortcut)
    }
    return Activation(.relu)(Add()([y, shortcut]))
}

let inputs = Input(shape: [28, 28, 1], name: "image")
var x = Conv2D(16, kernelSize: 3, padding: .same, useBias: false)(inputs)
x = Activation(.relu)(BatchNormalization()(x))
x = residualBlock(x, filters: 16)
x = residualBlock(x, filters: 32, strides: 2)
x = residualBlock(x, filters: 64, strides: 2)
let outputs = Dense(10, activation: .softmax, name: "digit")(GlobalAveragePooling2D()(x))
let model = Model(inputs: inputs, outputs: outputs, name: "mnist_resnet")
model.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
model.summary()

let firstBatch = FirstBatchLoss()
let history = try model.fit(train.x, train.y, epochs: example.epochs, batchSize: options.batchSize,
                            validationSplit: 0.1, callbacks: [firstBatch])
let (testLoss, testMetrics) = try model.evaluate(test.x, test.y, batchSize: 500)
print(String(format: "Test loss %.4f, test accuracy %.2f%%", testLoss, 100 * testMetrics["accuracy"]!))

// The graph, weights and optimizer state go to one file; Model.load gives the same model back.
let path = example.output("model.lamina")
try model.save(to: path)
let loaded = try Model.load(path.path, restoreRandomState: false)
let sample = test.x.sliced(axis: 0, 0..<min(256, test.x.shape[0]))
let drift = zip(try model.predict(sample).scalarsAsDouble(), try loaded.predict(sample).scalarsAsDouble()).map { abs($0 - $1) }.max() ?? 0
print("Saved to \(path.path) and loaded back: \(loaded.layers.count) layers, largest prediction difference \(drift)")
try history.plot(to: example.output("curves.svg"))

example.record("first_loss", firstBatch.value!)
example.record("final_loss", Double(history.history["loss"]!.last!))
example.record("test_loss", testLoss)
example.record("test_accuracy", testMetrics["accuracy"]!)
example.record("parameters", model.countParams())
example.record("reload_difference", drift)
example.finish(files: ["model.lamina", "curves.svg"])
