import Foundation
import Lamina
import LaminaData
import LaminaDistributed

// Test helper for DataParallelTests, run under `mpirun -np N` (or alone with --single, no
// distribution): one small convnet trained the same way in every scenario.
//   lamina-mpi-helper SCENARIO OUTDIR [--single] [--seed-per-rank]
// train       fit 1 epoch (21 Adam steps of a global batch of 64, the last one uneven),
//             evaluate and predict; rank 0 writes history.json, results.json, model.lamina;
//             every rank writes its initial and final weights (initial-rankR / final-rankR).
// kill        rank 1 kills itself (SIGKILL) after its 3rd batch.
// throw       rank 1 throws from a callback after its 3rd batch.
// checkpoint  fit 4 epochs with ModelCheckpoint(ckpt-{epoch}.lamina); history.json.
// resume      load ckpt-2.lamina and fit to epoch 4; history-resumed.json.
// collective  allreduce (sum, average; float32, float64), broadcast, barrier; collective.json.
// batches     trainOnBatch on 5 global batches; final-rankR, and losses and accuracies in history.json.
// subclass    a subclassed model with its own trainStep (computeLoss, applyGradients,
//             computeMetrics) fits 1 epoch; final-rankR and history.json.
// sharded     fit 2 epochs from .npy files (shuffle seed 5, batch 64, prefetch 2), each rank
//             reading only its shard of each global batch (with --global-reads: whole batches,
//             as a batch-level map makes it); final-rankR, history.json, rows-rankR.json (rows read).
// dataset     fit 1 epoch from a Dataset shuffled with seed 5 (or, with --unseeded, from the
//             default generator) and predict a dataset; final-rankR, history.json and results.json.

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: lamina-mpi-helper SCENARIO OUTDIR [--single] [--seed-per-rank]\n".utf8))
    exit(2)
}
let (scenario, out) = (arguments[1], URL(fileURLWithPath: arguments[2]))
let single = arguments.contains("--single")
let parallel = single ? nil : try DataParallel()
Distribution.set(parallel)
let rank = parallel?.rank ?? 0
Lamina.setRandomSeed(42 + (arguments.contains("--seed-per-rank") ? UInt64(rank) : 0))   // rank 0 as a single process

/// Inputs [n, 8, 8, 1] and labels 0..<4 that depend on them, the same on every rank.
func data(_ n: Int, seed: UInt64) -> (Tensor, Tensor) {
    var rng = RandomGenerator(seed: seed)
    let x = (0..<(n * 64)).map { _ in Float(rng.nextNormal()) }
    let y = (0..<n).map { i in Int32((x[(i * 64)..<(i * 64 + 64)].enumerated().reduce(Float(0)) { $0 + $1.element * Float($1.offset % 5 - 2) } > 0 ? 1 : 0)
                                    + (x[i * 64] > 0 ? 2 : 0)) }
    return (Tensor(shape: [n, 8, 8, 1], scalars: x), Tensor(shape: [n], scalars: y))
}

func model() throws -> Sequential {
    let m = Sequential([Conv2D(4, kernelSize: 3, activation: .relu), Flatten(), Dense(16, activation: .relu), Dense(4, activation: .softmax)])
    try m.build(inputShape: [8, 8, 1])
    m.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossentropy(), metrics: [Accuracy()])
    return m
}

func weights(_ m: Model) -> [(name: String, tensor: Tensor)] { m.weights.enumerated().map { ("w\($0.offset)", $0.element.value) } }

func writeJSON(_ object: Any, _ name: String) throws {
    guard rank == 0 else { return }
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: out.appendingPathComponent(name))
}

let (x, y) = data(64 * 20 + 33, seed: 7)
let (vx, vy) = data(65, seed: 8)
let m = try model()
let verbose = ProcessInfo.processInfo.environment["HELPER_VERBOSE"] == nil ? 0 : 1
switch scenario {
case "train":
    try Safetensors.save(weights(m), to: out.appendingPathComponent("initial-rank\(rank).safetensors"))
    let history = try m.fit(x, y, epochs: 1, batchSize: 64, verbose: verbose, validationData: (vx, vy))
    try Safetensors.save(weights(m), to: out.appendingPathComponent("final-rank\(rank).safetensors"))
    try m.save(out.appendingPathComponent("model.lamina").path)
    let evaluation = try m.evaluate(vx, vy, batchSize: 16)
    let prediction = try m.predict(vx, batchSize: 16)
    try writeJSON(history.history, "history.json")
    try writeJSON(["loss": evaluation.loss, "accuracy": evaluation.metrics["accuracy"]!,
                   "predict": prediction.scalarsAsDouble(), "predict_shape": prediction.shape,
                   "allreduce_calls": parallel?.statistics.calls ?? 0], "results.json")
case "kill", "throw":
    _ = try m.fit(x, y, epochs: 3, batchSize: 64, verbose: verbose, callbacks: [LambdaCallback(onBatchEnd: { batch, _ in
        guard rank == 1, batch == 2 else { return }
        if scenario == "kill" { kill(getpid(), SIGKILL) }
        throw LaminaError.value("a failure on purpose in rank 1's callback")
    })])
    try writeJSON(["finished": true], "finished.json")
case "functional":   // a two-input, two-output functional model through fit, evaluate and predict
    let image = Input(shape: [8, 8, 1], name: "image"), side = Input(shape: [2], name: "side")
    let features = Concatenate()([Flatten()(Conv2D(4, kernelSize: 3, activation: .relu)(image)), Dense(4, activation: .tanh)(side)])
    let f = Model(inputs: [image, side], outputs: [Dense(4, activation: .softmax, name: "cls")(features), Dense(1, name: "score")(features)])
    f.compile(optimizer: Adam(learningRate: 0.01), loss: [SparseCategoricalCrossentropy(), MeanSquaredError()], lossWeights: [1, 0.5],
              metrics: [[Accuracy()], []])
    func sides(_ x: Tensor) -> Tensor { x.reshaped(to: [x.shape[0], 64]).sliced(axis: 1, 0..<2) }
    func scores(_ y: Tensor) -> Tensor { y.cast(to: .float32).reshaped(to: [y.shape[0], 1]) }
    let history = try f.fit([x, sides(x)], [y, scores(y)], epochs: 1, batchSize: 64, verbose: verbose,
                            validationData: ([vx, sides(vx)], [vy, scores(vy)]))
    try Safetensors.save(weights(f), to: out.appendingPathComponent("final-rank\(rank).safetensors"))
    let predicted = try f.predict([vx, sides(vx)], batchSize: 16)
    try writeJSON(history.history, "history.json")
    try writeJSON(["cls": predicted[0].scalarsAsDouble(), "score": predicted[1].scalarsAsDouble()], "results.json")
case "badlabels":   // rank 1's labels fail fit's checks; the script catches the error and carries on
    var labels = y.scalarsAsDouble().map { Int32($0) }
    if rank == 1 { labels[3] = 99 }
    do {
        _ = try m.fit(x, Tensor(shape: y.shape, scalars: labels), epochs: 1, batchSize: 64, verbose: verbose)
    } catch {
        print("rank \(rank) caught: \(error)")
    }
    try writeJSON(["finished": true], "finished.json")
case "checkpoint":
    let history = try m.fit(x, y, epochs: 4, batchSize: 64, verbose: verbose, validationData: (vx, vy),
                            callbacks: [ModelCheckpoint(filepath: out.appendingPathComponent("ckpt-{epoch}.lamina").path)])
    try writeJSON(history.history, "history.json")
case "resume":
    let resumed = try Sequential.load(out.appendingPathComponent("ckpt-2.lamina").path)
    let history = try resumed.fit(x, y, epochs: 4, batchSize: 64, verbose: verbose, validationData: (vx, vy), initialEpoch: resumed.epoch)
    try writeJSON(history.history, "history-resumed.json")
case "collective":   // the Collective operations themselves, on values that depend on the rank
    let c = parallel!.collective
    var f = (0..<5).map { Float($0 + 10 * c.rank) }, d = (0..<3).map { Double($0) + 0.5 * Double(c.rank) }
    var avg = d
    try c.allreduce(&f, .sum)
    try c.allreduce(&d, .sum)
    try c.allreduce(&avg, .average)
    var shared = [Double](repeating: Double(c.rank), count: 4)
    try c.broadcast(&shared, root: c.size - 1)
    try c.barrier()
    try writeJSON(["sum32": f.map(Double.init), "sum64": d, "average64": avg, "broadcast": shared, "size": c.size], "collective.json")
case "batches":   // a hand-written loop: trainOnBatch on 5 global batches of 64 (the last of 37)
    var results = [Double]()
    for start in stride(from: 0, to: 293, by: 64) {
        let rows = Array(start..<min(293, start + 64))
        let (loss, metrics) = try m.trainOnBatch(x.gather(rows: rows), y.gather(rows: rows))
        results += [loss, metrics["accuracy"]!]
    }
    try Safetensors.save(weights(m), to: out.appendingPathComponent("final-rank\(rank).safetensors"))
    try writeJSON(["results": results], "history.json")
case "dataset":
    let shuffled = try Dataset.fromTensors(x, y).shuffle(seed: arguments.contains("--unseeded") ? nil : 5).batch(64)
    let history = try m.fit(shuffled, epochs: 1, verbose: verbose, validationData: try Dataset.fromTensors(vx, vy).batch(16))
    try Safetensors.save(weights(m), to: out.appendingPathComponent("final-rank\(rank).safetensors"))
    try writeJSON(history.history, "history.json")
    let predicted = try m.predict(try Dataset.fromTensors(vx).batch(16))
    try writeJSON(["predict": predicted.scalarsAsDouble(), "predict_shape": predicted.shape], "results.json")
case "sharded":
    /// Counts the rows the pipeline reads from the files.
    final class CountingSource: DataSource, @unchecked Sendable {   // `rows` only under `lock`
        let inner: NumPySource
        let lock = NSLock()
        var rows = 0
        init(_ inner: NumPySource) { self.inner = inner }
        var count: Int { inner.count }
        func batch(at indices: [Int]) throws -> (x: Tensor, y: Tensor?) {
            lock.lock(); rows += indices.count; lock.unlock()
            return try inner.batch(at: indices)
        }
    }
    let files = out.appendingPathComponent("npy-rank\(rank)")   // each rank its own copy: no rank waits on another's writes
    try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
    try NumPy.save(x, to: files.appendingPathComponent("x.npy"))
    try NumPy.save(y, to: files.appendingPathComponent("y.npy"))
    let source = CountingSource(try NumPySource(x: files.appendingPathComponent("x.npy").path, y: files.appendingPathComponent("y.npy").path))
    var batches = Dataset(source).shuffle(seed: 5).batch(64)
    if arguments.contains("--global-reads") { batches = batches.map { x, y in (x, y) } }
    let history = try m.fit(batches.prefetch(2), epochs: 2, verbose: verbose)
    try Safetensors.save(weights(m), to: out.appendingPathComponent("final-rank\(rank).safetensors"))
    try writeJSON(history.history, "history.json")
    try JSONSerialization.data(withJSONObject: ["rows": source.lock.withLock { source.rows }])
        .write(to: out.appendingPathComponent("rows-rank\(rank).json"))
case "subclass":
    final class Net: Model {
        let conv = Conv2D(4, kernelSize: 3, activation: .relu)
        let flatten = Flatten()
        let layers_ = [Dense(16, activation: .relu), Dense(4, activation: .softmax)]
        var steps = 0
        override func call(_ x: Tensor, training: Bool) throws -> Tensor {
            try layers_[1](layers_[0](flatten(conv(x))))
        }
        override func trainStep(_ batch: TrainingBatch) throws -> [String: Double] {
            steps += 1
            var prediction = batch.x
            let (_, gradients) = try valueAndGradients(of: self) {
                prediction = try self(batch.x, training: true)
                return try computeLoss(y: batch.y, yPred: prediction)
            }
            try applyGradients(gradients, to: trainableVariables)
            return try computeMetrics(y: batch.y, yPred: prediction)
        }
    }
    let net = Net()
    net.compile(optimizer: Adam(learningRate: 0.01), loss: SparseCategoricalCrossentropy(), metrics: [Accuracy()])
    let history = try net.fit(x, y, epochs: 1, batchSize: 64, verbose: verbose)
    try Safetensors.save(weights(net), to: out.appendingPathComponent("final-rank\(rank).safetensors"))
    try writeJSON(["accuracy": history.history["accuracy"]!, "steps": [Double(net.steps)]], "history.json")
default:
    FileHandle.standardError.write(Data("unknown scenario \(scenario)\n".utf8))
    exit(2)
}
