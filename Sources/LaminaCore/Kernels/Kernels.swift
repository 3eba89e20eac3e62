import Foundation
import Dispatch
import CLaminaKernels

/// Raw loops and BLAS calls, with no autodiff. Ops in `Ops/` check shapes, call these and
/// record their VJP.
public enum Kernels {
    // MARK: - Thresholds (grains and cut-offs of the kernels, in one place)

    /// Work below this many elements runs on the calling thread; splitting it costs more
    /// than it saves.
    static let parallelThreshold = 1 << 16

    /// Inference convolutions work through chunks of images whose patch rows and outputs take
    /// about this many bytes, so they stay in a core's L2 cache between the convolution, its
    /// ReLU and a following max pooling.
    static let inferenceChunkBytes = 1 << 19

    /// ... but a chunk whose convolution is a product has at least this many rows (pixels ×
    /// images), so each pass over the packed kernel does enough work (ResNet50's last stage has
    /// 3×3 pixels and a 4608×512 kernel).
    static let inferenceMinRows = 96

    /// Convolutions by Winograd F(4×4, 3×3) need at least this many output pixels (images ×
    /// outH × outW) per call; see `usesWinograd`.
    static let winogradMinPixels = 1024

    /// ... and a chunk of Winograd's at least this many 4×4 tiles (the rows of its 36 products,
    /// each streaming its C×F matrix of the transformed kernel). Zen 4, three runs each:
    /// ResNet50's predict at batch 32 (96×96) took 0.24 s at 24, 0.24-0.25 s at 96, 0.26 s
    /// without a minimum and 0.28 s without Winograd; the MNIST convnet's batch-1000 predict
    /// was level at 1 to 96.
    static let winogradMinTiles = 24

    /// Convolutions whose patch rows are at most this long (kH·kW·C: the MNIST convnet's first
    /// layer has 9) run as a direct loop instead of im2col + GEMM. Unfolding such thin patches
    /// costs more memory traffic than the GEMM saves, while a direct kernel keeps the filters'
    /// accumulators in vector registers.
    static let directConvMaxTaps = 32

    /// Products below this many multiply-adds run on the calling thread.
    static let gemmParallelThreshold = 1 << 20

    /// Batch rows per core in the LSTM recurrence: all rows on one core unless each core gets
    /// at least `lstmMinRowWork` multiply-adds per step (the per-step GEMM dominates).
    static let lstmMinRowWork = 1 << 18

    // MARK: - Parallel loops

    /// Runs `body(range)` over `0..<count` split into contiguous chunks across the cores
    /// (at most one chunk per core, none smaller than `grain`), and returns when all are done.
    /// The chunks run on Lamina's fork-join pool (`lamina_parallel_run`), whose workers spin
    /// briefly between jobs; a call from inside a chunk, or while another thread's loop holds
    /// the pool, runs on the calling thread.
    public static func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(ThreadCount.current, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            // The chunks write disjoint ranges; lamina_parallel_run returns after all of them.
            var job = ParallelJob(count: count, chunks: chunks, body: body)
            withUnsafeMutablePointer(to: &job) { pointer in
                lamina_parallel_run(chunks, ThreadCount.current - 1, { context, chunk in
                    let job = context!.assumingMemoryBound(to: ParallelJob.self)
                    let (count, chunks) = (job.pointee.count, job.pointee.chunks)
                    let lo = count * chunk / chunks, hi = count * (chunk + 1) / chunks
                    if lo < hi { job.pointee.body(lo..<hi) }
                }, pointer)
            }
        }
    }
}

extension Kernels {
    /// The strided walk over a shape, row by row (the last dimension is a row): calls
    /// `body(row, a, b)` for each row with the offsets of its first element in two operands
    /// laid out with `aStrides` and `bStrides` (element strides per dimension; 0 repeats a
    /// dimension, as broadcasting does). Broadcasting binary ops, permutes and reductions all
    /// walk their operands with it.
    @inline(__always)
    static func forEachRow(_ shape: [Int], _ aStrides: [Int], _ bStrides: [Int], _ body: (_ row: Int, _ a: Int, _ b: Int) -> Void) {
        let rank = shape.count
        if rank == 0 { body(0, 0, 0); return }
        let rows = Shape.count(shape) / Swift.max(shape[rank - 1], 1)
        if Shape.count(shape) == 0 { return }
        var index = [Int](repeating: 0, count: rank)
        var ia = 0, ib = 0
        for row in 0..<rows {
            body(row, ia, ib)
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                ia += aStrides[d]; ib += bStrides[d]
                if index[d] < shape[d] { break }
                ia -= aStrides[d] * shape[d]; ib -= bStrides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

/// What the pool's C callback needs to run one chunk of a `parallelFor`.
private struct ParallelJob {
    let count: Int, chunks: Int
    let body: (Range<Int>) -> Void
}

