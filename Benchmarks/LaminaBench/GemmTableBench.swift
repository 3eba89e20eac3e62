import Foundation
import Lamina

/// `gemm-table`: Lamina's own float32 GEMM against the BLAS over the products of Lamina's
/// models, one JSON line per shape and thread count. The record names the BLAS core loaded (run
/// it once per core: `OPENBLAS_CORETYPE=Haswell lamina-bench --workloads gemm-table`). One
/// thread is timed in thread CPU time (less disturbed by other processes on a shared machine),
/// all threads in wall time; both the best of 5 batches.
func benchGemmTable() throws {
    // (name, transA, transB, m, n, k)
    let shapes: [(String, Bool, Bool, Int, Int, Int)] = [
        ("mlp dense1 forward", false, false, 128, 128, 784),
        ("mlp dense1 dX", false, true, 128, 784, 128),
        ("mlp dense1 dW", true, false, 784, 128, 128),
        ("mlp dense2 forward (n=10)", false, false, 128, 10, 128),
        ("mlp dense2 dX", false, true, 128, 128, 10),
        ("mlp dense2 dW (n=10)", true, false, 128, 10, 128),
        ("batch-1 dense", false, false, 1, 128, 784),
        ("batch-1 head (n=10)", false, false, 1, 10, 128),
        ("batch-4 dense", false, false, 4, 128, 784),
        ("cnn conv2 im2col forward", false, false, 15488, 64, 288),
        ("cnn conv2 dCols", false, true, 15488, 288, 64),
        ("cnn conv2 dW", true, false, 288, 64, 15488),
        ("cnn dense forward", false, false, 128, 128, 1600),
        ("cnn dense dX", false, true, 128, 1600, 128),
        ("cnn dense dW", true, false, 1600, 128, 128),
        ("cnn predict dense (batch 1000)", false, false, 1000, 128, 1600),
        ("cnn predict conv2 (batch 1000)", false, false, 121000, 64, 288),
        ("lstm input gates", false, false, 128, 512, 28),
        ("lstm recurrent gates", false, false, 128, 512, 128),
        ("lstm dH", false, true, 128, 128, 512),
        ("lstm dWh", true, false, 128, 512, 128),
        ("lstm dWx", true, false, 28, 512, 128),
        ("gan g dense1", false, false, 64, 256, 100),
        ("gan g dense2", false, false, 64, 512, 256),
        ("gan g dense3", false, false, 64, 784, 512),
        ("gan d dense1", false, false, 128, 512, 784),
        ("gan d dense1 dX", false, true, 128, 784, 512),
        ("gan d dense1 dW", true, false, 784, 512, 128),
        ("gan d head (n=1)", false, false, 128, 1, 256),
        ("small batch 8", false, false, 8, 512, 128),
        ("small batch 16", false, false, 16, 512, 784),
        ("resnet 3x3x64 conv (24x24, batch 4)", false, false, 2304, 64, 576),
        ("resnet 3x3x128 conv (12x12, batch 4)", false, false, 576, 128, 1152),
        ("resnet 3x3x256 conv (6x6, batch 4)", false, false, 144, 256, 2304),
        ("resnet fc (batch 32)", false, false, 32, 1000, 2048),
        ("transposed both", true, true, 300, 200, 100),
        ("square 128", false, false, 128, 128, 128),
        ("square 256", false, false, 256, 256, 256),
        ("square 512", false, false, 512, 512, 512),
        ("square 1024", false, false, 1024, 1024, 1024),
        ("square 2048", false, false, 2048, 2048, 2048),
    ]
    let allThreads = ThreadCount.current
    let engineBefore = GemmChoice.current
    defer { GemmChoice.set(engineBefore); try? ThreadCount.set(allThreads) }
    for (name, ta, tb, m, n, k) in shapes {
        let a = (0..<(m * k)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
        let b = (0..<(k * n)).map { Float(($0 * 104_729) % 1000) / 1000 - 0.5 }
        var c = [Float](repeating: 0, count: m * n)
        let lda = ta ? m : k, ldb = tb ? k : n
        let flop = 2 * Double(m) * Double(n) * Double(k)
        for threads in Array(Set([1, allThreads])).sorted() {
            try ThreadCount.set(threads)
            var gflops: [String: Double] = [:]
            for engine in [GemmEngine.own, .blas] {
                GemmChoice.set(engine)
                let seconds = a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            secondsPerCall(rounds: 5, minBatch: 0.05, clock: threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC) {
                                Kernels.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, pa.baseAddress!, lda: lda,
                                              pb.baseAddress!, ldb: ldb, pc.baseAddress!, ldc: n)
                            }
                        }
                    }
                }
                gflops[engine.rawValue] = flop / seconds / 1e9
            }
            GemmChoice.set(.auto)
            let auto = GemmChoice.autoRunsOwn(m: m, n: n, k: k)
            emit(["workload": "gemm-table", "shape": name, "trans": (ta ? "T" : "N") + (tb ? "T" : "N"),
                  "m": m, "n": n, "k": k, "gemm_threads": threads, "clock": threads == 1 ? "thread cpu" : "wall",
                  "own_gflops": rounded(gflops["own"]!, 1), "blas_gflops": rounded(gflops["blas"]!, 1),
                  "own_over_blas": rounded(gflops["own"]! / gflops["blas"]!, 2), "auto_runs": auto ? "own" : "blas"])
        }
    }
}
