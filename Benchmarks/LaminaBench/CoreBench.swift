import Foundation
import CLaminaBLAS
import Lamina
import LaminaData

/// Lamina's matmul against raw cblas_sgemm in the same process.
func benchGemm(sizes: [Int]) {
    for n in sizes {
        let a = Tensor.randomNormal([n, n], seed: 1), b = Tensor.randomNormal([n, n], seed: 2)
        let lamina = secondsPerCall { _ = withoutGradients { a.matmul(b) } }
        var c = [Float](repeating: 0, count: n * n)
        // The baseline is OpenBLAS as a C program would call it: its own threads, one per core.
        lamina_blas_set_threads(Int32(ProcessInfo.processInfo.activeProcessorCount))
        defer { lamina_blas_set_threads(1) }
        let raw = a.withUnsafeBuffer(as: Float.self) { pa in
            b.withUnsafeBuffer(as: Float.self) { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    secondsPerCall {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                                    pa.baseAddress, Int32(n), pb.baseAddress, Int32(n), 0, pc.baseAddress, Int32(n))
                    }
                }
            }
        }
        let flop = 2 * Double(n * n * n)
        emit(["workload": "gemm", "n": n, "gflops": flop / lamina / 1e9, "raw_sgemm_gflops": flop / raw / 1e9,
              "ratio_to_raw": raw / lamina])
    }
}

/// Elementwise add and relu on 4M floats, in GB/s of memory traffic (read + write).
func benchElementwise() {
    let n = 4 << 20
    let a = Tensor.randomNormal([n], seed: 3), b = Tensor.randomNormal([n], seed: 4)
    let add = secondsPerCall { _ = a + b }
    let relu = secondsPerCall { _ = a.relu() }
    emit(["workload": "elementwise", "op": "add", "elements": n, "gb_per_s": Double(3 * 4 * n) / add / 1e9])
    emit(["workload": "elementwise", "op": "relu", "elements": n, "gb_per_s": Double(2 * 4 * n) / relu / 1e9])
}

/// The LSTM workload's recurrence alone (28 steps, batch 128, 128 units: `lstmRecurrence`,
/// forward + backward through time), best of 5 batches: the part of the LSTM epoch that runs
/// step by step, timed apart from data and the input projection.
func benchRecurrent() {
    let (steps, batch, units) = (28, 128, 128)
    var xw = Tensor.randomNormal([steps, batch, 4 * units], seed: 9)
    var u = Tensor.randomNormal([units, 4 * units], stddev: 0.1, seed: 10)
    xw.requiresGrad = true
    u.requiresGrad = true
    let forward = secondsPerCall { _ = withoutGradients { xw.lstmRecurrence(recurrentKernel: u, returnSequences: false) } }
    let both = secondsPerCall {
        _ = xw.lstmRecurrence(recurrentKernel: u, returnSequences: false).sum().gradients(wrt: [xw, u])
    }
    // the step products (h·U forward, dz·Uᵀ back) and dU, in FLOPs
    let flop = 3 * 2 * Double(steps * batch * units * 4 * units)
    emit(["workload": "recurrent", "cell": "lstm", "steps": steps, "batch": batch, "units": units,
          "ms_forward": forward * 1e3, "ms_forward_backward": both * 1e3, "gemm_gflops_equivalent": flop / both / 1e9])
}

/// The MNIST CNN's two Conv2D layers, forward + backward at batch 128, with the sgemm
/// GFLOP/s of the same GEMM shapes for comparison.
func benchConv() {
    let layers: [(h: Int, c: Int, f: Int)] = [(28, 1, 32), (13, 32, 64)]
    for (h, c, f) in layers {
        let x = Tensor.randomNormal([128, h, h, c], seed: 5)
        var w = Tensor.randomNormal([3, 3, c, f], stddev: 0.1, seed: 6)
        w.requiresGrad = true
        var xg = x
        xg.requiresGrad = c > 1   // the first layer's input is data: no input gradient
        let seconds = secondsPerCall(rounds: 3) {
            let y = xg.conv2d(w)
            _ = y.sum().gradients(wrt: c > 1 ? [xg, w] : [w])
        }
        let forward = secondsPerCall(rounds: 3) { _ = xg.conv2d(w) }
        let inference = secondsPerCall(rounds: 3) { _ = withoutGradients { x.conv2d(w) } }
        let o = h - 2, m = 128 * o * o, k = 9 * c
        // forward GEMM + weight-gradient GEMM (+ input-gradient GEMM when needed)
        let gemms = c > 1 ? 3.0 : 2.0
        let flop = gemms * 2 * Double(m * k * f)
        // the same GEMM shapes through raw sgemm
        let cols = Tensor.randomNormal([m, k], seed: 7), kern = Tensor.randomNormal([k, f], seed: 8)
        let gemmSeconds = secondsPerCall(rounds: 3) { _ = withoutGradients { cols.matmul(kern) } }
        // The backward pass's GEMM shapes alone: dKernel = colsᵀ·dOut and dCols = dOut·Kᵀ.
        let (a, g, kw) = (cols.asArray(Float.self), Tensor.randomNormal([m, f], seed: 9).asArray(Float.self), kern.asArray(Float.self))
        var dKernel = [Float](repeating: 0, count: k * f), dCols = [Float](repeating: 0, count: m * k)
        let kernelGradient = secondsPerCall(rounds: 3) {
            Kernels.sgemm(transA: true, transB: false, m: k, n: f, k: m, a, lda: k, g, ldb: f, &dKernel, ldc: f)
        }
        let inputGradient = secondsPerCall(rounds: 3) {
            Kernels.sgemm(transA: false, transB: true, m: m, n: k, k: f, g, lda: f, kw, ldb: f, &dCols, ldc: k)
        }
        let gemm = 2 * Double(m * k * f) / 1e9
        emit(["workload": "conv", "layer": "\(h)x\(h)x\(c)->\(f)", "batch": 128,
              "gflops": flop / seconds / 1e9, "sgemm_gflops_same_shape": gemm / gemmSeconds,
              "sgemm_gflops_kernel_gradient": gemm / kernelGradient, "sgemm_gflops_input_gradient": gemm / inputGradient,
              "ms_forward_backward": seconds * 1e3, "ms_forward": forward * 1e3, "ms_forward_inference": inference * 1e3])
    }
}
