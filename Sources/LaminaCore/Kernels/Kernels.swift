import Foundation
import Dispatch
import CLaminaKernels

/// Raw loops and BLAS calls, with no autodiff. Ops in `Ops/` check shapes, call these and
/// record their VJP.
public enum Kernels {
    /// Work below this many elements runs on the calling thread; splitting it costs more
    /// than it saves.
    static let parallelThreshold = 1 << 16

    /// Runs `body(range)` over `0..<count` split into contiguous chunks across the cores
    /// (at most one chunk per core, none smaller than `grain`), and returns when all are done.
    /// The chunks run on Lamina's fork-join pool (`lamina_parallel_run`), whose workers spin
    /// briefly between jobs; a call from inside a chunk, or while another thread's loop holds
    /// the pool, runs on the calling thread.
    public static func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(ProcessInfoCache.cores, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            // The chunks write disjoint ranges; lamina_parallel_run returns after all of them.
            var job = ParallelJob(count: count, chunks: chunks, body: body)
            withUnsafeMutablePointer(to: &job) { pointer in
                lamina_parallel_run(chunks, ProcessInfoCache.cores - 1, { context, chunk in
                    let job = context!.assumingMemoryBound(to: ParallelJob.self)
                    let (count, chunks) = (job.pointee.count, job.pointee.chunks)
                    let lo = count * chunk / chunks, hi = count * (chunk + 1) / chunks
                    if lo < hi { job.pointee.body(lo..<hi) }
                }, pointer)
            }
        }
    }
}

/// What the pool's C callback needs to run one chunk of a `parallelFor`.
private struct ParallelJob {
    let count: Int, chunks: Int
    let body: (Range<Int>) -> Void
}

enum ProcessInfoCache {
    static let cores: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}
