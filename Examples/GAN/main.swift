import ExampleSupport
import Foundation
import Lamina

// The Keras MNIST GAN (Keras-GAN's gan.py): a dense generator from 100-d noise with
// LeakyReLU(0.2), BatchNormalization(momentum: 0.8) and tanh; a dense discriminator; and the
// Keras recipe: compile the discriminator, set `trainable = false`, compile the combined model
// `Model(z, discriminator(generator(z)))` (the functional API), then alternate `trainOnBatch` calls. `--arch dcgan` uses Reshape, UpSampling2D and Conv2D.
// Quality is measured: an MNIST classifier labels 1,000 generated digits; we report the share it
// labels with confidence ≥ 0.9 and how many of the ten classes appear among them.
// (--judge-samples sets how many; 1,000 by default.) The judge is trained on the fly, or is the
// convnet `mnist-cnn` saved: --judge out/mnist-cnn/model.lamina.
//   swift run -c release gan [--arch dense|dcgan] [--epochs 10] [--steps 500] [--data ~/mnist]

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gan",
                                                    abstract: "A GAN on MNIST (dense, or --arch dcgan), with sample grids and a measured quality score.")
    @OptionGroup var common: CommonOptions
    @Option(help: "dense (Keras-GAN gan.py) or dcgan.") var arch = "dense"
    @Option(help: "Discriminator + generator steps per epoch.") var steps = 500
    @Option(name: .customLong("batch-size"), help: "Real images per step.") var batchSize = 64
    @Option(name: .customLong("judge-samples"), help: "Generated digits the classifier labels.") var judgeSamples = 1000
    @Option(help: "A saved MNIST classifier (mnist-cnn's model.lamina); trained on the fly if not given.") var judge = ""
}
let options = Options.parseOrExit()
var example = Example("gan", epochs: 10, common: options.common)
let arch = options.arch, latent = 100, batch = options.batchSize
guard arch == "dense" || arch == "dcgan" else { Example.fail("--arch must be dense or dcgan, got \(arch)") }
let (train, test) = example.mnist(trainShape: [28, 28, 1])
let real = train.x * 2 - 1  // tanh range

func denseGenerator() -> Sequential {
    let g = Sequential(name: "generator")
    g.add(Dense(256, inputDim: latent)); g.add(LeakyReLU(negativeSlope: 0.2)); g.add(BatchNormalization(momentum: 0.8))
    g.add(Dense(512)); g.add(LeakyReLU(negativeSlope: 0.2)); g.add(BatchNormalization(momentum: 0.8))
    g.add(Dense(1024)); g.add(LeakyReLU(negativeSlope: 0.2)); g.add(BatchNormalization(momentum: 0.8))
    g.add(Dense(784, activation: .tanh)); g.add(Reshape([28, 28, 1]))
    return g
}

func denseDiscriminator() -> Sequential {
    let d = Sequential(name: "discriminator")
    d.add(Flatten(inputShape: [28, 28, 1]))
    d.add(Dense(512)); d.add(LeakyReLU(negativeSlope: 0.2))
    d.add(Dense(256)); d.add(LeakyReLU(negativeSlope: 0.2))
    d.add(Dense(1, activation: .sigmoid))
    return d
}

func convGenerator() -> Sequential {
    let g = Sequential(name: "generator")
    g.add(Dense(64 * 7 * 7, activation: .relu, inputDim: latent)); g.add(Reshape([7, 7, 64]))
    g.add(UpSampling2D()); g.add(Conv2D(64, kernelSize: 3, padding: .same))
    g.add(BatchNormalization(momentum: 0.8)); g.add(Activation(.relu))
    g.add(UpSampling2D()); g.add(Conv2D(32, kernelSize: 3, padding: .same))
    g.add(BatchNormalization(momentum: 0.8)); g.add(Activation(.relu))
    g.add(Conv2D(1, kernelSize: 3, padding: .same, activation: .tanh))
    return g
}

func convDiscriminator() -> Sequential {
    let d = Sequential(name: "discriminator")
    d.add(Conv2D(32, kernelSize: 3, strides: 2, padding: .same, inputShape: [28, 28, 1]))
    d.add(LeakyReLU(negativeSlope: 0.2)); d.add(Dropout(0.25))
    d.add(Conv2D(64, kernelSize: 3, strides: 2, padding: .same))
    d.add(BatchNormalization(momentum: 0.8)); d.add(LeakyReLU(negativeSlope: 0.2)); d.add(Dropout(0.25))
    d.add(Flatten()); d.add(Dense(1, activation: .sigmoid))
    return d
}

let generator = arch == "dense" ? denseGenerator() : convGenerator()
let discriminator = arch == "dense" ? denseDiscriminator() : convDiscriminator()
discriminator.compile(optimizer: Adam(learningRate: 2e-4, beta1: 0.5), loss: .binaryCrossentropy, metrics: [.accuracy])
discriminator.trainable = false  // frozen inside `combined`, which is compiled after this line
// The combined model in Keras 3's functional style: noise → generator → (frozen) discriminator.
let z = Input(shape: [latent], name: "noise")
let combined = Model(inputs: z, outputs: discriminator(generator(z)), name: "combined")
combined.compile(optimizer: Adam(learningRate: 2e-4, beta1: 0.5), loss: .binaryCrossentropy)
generator.summary()
discriminator.summary()

let fixedNoise = Tensor.randomNormal([64, latent])
let ones = Tensor.ones([batch, 1]), zeros = Tensor.zeros([batch, 1])
var rng = RandomGenerator(seed: example.seed)
var dLosses = [Double](), gLosses = [Double](), dAccuracy = [Double](), files = [String]()
let steps = options.steps, n = real.shape[0]
for epoch in 1...max(example.epochs, 1) {
    let started = Date()
    var dSum = 0.0, gSum = 0.0, accSum = 0.0
    for _ in 0..<steps {
        let rows = (0..<batch).map { _ in Int(rng.next() % UInt64(n)) }
        let images = real.gather(rows: rows)
        let noise = Tensor.randomNormal([batch, latent], using: &rng)
        let fake = try generator.predictOnBatch(noise)
        let dReal = try discriminator.trainOnBatch(images, ones)
        let dFake = try discriminator.trainOnBatch(fake, zeros)
        let gLoss = try combined.trainOnBatch(Tensor.randomNormal([batch, latent], using: &rng), ones)
        let d = (dReal.loss + dFake.loss) / 2, acc = (dReal.metrics["accuracy"]! + dFake.metrics["accuracy"]!) / 2
        dLosses.append(d); gLosses.append(gLoss.loss); dAccuracy.append(acc)
        dSum += d; gSum += gLoss.loss; accSum += acc
    }
    let k = Double(steps)
    print(String(format: "Epoch %d/%d - %.1fs - d_loss: %.4f - d_accuracy: %.3f - g_loss: %.4f",
                 epoch, example.epochs, Date().timeIntervalSince(started), dSum / k, accSum / k, gSum / k))
    let name = String(format: "samples_epoch_%02d.png", epoch)
    try ImageGrid.save(try generator.predict(fixedNoise), to: example.output(name), columns: 8, range: -1...1)
    files.append(name)
}

// Loss curves, averaged over windows of 50 steps.
func smoothed(_ v: [Double], _ w: Int = 50) -> [Double] {
    stride(from: 0, to: v.count, by: w).map { start in
        let part = v[start..<min(start + w, v.count)]; return part.reduce(0, +) / Double(part.count)
    }
}
var lossPlot = Plot(title: "GAN losses (mean of 50 steps)", xLabel: "step", yLabel: "binary cross-entropy")
let xs = smoothed(dLosses).indices.map { Double($0 * 50 + 25) }
lossPlot.line(xs, smoothed(dLosses), label: "discriminator")
lossPlot.line(xs, smoothed(gLosses), label: "generator")
try lossPlot.save(to: example.output("losses.svg"))
files.append("losses.svg")

// Quality: a classifier trained on the real digits labels generated ones.
let judge: Sequential
if options.judge.isEmpty {
    print("\nTraining the judge: a small MNIST classifier")
    judge = Sequential(name: "judge")
    judge.add(Flatten(inputShape: [28, 28, 1]))
    judge.add(Dense(256, activation: .relu))
    judge.add(Dense(10, activation: .softmax))
    judge.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
    try judge.fit(train.x, train.y, epochs: 3, batchSize: 128, verbose: 0)
} else {
    do {
        judge = try Sequential.load(options.judge, restoreRandomState: false)
    } catch {
        Example.fail("--judge: \(error)")
    }
    print("\nThe judge: \(options.judge) (\(judge.layers.count) layers, \(judge.countParams()) parameters)")
}
let judgeAccuracy = try judge.evaluate(test.x, test.y, batchSize: 500).metrics["accuracy"]!
let judged = max(options.judgeSamples, 1)
let generated = (try generator.predict(Tensor.randomNormal([judged, latent], using: &rng), batchSize: 500) + 1) / 2
let probabilities = try judge.predict(generated, batchSize: 500)
let confidence = probabilities.max(axes: [1]).asArray(Float.self), labels = probabilities.argmax(axis: -1).asArray(Int32.self)
let confident = confidence.indices.filter { confidence[$0] >= 0.9 }
let classes = Set(confident.map { labels[$0] })
let share = Double(confident.count) / Double(confidence.count)
print(String(format: "Judge test accuracy %.2f%%. Generated digits labelled with confidence ≥ 0.9: %.1f%%; classes among them: %d of 10 (%@)",
             100 * judgeAccuracy, 100 * share, classes.count, classes.sorted().map(String.init).joined(separator: ",")))

example.record("arch", arch)
example.record("first_loss", Double(gLosses.first!))  // generator loss, first step
example.record("final_d_loss", Double(smoothed(dLosses, steps).last!))
example.record("final_g_loss", Double(smoothed(gLosses, steps).last!))
example.record("first_d_loss", Double(dLosses.first!))
example.record("judge_test_accuracy", Double(judgeAccuracy))
example.record("confident_share", share)
example.record("confident_classes", classes.count)
example.finish(files: files)
