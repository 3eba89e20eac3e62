import ExampleSupport
import Foundation
import Lamina

// Logistic regression as in the Keras tutorials: Dense(1, activation: .sigmoid) with binary
// cross-entropy, on (1) the one-feature task "is x > 0?" and (2) two Gaussian blobs in the plane.
//   swift run -c release logistic-regression [--epochs 50] [--data blobs.csv] [--out out/logistic-regression]
// With --data, the CSV's columns are x1, x2, label (0 or 1) and replace the generated blobs.

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logistic-regression",
                                                    abstract: "Dense(1, activation: .sigmoid) + binary cross-entropy on x > 0 and on two blobs.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Generated points per task.") var samples = 400
}
let options = Options.parseOrExit()
var example = Example("logistic-regression", epochs: 50, common: options.common)
let n = options.samples

/// Fits one sigmoid unit and returns the model, its accuracy and the loss curve.
func fitLogistic(_ x: Tensor, _ y: Tensor, title: String, epochs: Int) throws -> (Sequential, Double, [Double]) {
    print("\n== \(title): \(x.shape[0]) samples, \(x.shape[1]) feature(s)")
    let model = Sequential()
    model.add(Dense(1, activation: .sigmoid, inputShape: [x.shape[1]]))
    model.compile(optimizer: SGD(learningRate: 0.5), loss: .binaryCrossentropy, metrics: [.accuracy])
    let history = try model.fit(x, y, epochs: epochs, batchSize: 32, verbose: 2)
    let (loss, metrics) = try model.evaluate(x, y)
    print(String(format: "%@: loss %.4f, accuracy %.1f%%", title, loss, 100 * metrics["accuracy"]!))
    return (model, metrics["accuracy"]!, history.history["loss"]!)
}

// Task 1: x > 0.
let x1 = Tensor.randomUniform([n, 1], lower: -1, upper: 1)
let y1 = (x1 .> 0).cast(to: .float32)
let (model1, accuracy1, losses1) = try fitLogistic(x1, y1, title: "x > 0", epochs: example.epochs)
var curve = Plot(title: "x > 0: data and the fitted sigmoid", xLabel: "x", yLabel: "P(y = 1)")
curve.scatter(x1.asArray(Float.self), y1.asArray(Float.self), label: "data")
let grid = Tensor.linspace(-1, 1, count: 101).reshaped(to: [101, 1])
curve.line(grid.asArray(Float.self), try model1.predict(grid).asArray(Float.self), label: "sigmoid(wx + b)")
try curve.save(to: example.output("x_positive.svg"))

// Task 2: two blobs, or the user's CSV.
var x2: Tensor, y2: Tensor
if let path = example.dataPath {
    let table: CSVTable
    do { table = try CSV.read(URL(fileURLWithPath: path)) } catch { Example.fail("\(error)") }
    guard table.columns.count == 3 else { Example.fail("\(path): expected columns x1, x2, label") }
    x2 = table.values.sliced(axis: 1, 0..<2)
    y2 = table.values.sliced(axis: 1, 2..<3)
} else {
    let half = n / 2
    let a = Tensor.randomNormal([half, 2], stddev: 0.8) + Tensor([-1.5, -1] as [Float])
    let b = Tensor.randomNormal([n - half, 2], stddev: 0.8) + Tensor([1.5, 1] as [Float])
    x2 = Tensor.concatenated([a, b], axis: 0)
    y2 = Tensor.concatenated([Tensor.zeros([half, 1]), Tensor.ones([n - half, 1])], axis: 0)
}
let (model2, accuracy2, losses2) = try fitLogistic(x2, y2, title: "two blobs", epochs: example.epochs)
let w = model2.getWeights()[0].asArray(Float.self), bias = model2.getWeights()[1].item(Float.self)
var boundary = Plot(title: "Two blobs and the decision boundary", xLabel: "x1", yLabel: "x2")
let points = x2.asArray(Float.self), labels = y2.asArray(Float.self)
for cls in [0, 1] {
    let idx = labels.indices.filter { Int(labels[$0]) == cls }
    boundary.scatter(idx.map { points[2 * $0] }, idx.map { points[2 * $0 + 1] }, label: "class \(cls)")
}
let xsAll = stride(from: 0, to: points.count, by: 2).map { points[$0] }
let ysAll = stride(from: 1, to: points.count, by: 2).map { points[$0] }
boundary.xRange = Double(xsAll.min()! - 0.5)...Double(xsAll.max()! + 0.5)
boundary.yRange = Double(ysAll.min()! - 0.5)...Double(ysAll.max()! + 0.5)
let ends: [Float] = [Float(boundary.xRange!.lowerBound), Float(boundary.xRange!.upperBound)]
boundary.line(ends, ends.map { -(w[0] * $0 + bias) / w[1] }, label: "w·x + b = 0", color: "#000000")
try boundary.save(to: example.output("blobs_boundary.svg"))

example.record("x_positive_accuracy", accuracy1)
example.record("blobs_accuracy", accuracy2)
example.record("first_loss", Double(losses2.first!))
example.record("final_loss", Double(losses2.last!))
example.record("x_positive_first_loss", Double(losses1.first!))
example.record("x_positive_final_loss", Double(losses1.last!))
example.finish(files: ["x_positive.svg", "blobs_boundary.svg"])
