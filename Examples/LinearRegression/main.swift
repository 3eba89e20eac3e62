import ExampleSupport
import Foundation
import Lamina

// The Keras linear-regression tutorial: y = 2x + noise, one Dense unit, SGD and MSE.
//   swift run -c release linear-regression [--epochs 100] [--data points.csv] [--out out/linear-regression]
// With --data, the CSV's first two columns are x and y (a header line is optional).

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "linear-regression",
                                                    abstract: "Fits y = 2x + noise with Dense(1, inputDim: 1), SGD and mean squared error.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Number of generated points.") var samples = 200
}
let options = Options.parseOrExit()
var example = Example("linear-regression", epochs: 100, common: options.common)

let x: Tensor, y: Tensor
if let path = example.dataPath {
    let table: CSVTable
    do { table = try CSV.read(URL(fileURLWithPath: path)) } catch { Example.fail("\(error)") }
    guard table.columns.count >= 2 else { Example.fail("\(path): needs two columns, x and y") }
    let n = table.values.shape[0]
    x = table.values.sliced(axis: 1, 0..<1)
    y = table.values.sliced(axis: 1, 1..<2)
    print("Read \(n) points from \(path)")
} else {
    let n = options.samples
    x = Tensor.linspace(-1, 1, count: n).reshaped(to: [n, 1])
    y = x * 2 + Tensor.randomNormal([n, 1], stddev: 0.3)
}

let model = Sequential()
model.add(Dense(1, inputDim: 1))
model.compile(optimizer: SGD(learningRate: 0.01), loss: .meanSquaredError)
model.summary()
let history = try model.fit(x, y, epochs: example.epochs, batchSize: 32, verbose: 2)

let weights = model.getWeights()
let slope = weights[0].item(Float.self), intercept = weights[1].item(Float.self)
let losses = history.history["loss"]!
print(String(format: "learned slope %.3f (true 2), intercept %.3f (true 0); loss %.4f -> %.4f",
             slope, intercept, losses.first!, losses.last!))

var plot = Plot(title: "y = 2x + noise", xLabel: "x", yLabel: "y")
let xs = x.asArray(Float.self)
plot.scatter(xs, y.asArray(Float.self), label: "data")
let ends = [xs.min()!, xs.max()!]
plot.line(ends, ends.map { slope * $0 + intercept }, label: String(format: "fit: %.2fx + %.2f", slope, intercept))
try plot.save(to: example.output("fit.svg"))
try history.plot(to: example.output("loss.svg"))

example.record("slope", Double(slope))
example.record("intercept", Double(intercept))
example.record("first_loss", Double(losses.first!))
example.record("final_loss", Double(losses.last!))
example.finish(files: ["fit.svg", "loss.svg"])
