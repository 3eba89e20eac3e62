import ExampleSupport
import Foundation
import Lamina

// Two recurrent networks from the Keras examples:
//  1. LSTM(128) reads each MNIST image as a sequence of 28 rows of 28 pixels → Dense(10, softmax).
//  2. SimpleRNN(32) forecasts the next value of a noisy sine wave from the previous 20.
//   swift run -c release rnn [--task both|lstm|sine] [--epochs 4] [--sine-epochs 20] [--data ~/mnist]

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rnn",
                                                    abstract: "An LSTM classifier of MNIST rows and a SimpleRNN sine-wave forecaster.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Which network to train: lstm, sine or both.") var task = "both"
    @Option(name: .customLong("sine-epochs"), help: "Epochs for the sine forecaster.") var sineEpochs = 20
    @Option(help: "Time steps the forecaster sees.") var window = 20
}
let options = Options.parseOrExit()
var example = Example("rnn", epochs: 4, common: options.common)
let task = options.task
guard ["both", "lstm", "sine"].contains(task) else { Example.fail("--task must be lstm, sine or both, got \(task)") }
var files = [String]()

if task != "sine" {
    print("== LSTM on MNIST rows")
    let (train, test) = example.mnist(trainShape: [28, 28])
    let model = Sequential()
    model.add(LSTM(128, inputShape: [28, 28]))
    model.add(Dense(10, activation: .softmax))
    model.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
    model.summary()
    let firstBatch = FirstBatchLoss()
    let history = try model.fit(train.x, train.y, epochs: example.epochs, batchSize: 128, validationSplit: 0.1,
                                callbacks: [firstBatch])
    let (loss, metrics) = try model.evaluate(test.x, test.y, batchSize: 500)
    print(String(format: "LSTM test loss %.4f, test accuracy %.2f%%", loss, 100 * metrics["accuracy"]!))
    try history.plot(to: example.output("lstm_curves.svg"))
    files.append("lstm_curves.svg")
    example.record("lstm_first_loss", firstBatch.value!)
    example.record("lstm_final_loss", Double(history.history["loss"]!.last!))
    example.record("lstm_test_accuracy", Double(metrics["accuracy"]!))
}

if task != "lstm" {
    print("\n== SimpleRNN forecasting a noisy sine wave")
    let window = options.window, points = 1200
    let t = (0..<points).map { Double($0) * 0.1 }
    let noise = Tensor.randomNormal([points], stddev: 0.1).asArray(Float.self)
    let series = zip(t, noise).map { Float(sin($0)) + $1 }
    // Samples: `window` consecutive values → the next one. The last 20% are held out.
    let count = points - window
    var xs = [Float](), ys = [Float]()
    for i in 0..<count { xs += series[i..<(i + window)]; ys.append(series[i + window]) }
    let x = Tensor(shape: [count, window, 1], scalars: xs), y = Tensor(shape: [count, 1], scalars: ys)
    let split = count * 4 / 5
    let model = Sequential()
    model.add(SimpleRNN(32, inputShape: [window, 1]))
    model.add(Dense(1))
    model.compile(optimizer: Adam(learningRate: 3e-3), loss: .meanSquaredError)
    model.summary()
    let firstBatch = FirstBatchLoss()
    let history = try model.fit(x.sliced(axis: 0, 0..<split), y.sliced(axis: 0, 0..<split),
                                epochs: options.sineEpochs, batchSize: 32, verbose: 2, callbacks: [firstBatch])
    let heldX = x.sliced(axis: 0, split..<count), heldY = y.sliced(axis: 0, split..<count)
    let (testLoss, _) = try model.evaluate(heldX, heldY)
    // The noise alone has variance 0.01: a forecaster that learned the wave gets close to it.
    print(String(format: "SimpleRNN held-out MSE %.4f (noise variance 0.0100)", testLoss))
    let forecast = try model.predict(heldX).asArray(Float.self)
    let times = (split..<count).map { t[$0 + window] }
    var plot = Plot(title: "One-step forecast on held-out data", xLabel: "t", yLabel: "value")
    plot.scatter(times, heldY.asArray(Float.self), label: "noisy truth")
    plot.line(times, times.map { sin($0) }, label: "sin(t)")
    plot.line(times, forecast, label: "SimpleRNN forecast")
    try plot.save(to: example.output("sine_forecast.svg"))
    files.append("sine_forecast.svg")
    example.record("sine_first_loss", firstBatch.value!)
    example.record("sine_final_loss", Double(history.history["loss"]!.last!))
    example.record("sine_test_mse", Double(testLoss))
}

example.finish(files: files)
