import Foundation
import Dispatch

/// Raw loops and BLAS calls, with no autodiff. Ops in `Ops/` check shapes, call these and
/// record their VJP.
public enum Kernels {
    /// Work below this many elements runs on the calling thread; splitting it costs more
    /// than it saves.
    static let parallelThreshold = 1 << 16

    /// Runs `body(range)` over `0..<count` split into contiguous chunks across the cores
    /// (at most one chunk per core, none smaller than `grain`), and returns when all are done.
    public static func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(ProcessInfoCache.cores, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            // The chunks write disjoint ranges; concurrentPerform returns after all of them.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks, hi = count * (c + 1) / chunks
                if lo < hi { body(lo..<hi) }
            }
        }
    }
}

enum ProcessInfoCache {
    static let cores: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}
