import Foundation
import Lamina

// The Keras linear-regression tutorial: y = 2x + noise, one Dense unit, SGD and MSE.
// Usage: swift run -c release linear-regression [--epochs N] [--samples N] [--seed N]

let usage = """
linear-regression: fits y = 2x + noise with Dense(1, inputDim: 1), SGD and mean squared error.

Options:
  --epochs N    training epochs (default 100)
  --samples N   number of generated points (default 200)
  --seed N      random seed (default 1)
  --help        show this text
"""
var options = ["--epochs": 100, "--samples": 200, "--seed": 1]
var args = Array(CommandLine.arguments.dropFirst())
while let flag = args.first {
    args.removeFirst()
    if flag == "--help" || flag == "-h" { print(usage); exit(0) }
    guard options[flag] != nil, let value = args.first.flatMap(Int.init), value > 0 else {
        FileHandle.standardError.write(Data("error: bad option \(flag)\n\n\(usage)\n".utf8))
        exit(2)
    }
    options[flag] = value
    args.removeFirst()
}

let start = Date()
Lamina.setRandomSeed(UInt64(options["--seed"]!))
let n = options["--samples"]!
let x = Tensor.linspace(-1, 1, count: n).reshaped(to: [n, 1])
let y = x * 2 + Tensor.randomNormal([n, 1], stddev: 0.3)

let model = Sequential()
model.add(Dense(1, inputDim: 1))
model.compile(optimizer: SGD(learningRate: 0.01), loss: .meanSquaredError)
model.summary()
let history = try model.fit(x, y, epochs: options["--epochs"]!, batchSize: 32, verbose: 2)

let weights = model.getWeights()
let slope = weights[0].item(Float.self), intercept = weights[1].item(Float.self)
print(String(format: "learned slope %.3f (true 2), intercept %.3f (true 0)", slope, intercept))
print(String(format: "final loss %.4f; wall time %.1f s", history.history["loss"]!.last!, Date().timeIntervalSince(start)))
