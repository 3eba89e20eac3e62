import Lamina
import Foundation

/// Random access to samples: in-memory tensors, memory-mapped `.npy` files, or your own source
/// (Keras 3's `PyDataset` idea). `batch(at:)` returns the samples at `indices`, stacked, with
/// their labels (nil when the source has none).
public protocol DataSource: Sendable {
    /// The number of samples.
    var count: Int { get }
    /// The samples at `indices` (each in `0..<count`) as one batch `[indices.count] + shape`.
    func batch(at indices: [Int]) throws -> (x: Tensor, y: Tensor?)
    /// A hint that `indices` are read next (a batch ahead): a file source may start reading
    /// them. The default does nothing.
    func prepare(_ indices: [Int])
}

/// Samples held in tensors (the first axis indexes samples).
public struct TensorSource: DataSource {
    /// The inputs (first axis: samples) and the labels, if any.
    public let x: Tensor, y: Tensor?
    /// Samples `x` with labels `y` (as many rows); throws for a scalar or a row-count mismatch.
    public init(_ x: Tensor, _ y: Tensor? = nil) throws {
        guard x.rank >= 1 else { throw LaminaError.shape("TensorSource: inputs need a sample axis, got a scalar") }
        if let y, y.rank < 1 || y.shape[0] != x.shape[0] {
            throw LaminaError.shape("TensorSource: \(y.rank >= 1 ? y.shape[0] : 0) labels for \(x.shape[0]) inputs")
        }
        (self.x, self.y) = (x, y)
    }
    /// The number of samples (rows of `x`).
    public var count: Int { x.shape[0] }
    /// The rows at `indices`, gathered.
    public func batch(at indices: [Int]) throws -> (x: Tensor, y: Tensor?) {
        (x.gather(rows: indices), y?.gather(rows: indices))
    }
}

extension DataSource {
    /// Does nothing: sources that read ahead implement it.
    public func prepare(_ indices: [Int]) {}
}
