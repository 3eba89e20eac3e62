import Foundation
import Lamina
import CLaminaMPI

/// One process: every operation leaves the values as they are.
public final class LocalCollective: Collective {
    /// The one-process collective.
    public init() {}
    /// Always 0.
    public var rank: Int { 0 }
    /// Always 1.
    public var size: Int { 1 }
    /// Leaves the values: the sum over one process.
    public func allreduce(_ values: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) throws {}
    /// Leaves the values.
    public func allreduce(_ values: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) throws {}
    /// Leaves the values.
    public func allreduceMax(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    /// Leaves the bytes: this process is the root.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
    /// Returns at once.
    public func barrier() throws {}
    /// Prints `message` to standard error and exits with status 1.
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(1)
    }
}
