import Foundation
import Lamina
import LaminaDistributed

/// One epoch of the MNIST convnet (cnnModel, Adam, global batch 128) under DataParallel on
/// however many ranks `mpirun` started: global images/s, and the time spent in allreduce
/// (gradient buckets plus the small loss/metric sums) per step and as a share of the step.
/// Run by Benchmarks/mpi_bench.sh with 1 and 2 ranks; rank 0 prints the JSON line.
func benchDataParallel(_ data: MNISTData, samples: Int?) throws {
    let wall = now()
    let parallel = try DataParallel()
    Distribution.set(parallel)
    defer { Distribution.set(nil) }
    let (x, _) = data.shaped([28, 28, 1])
    let n = min(samples ?? x.shape[0], x.shape[0])
    let (xs, ys) = (x.sliced(axis: 0, 0..<n), data.yTrain.sliced(axis: 0, 0..<n))
    Lamina.setRandomSeed(seed)
    let model = cnnModel()
    model.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
    try model.fit(xs.sliced(axis: 0, 0..<warmupSamples), ys.sliced(axis: 0, 0..<warmupSamples), epochs: 1, batchSize: 128, verbose: 0)
    parallel.resetStatistics()
    let start = now()
    let history = try model.fit(xs, ys, epochs: 1, batchSize: 128, verbose: 0)
    let epoch = now() - start
    let stats = parallel.statistics
    let steps = (n + 127) / 128
    let parameters = model.weights.filter(\.trainable).reduce(0) { $0 + $1.shape.reduce(1, *) }
    guard parallel.rank == 0 else { return }
    emit(["workload": "cnn_data_parallel", "ranks": parallel.size,
          "blas_threads": ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] ?? "default",
          "samples": n, "steps": steps, "epoch_s": rounded(epoch), "samples_per_s": rounded(Double(n) / epoch, 1),
          "allreduce_calls_per_step": rounded(Double(stats.calls) / Double(steps), 2),
          "allreduce_ms_per_step": rounded(1000 * stats.seconds / Double(steps), 3),
          "allreduce_share_of_step": rounded(stats.seconds / epoch, 4),
          "gradient_bytes_per_step": parameters * 4, "step_ms": rounded(1000 * epoch / Double(steps), 2),
          "epoch_mean_loss": rounded(history.history["loss"]!.last!, 4), "wall_s": rounded(now() - wall)])
}
