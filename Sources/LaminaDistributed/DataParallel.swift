import Foundation
import Lamina

/// Data parallelism, as `keras.distribution.DataParallel` (Horovod's design): every process
/// holds the whole model and trains on its shard of each global batch; before every
/// optimizer step the gradients are averaged across processes by allreduce, so all
/// processes apply the same update and stay identical.
///
/// Set it once and an unchanged `fit` / `evaluate` / `predict` / `save` script runs under
/// `mpirun -np N`:
///
/// ```swift
/// try Distribution.set(DataParallel())      // MPI_COMM_WORLD
/// model.fit(x, y, epochs: 3, batchSize: 256) // 256 = the global batch, as in Keras
/// ```
///
/// What happens then: at the start of `fit` rank 0's weights and optimizer state are
/// broadcast (ranks may be started with different seeds); rank 0 draws each epoch's sample
/// order and sends it; each global batch is split into contiguous shards whose sizes differ
/// by at most one (a rank may get none of a small last batch and still takes part);
/// gradients, weighted by each shard's share of the batch so uneven splits still give the
/// global mean, are packed into flat buckets of at most `bucketSizeMB` and summed in that
/// many allreduce calls; the loss and the metrics' states are summed likewise, so the progress
/// bar and `History` show global values on every rank. Only rank 0 prints, writes `save` /
/// `ModelCheckpoint` files and `CSVLogger` logs. `evaluate` and `predict` shard the rows
/// and combine the results on every rank.
///
/// BatchNormalization follows Keras on TensorFlow's `MirroredStrategy` (and PyTorch's DDP
/// without SyncBatchNorm): each rank normalizes with its own shard's batch statistics and the
/// moving mean and variance are averaged across ranks after every step (Keras on JAX computes
/// statistics over the global batch instead). Dropout masks differ per rank: ranks other
/// than 0 reseed their default generator from their rank when `fit` starts.
///
/// Failures: an error thrown on any rank during `fit`, `evaluate` or `predict` prints
/// "Lamina: rank R failed: …" and aborts the whole job through MPI (see ``MPICollective``).
public final class DataParallel: Sendable {
    /// The processes the gradients are averaged over.
    public let collective: Collective
    /// The most megabytes of gradients one allreduce carries (PyTorch DDP's default: 25).
    public let bucketSizeMB: Double
    private let counters = Locked((calls: 0, seconds: 0.0, bytes: 0))

    /// Data parallelism over `collective` (by default every process `mpirun` started).
    public init(collective: Collective? = nil, bucketSizeMB: Double = 25) throws {
        guard bucketSizeMB > 0 else { throw LaminaError.value("DataParallel: bucketSizeMB must be positive, got \(bucketSizeMB)") }
        self.collective = try collective ?? MPICollective.world()
        self.bucketSizeMB = bucketSizeMB
    }

    /// This process's number (0 is the chief, which saves and prints).
    public var rank: Int { collective.rank }
    /// The number of processes.
    public var size: Int { collective.size }

    /// Allreduce calls made, seconds spent in them and bytes reduced, since the last reset
    /// (for benchmarks: the share of a step spent exchanging gradients).
    public var statistics: (calls: Int, seconds: Double, bytes: Int) { counters.withLock { $0 } }
    /// Sets `statistics` back to zero.
    public func resetStatistics() { counters.withLock { $0 = (0, 0, 0) } }

    private func timed(_ count: Int, _ body: () throws -> Void) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        counters.withLock { $0 = ($0.calls + 1, $0.seconds + elapsed, $0.bytes + count) }
    }
}

extension DataParallel {
    /// The timed sums behind every gradient, loss and metric exchange.
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try timed(values.count * 4) { try collective.allreduce(values, .sum) }
    }
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try timed(values.count * 8) { try collective.allreduce(values, .sum) }
    }
}

/// The distribution `fit`, `evaluate`, `predict` and `save` follow, set once per process.
/// Keras: `keras.distribution.set_distribution(...)` / `keras.distribution.distribution()`.
public enum Distribution {
    /// Makes `fit`, `evaluate`, `predict` and `save` follow `distribution` (nil: one process).
    public static func set(_ distribution: DataParallel?) { Strategy.current = distribution ?? SingleProcess() }
    /// The distribution set, nil for a single process.
    public static var current: DataParallel? { Strategy.current as? DataParallel }
}
