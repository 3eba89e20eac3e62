import Foundation
import Lamina
import CLaminaMPI

/// How values from every process combine in an allreduce.
public enum ReduceOperation: Sendable { case sum, average }

/// The collective operations data-parallel training needs, between `size` processes
/// numbered `rank` = 0..<size. ``MPICollective`` implements them over MPI; ``LocalCollective``
/// is the one-process case.
public protocol Collective: AnyObject, Sendable {
    /// This process's number, 0..<size (0 is the chief, which writes files).
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// Combines `values` element-wise across all processes; every process gets the result.
    func allreduce(_ values: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) throws
    /// The same for doubles.
    func allreduce(_ values: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) throws
    /// Element-wise maximum across processes.
    func allreduceMax(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Copies process `root`'s bytes into every process's buffer of the same size.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Returns once every process has called it.
    func barrier() throws
    /// Ends every process of the job, after printing `message`.
    func abort(_ message: String) -> Never
}

extension Collective {
    /// `allreduce` on an array: every process ends with the element-wise sum (or average).
    public func allreduce(_ values: inout [Float], _ operation: ReduceOperation = .sum) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
    }
    /// `allreduce` on an array of doubles.
    public func allreduce(_ values: inout [Double], _ operation: ReduceOperation = .sum) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
    }
    /// Every process ends with process `root`'s array (the arrays must have the same length).
    public func broadcast(_ values: inout [Float], root: Int = 0) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }
    /// `broadcast` on an array of doubles.
    public func broadcast(_ values: inout [Double], root: Int = 0) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }
}
