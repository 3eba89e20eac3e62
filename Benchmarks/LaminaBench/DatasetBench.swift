import Foundation
import Lamina
import LaminaData

/// The MNIST convnet (batch 128) or the MLP of issue 23 (Flatten, Dense 128, Dense 10; batch
/// 256) trained for one epoch on x.npy / y.npy in `directory` (made by
/// Benchmarks/make_big_mnist.py: MNIST tiled to 600,000 samples, 1.9 GB of float32), either
/// from the files read by rows through a shuffled, prefetching dataset (`fromMemory` false;
/// `reads` and `readAhead` as `Dataset.fromNumPy`) or from the arrays loaded into tensors.
/// Reports samples/s and the process's peak RSS; run the modes in separate processes
/// (`--workloads mlp_mmap` / `mlp_in_memory`) so each peak is its own.
func benchOutOfCore(_ workload: String, directory: String, fromMemory: Bool, limit: Int?,
                    reads: MemoryMappedNumPy.Reads = .positioned, readAhead: Bool = false) throws {
    let wall = now()
    let (xPath, yPath) = (directory + "/x.npy", directory + "/y.npy")
    Lamina.setRandomSeed(seed)
    let mlp = workload.hasPrefix("mlp")
    let batchSize = mlp ? 256 : 128
    let model = mlp ? Sequential([Flatten(inputShape: [28, 28, 1]), Dense(128, activation: .relu), Dense(10, activation: .softmax)]) : cnnModel()
    model.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy)
    var samples = 0
    let t: Double
    let history: History
    if fromMemory {
        var x = try NumPy.load(URL(fileURLWithPath: xPath)), y = try NumPy.load(URL(fileURLWithPath: yPath))
        if let limit { (x, y) = (x.sliced(axis: 0, 0..<limit), y.sliced(axis: 0, 0..<limit)) }
        samples = x.shape[0]
        let start = now()
        history = try model.fit(x, y, epochs: 1, batchSize: batchSize, verbose: 0)
        t = now() - start
    } else {
        var data = try Dataset.fromNumPy(x: xPath, y: yPath, reads: reads, readAhead: readAhead)
        samples = data.cardinality ?? 0
        if let limit { data = data.take(limit); samples = limit }
        let start = now()
        history = try model.fit(data.shuffle().batch(batchSize).prefetch(2), epochs: 1, verbose: 0)
        t = now() - start
    }
    let readsName: String
    switch reads {
    case .positioned: readsName = "positioned"
    case .mapped(let release?): readsName = "mapped, release every \(release >> 20) MB"
    case .mapped(nil): readsName = "mapped, no release"
    }
    emit(["workload": workload, "samples": samples, "reads": fromMemory ? "in memory" : readsName, "read_ahead": readAhead, "epoch_s": rounded(t), "samples_per_s": rounded(Double(samples) / t, 1),
          "epoch_mean_loss": rounded(history.history["loss"]!.last!, 4), "peak_rss_mb": rounded(peakRSSMegabytes(), 1),
          "wall_s": rounded(now() - wall)])
}

/// The process's peak resident set (VmHWM), in MB.
func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return -1 }
    return kb / 1024
}
