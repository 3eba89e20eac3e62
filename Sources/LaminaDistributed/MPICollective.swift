import Foundation
import Lamina
import CLaminaMPI

/// The processes `mpirun` started, over the system's MPI library (Debian's Open MPI, found
/// through pkg-config). ``world()`` initializes MPI once per process, asking for
/// `MPI_THREAD_SERIALIZED` (Lamina calls MPI from one thread at a time, whichever thread
/// runs `fit`) and refusing a library that offers less; MPI is finalized at exit.
///
/// Errors: MPI_COMM_WORLD is switched to `MPI_ERRORS_RETURN`, so a failed call becomes a
/// Swift error; data-parallel training turns any error into ``abort(_:)``, which prints the
/// rank and the error and calls `MPI_Abort`, so `mpirun` ends every process instead of
/// leaving the others waiting in their next allreduce. A process that dies outright (killed,
/// crashed) is noticed by `mpirun` itself, which ends the job and names the rank.
public final class MPICollective: Collective {
    /// This process's number in `MPI_COMM_WORLD` (0 is the chief).
    public let rank: Int
    /// The number of processes `mpirun` started.
    public let size: Int
    /// MPI_COMM_WORLD (a constant handle; not stored, as an OpaquePointer is not Sendable).
    private var comm: MPI_Comm { lamina_mpi_comm_world()! }

    private init(rank: Int, size: Int) { (self.rank, self.size) = (rank, size) }

    private static let shared = Locked<MPICollective?>(nil)

    /// All the processes of this job (MPI_COMM_WORLD), initializing MPI on first use.
    public static func world() throws -> MPICollective {
        try shared.withLock { shared in
            if let shared { return shared }
            let world = try initialize()
            shared = world
            return world
        }
    }

    private static func initialize() throws -> MPICollective {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            let rc = MPI_Init_thread(nil, nil, lamina_mpi_thread_serialized(), &provided)
            guard rc == lamina_mpi_success() else { throw LaminaError(.io, "MPI_Init_thread failed: \(errorString(rc))") }
            guard provided >= lamina_mpi_thread_serialized() else {
                throw LaminaError.configuration("the MPI library offers thread level \(provided); Lamina needs MPI_THREAD_SERIALIZED")
            }
            atexit {
                var finalized: Int32 = 0
                MPI_Finalized(&finalized)
                if finalized == 0 { MPI_Finalize() }
            }
        }
        let comm = lamina_mpi_comm_world()!
        MPI_Comm_set_errhandler(comm, lamina_mpi_errors_return())
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(comm, &rank)
        MPI_Comm_size(comm, &size)
        return MPICollective(rank: Int(rank), size: Int(size))
    }

    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(lamina_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == lamina_mpi_success() else { throw LaminaError(.io, "rank \(rank): \(what) failed: \(Self.errorString(rc))") }
    }

    /// MPI_Allreduce in place, in pieces of at most 2^30 elements (MPI counts are Int32).
    private func reduce(_ base: UnsafeMutableRawPointer?, count: Int, stride: Int, _ type: MPI_Datatype?, _ op: MPI_Op?) throws {
        let piece = 1 << 30
        for start in Swift.stride(from: 0, to: count, by: piece) {
            try check(MPI_Allreduce(lamina_mpi_in_place(), base! + start * stride, Int32(min(piece, count - start)), type, op, comm),
                      "MPI_Allreduce")
        }
    }

    /// `MPI_Allreduce` with `MPI_SUM` (divided by `size` for `.average`).
    public func allreduce(_ values: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) throws {
        try reduce(UnsafeMutableRawPointer(values.baseAddress), count: values.count, stride: 4, lamina_mpi_float(), lamina_mpi_sum())
        if operation == .average { for i in values.indices { values[i] /= Float(size) } }
    }

    /// `MPI_Allreduce` of doubles with `MPI_SUM` (divided by `size` for `.average`).
    public func allreduce(_ values: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) throws {
        try reduce(UnsafeMutableRawPointer(values.baseAddress), count: values.count, stride: 8, lamina_mpi_double(), lamina_mpi_sum())
        if operation == .average { for i in values.indices { values[i] /= Double(size) } }
    }

    /// `MPI_Allreduce` with `MPI_MAX`.
    public func allreduceMax(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try reduce(UnsafeMutableRawPointer(values.baseAddress), count: values.count, stride: 8, lamina_mpi_double(), lamina_mpi_max())
    }

    /// `MPI_Bcast` of the bytes from `root`.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard bytes.count > 0 else { return }
        guard (0..<size).contains(root) else { throw LaminaError.value("broadcast: root \(root) is not a rank of 0..<\(size)") }
        // MPI counts are Int32: send large buffers in pieces.
        let piece = 1 << 30
        for start in stride(from: 0, to: bytes.count, by: piece) {
            try check(MPI_Bcast(bytes.baseAddress! + start, Int32(min(piece, bytes.count - start)), lamina_mpi_byte(),
                                Int32(root), comm), "MPI_Bcast")
        }
    }

    /// `MPI_Barrier`.
    public func barrier() throws { try check(MPI_Barrier(comm), "MPI_Barrier") }

    /// Prints the rank and `message`, then `MPI_Abort`s the whole job.
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        MPI_Abort(comm, 1)
        exit(1)
    }
}
