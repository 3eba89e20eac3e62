import Foundation

/// The seam between the training loop and distribution: how `fit`, `evaluate`, `predict`,
/// `trainOnBatch` and `save` spread over processes (Keras: `keras.distribution`; TensorFlow:
/// `tf.distribute.Strategy`). The loop calls it unconditionally; one process runs
/// `SingleProcess`, whose every operation is the identity, and LaminaDistributed's
/// `DataParallel` implements it over MPI — so `import Lamina` never links MPI and the loop
/// holds no distributed code.
package protocol DistributionStrategy: AnyObject, Sendable {
    /// Whether this process prints and writes files (rank 0, or the only process).
    var isChief: Bool { get }
    /// Runs a public entry point; an error on any process ends the whole job (the others would
    /// otherwise wait for it in their next exchange).
    func run<R>(_ body: () throws -> R) rethrows -> R
    /// Before training steps: every replica takes the chief's weights and optimizer state.
    func synchronize(_ model: Model, optimizer: Optimizer) throws
    /// An epoch's sample order, the chief's on every process.
    func shareOrder(_ order: [Int]) throws -> [Int]
    /// Checks that every process reads the same global batch (each epoch's first).
    func checkSameBatch(_ x: Tensor) throws
    /// This process's rows of a global batch of `n`.
    func shard(_ n: Int) -> Range<Int>
    /// A step's exchange: this process's gradients and loss values, weighted by `share` (its
    /// fraction of the global batch), summed over processes; moving statistics averaged.
    func exchange(_ model: Model, gradients: [Tensor], values: [Double], share: Double) throws -> (gradients: [Tensor], values: [Double])
    /// Sums over processes.
    func sum(_ values: [Double]) throws -> [Double]
    /// The compiled metrics' values over every process's data, by log key.
    func metricValues(_ model: Model) throws -> [String: Double]
    /// Every process's outputs for its shard of the global batch `inputs` (nil: an empty shard),
    /// in order, on every process.
    func gather(_ local: [Tensor]?, of model: Model, inputs: [Tensor]) throws -> [Tensor]
}

/// One process: nothing to shard, exchange or gather.
package final class SingleProcess: DistributionStrategy {
    package init() {}
    package var isChief: Bool { true }
    package func run<R>(_ body: () throws -> R) rethrows -> R { try body() }
    package func synchronize(_ model: Model, optimizer: Optimizer) throws {}
    package func shareOrder(_ order: [Int]) throws -> [Int] { order }
    package func checkSameBatch(_ x: Tensor) throws {}
    package func shard(_ n: Int) -> Range<Int> { 0..<n }
    package func exchange(_ model: Model, gradients: [Tensor], values: [Double], share: Double) throws -> (gradients: [Tensor], values: [Double]) {
        (gradients, values)
    }
    package func sum(_ values: [Double]) throws -> [Double] { values }
    package func metricValues(_ model: Model) throws -> [String: Double] { model.metricValues() }
    package func gather(_ local: [Tensor]?, of model: Model, inputs: [Tensor]) throws -> [Tensor] { local ?? [] }
}

/// The strategy in force for this process (set by LaminaDistributed's `Distribution.set`).
package enum Strategy {
    private static let strategy = Locked<any DistributionStrategy>(SingleProcess())
    package static var current: any DistributionStrategy {
        get { strategy.withLock { $0 } }
        set { strategy.withLock { $0 = newValue } }
    }
    /// Whether this process prints and writes files.
    package static var isChief: Bool { current.isChief }
}
