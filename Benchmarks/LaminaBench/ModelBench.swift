import Foundation
import Lamina
import LaminaData

// The model workloads of Benchmarks/peers (torch_bench.py, keras_bench.py), with their
// protocol: seed 1234, pixels scaled to [0, 1] once, batch 128, Adam 1e-3, sparse
// categorical cross-entropy; warm up on 2,656 samples, restore the initial weights and
// optimizer, then time one epoch over all 60,000 samples.

let seed: UInt64 = 1234
let warmupSamples = 20 * 128 + 96

struct MNISTData {
    let xTrain: Tensor, yTrain: Tensor, xTest: Tensor, yTest: Tensor

    init(directory: String?) throws {
        var (train, test) = try MNIST.load(directory: directory, download: false)
        // Scaled in place (the peers also scale once, before timing).
        for i in 0..<2 {
            let scale = { (p: UnsafeMutableBufferPointer<Float>) in for j in p.indices { p[j] /= 255 } }
            if i == 0 { train.x.withUnsafeMutableBuffer(as: Float.self, scale) } else { test.x.withUnsafeMutableBuffer(as: Float.self, scale) }
        }
        (xTrain, yTrain, xTest, yTest) = (train.x, train.y, test.x, test.y)
    }

    func shaped(_ shape: [Int]) -> (Tensor, Tensor) {
        (xTrain.reshaped(to: [60_000] + shape), xTest.reshaped(to: [10_000] + shape))
    }
}

func testAccuracy(_ model: Sequential, _ x: Tensor, _ y: Tensor) throws -> Double {
    let predicted = try model.predict(x, batchSize: 1000).argmax(axis: -1).asArray(Int32.self)
    let truth = y.asArray(Int32.self)
    return Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
}

func rounded(_ v: Double, _ digits: Int = 3) -> Double {
    let p = pow(10, Double(digits)); return (v * p).rounded() / p
}

func repFields(_ prefix: String, _ times: [Double]) -> [String: Any] {
    let sorted = times.sorted()
    return ["\(prefix)_median": rounded(sorted[sorted.count / 2]), "\(prefix)_all": times.map { rounded($0) }, "reps": times.count]
}

/// Builds, warms up, restores and times one epoch `reps` times; returns the trained model.
@discardableResult
func benchFitOneEpoch(_ workload: String, reps: Int, build: () -> Sequential,
                      x: Tensor, y: Tensor, xTest: Tensor, yTest: Tensor) throws -> Sequential {
    let wall = now()
    Lamina.setRandomSeed(seed)
    let model = build()
    let compile = { model.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy) }
    compile()
    let initial = model.getWeights()
    try model.fit(x.sliced(axis: 0, 0..<warmupSamples), y.sliced(axis: 0, 0..<warmupSamples),
                  epochs: 1, batchSize: 128, verbose: 0)
    var times = [Double]()
    var lastLoss = 0.0
    for _ in 0..<reps {
        try model.setWeights(initial)
        compile()  // a fresh Adam: the same state as before the warm-up
        Lamina.setRandomSeed(seed)
        let t = now()
        let history = try model.fit(x, y, epochs: 1, batchSize: 128, verbose: 0)
        times.append(now() - t)
        lastLoss = Double(history.history["loss"]!.last!)
    }
    let best = times.min()!
    var record: [String: Any] = [
        "workload": workload, "epoch_s": rounded(best), "samples_per_s": rounded(Double(x.shape[0]) / best, 1),
        "test_accuracy": rounded(try testAccuracy(model, xTest, yTest), 4), "epoch_mean_loss": rounded(lastLoss, 4),
    ]
    record.merge(repFields("epoch_s", times)) { $1 }
    record["wall_s"] = rounded(now() - wall)
    emit(record)
    return model
}

func mlpModel() -> Sequential {
    Sequential([Dense(128, activation: .relu, inputShape: [784]), Dense(10, activation: .softmax)])
}

func cnnModel() -> Sequential {
    Sequential([
        Conv2D(32, kernelSize: (3, 3), activation: .relu, inputShape: [28, 28, 1]), MaxPooling2D(poolSize: (2, 2)),
        Conv2D(64, kernelSize: (3, 3), activation: .relu), MaxPooling2D(poolSize: (2, 2)),
        Flatten(), Dense(128, activation: .relu), Dense(10, activation: .softmax),
    ])
}

func lstmModel() -> Sequential {
    Sequential([LSTM(128, inputShape: [28, 28]), Dense(10, activation: .softmax)])
}

/// The dense GAN: one D step on 64 generated + 64 real images, one G step through the frozen D.
func benchGAN(_ data: MNISTData) throws {
    let wall = now(), batch = 64, latent = 100, steps = 200
    Lamina.setRandomSeed(seed)
    var real = data.xTrain.reshaped(to: [60_000, 784]) * 2
    real.withUnsafeMutableBuffer(as: Float.self) { for i in $0.indices { $0[i] -= 1 } }  // [-1, 1], no third copy
    let generator = Sequential([
        Dense(256, inputShape: [latent]), LeakyReLU(negativeSlope: 0.2), BatchNormalization(momentum: 0.8),
        Dense(512), LeakyReLU(negativeSlope: 0.2), BatchNormalization(momentum: 0.8),
        Dense(784, activation: .tanh),
    ])
    let discriminator = Sequential([
        Dense(512, inputShape: [784]), LeakyReLU(negativeSlope: 0.2),
        Dense(256), LeakyReLU(negativeSlope: 0.2), Dense(1, activation: .sigmoid),
    ])
    let combined = Sequential([generator, discriminator])
    func compile() {
        discriminator.trainable = true
        discriminator.compile(optimizer: Adam(learningRate: 2e-4, beta1: 0.5), loss: .binaryCrossentropy)
        discriminator.trainable = false
        combined.compile(optimizer: Adam(learningRate: 2e-4, beta1: 0.5), loss: .binaryCrossentropy)
    }
    compile()
    let labels = Tensor.concatenated([Tensor.ones([batch, 1]), Tensor.zeros([batch, 1])], axis: 0)
    let ones = Tensor.ones([batch, 1])
    var rng = RandomGenerator(seed: seed)
    var dLoss = 0.0, gLoss = 0.0
    func step() throws {
        let rows = (0..<batch).map { _ in Int(rng.next() % 60_000) }
        let fake = try withoutGradients { try generator(Tensor.randomNormal([batch, latent], using: &rng), training: true) }
        dLoss = try discriminator.trainOnBatch(Tensor.concatenated([real.gather(rows: rows), fake], axis: 0), labels).loss
        gLoss = try combined.trainOnBatch(Tensor.randomNormal([batch, latent], using: &rng), ones).loss
    }
    let initial = combined.getWeights()
    for _ in 0..<10 { try step() }
    var times = [Double]()
    for _ in 0..<3 {
        try combined.setWeights(initial)
        compile()
        rng = RandomGenerator(seed: seed)
        let t = now()
        for _ in 0..<steps { try step() }
        times.append(now() - t)
    }
    let best = times.min()!
    var record: [String: Any] = [
        "workload": "gan", "steps": steps, "batch": batch, "train_s": rounded(best),
        "steps_per_s": rounded(Double(steps) / best, 2), "ms_per_step": rounded(1000 * best / Double(steps)),
        "final_d_loss": rounded(Double(dLoss), 4), "final_g_loss": rounded(Double(gLoss), 4),
    ]
    record.merge(repFields("train_s", times)) { $1 }
    record["wall_s"] = rounded(now() - wall)
    emit(record)
}

/// Predict throughput of the trained CNN at batch 1000, and batch-1 latency.
func benchInference(_ model: Sequential, _ xTest: Tensor, _ yTest: Tensor) throws {
    let wall = now()
    _ = try model.predict(xTest, batchSize: 1000)
    var runs = [Double]()
    var probabilities = Tensor.zeros([1])
    for _ in 0..<5 {
        let t = now()
        probabilities = try model.predict(xTest, batchSize: 1000)
        runs.append(now() - t)
    }
    let predicted = probabilities.argmax(axis: -1).asArray(Int32.self), truth = yTest.asArray(Int32.self)
    let accuracy = Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
    for i in 0..<10 { _ = try model.predict(xTest.sliced(axis: 0, i..<(i + 1))) }
    var latencies = [Double]()
    for i in 0..<200 {
        let x1 = xTest.sliced(axis: 0, i..<(i + 1))
        let t = now()
        _ = try model.predict(x1)
        latencies.append(now() - t)
    }
    latencies.sort()
    let best = runs.min()!
    emit(["workload": "inference", "model": "cnn_mnist", "batch": 1000,
          "predict_samples_per_s": rounded(10_000 / best, 1),
          "predict_samples_per_s_median": rounded(10_000 / runs.sorted()[runs.count / 2], 1),
          "predict_10k_best_s": rounded(best, 4), "test_accuracy": rounded(accuracy, 4),
          "latency_b1_median_ms": rounded(1000 * latencies[latencies.count / 2], 4),
          "latency_b1_p90_ms": rounded(1000 * latencies[latencies.count * 9 / 10], 4),
          "latency_calls": 200, "latency_api": "model.predict(x1)", "wall_s": rounded(now() - wall)])
}

/// ResNet50 (`ResNet50(inputShape: [96, 96, 3])`) or MobileNetV2 (`MobileNetV2()`, 224×224×3):
/// Keras's graphs, 1,000 classes, on a batch of 32: forward passes in inference mode (best of 5
/// after 2 warm-ups) and SGD training steps (best of 3 after one), the protocol of the peers'
/// `resnet50` and `mobilenetv2` workloads.
func benchImageModel(_ workload: String) throws {
    let wall = now()
    Lamina.setRandomSeed(seed)
    // workload -> (input side, builder), as the peers' IMAGE_MODELS
    let models: [String: (Int, ([Int]) -> Model)] = ["resnet50": (96, { ResNet50(inputShape: $0, classes: 1000) }),
                                                     "mobilenetv2": (224, { MobileNetV2(inputShape: $0, classes: 1000) })]
    guard let (side, build) = models[workload] else { throw LaminaError.value("no image model \(workload)") }
    let model = build([side, side, 3])
    let x = Tensor.randomNormal([32, side, side, 3], seed: seed)
    let y = Tensor(shape: [32], scalars: (0..<32).map { Int32($0 * 31 % 1000) })
    for _ in 0..<2 { _ = try model.predict(x, batchSize: 32) }
    var predict = [Double]()
    for _ in 0..<5 {
        let t = now()
        _ = try model.predict(x, batchSize: 32)
        predict.append(now() - t)
    }
    model.compile(optimizer: SGD(learningRate: 0.01), loss: .sparseCategoricalCrossentropy)
    _ = try model.trainOnBatch(x, y)
    var train = [Double]()
    for _ in 0..<3 {
        let t = now()
        _ = try model.trainOnBatch(x, y)
        train.append(now() - t)
    }
    emit(["workload": workload, "batch": 32, "input": "\(side)x\(side)x3", "params": model.countParams(),
          "predict_batch_s": rounded(predict.min()!, 4), "predict_samples_per_s": rounded(32 / predict.min()!, 1),
          "train_step_s": rounded(train.min()!, 4), "train_samples_per_s": rounded(32 / train.min()!, 1),
          "predict_api": "model.predict(x, batchSize: 32)", "train_api": "model.trainOnBatch(x, y)", "wall_s": rounded(now() - wall)])
}
