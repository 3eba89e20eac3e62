import Foundation
import LaminaCore

// Test helper for ComputeBackendTests, run as its own process so that restarting OpenBLAS
// cannot race with BLAS calls of other tests:
//   lamina-backend-check describe        prints the backend (the startup choice, as users get it)
//   lamina-backend-check restart CORE    restarts OpenBLAS with CORE's kernels, lets Lamina's
//                                        check run again, and checks a GEMM against a naive one
//   lamina-backend-check train           a few float32 SGD steps of a small convnet and LSTM through
//                                        every SIMD kernel (run under each LAMINA_SIMD level)
// Output: one JSON object.

func emit(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Largest relative error of a 257×129·129×131 float32 matmul (through the BLAS) against a
/// double-precision loop.
func gemmError() -> Double {
    let (m, k, n) = (257, 129, 131)
    let a = Tensor.randomNormal([m, k], seed: 1), b = Tensor.randomNormal([k, n], seed: 2)
    let c = a.matmul(b).asArray(Float.self)
    let pa = a.asArray(Float.self), pb = b.asArray(Float.self)
    var worst = 0.0
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0, mag = 0.0
            for p in 0..<k { s += Double(pa[i * k + p]) * Double(pb[p * n + j]); mag += Swift.abs(Double(pa[i * k + p]) * Double(pb[p * n + j])) }
            worst = Swift.max(worst, Swift.abs(Double(c[i * n + j]) - s) / mag)
        }
    }
    return worst
}

/// Losses of 5 SGD steps of conv (direct) → max pool → conv (im2col) → max pool → dense, and of
/// an LSTM → dense, on fixed random data; then inference outputs (the fused conv + pool path).
func trainLosses() -> [Double] {
    let x = Tensor.randomNormal([16, 12, 12, 1], seed: 3)
    var w1 = Tensor.randomNormal([3, 3, 1, 16], stddev: 0.3, seed: 4), b1 = Tensor.zeros([16])
    var w2 = Tensor.randomNormal([3, 3, 16, 8], stddev: 0.1, seed: 5), b2 = Tensor.zeros([8])
    var wd = Tensor.randomNormal([32, 4], stddev: 0.2, seed: 6), bd = Tensor.zeros([4])
    let seq = Tensor.randomNormal([16, 7, 5], seed: 7)
    var wx = Tensor.randomNormal([5, 32], stddev: 0.3, seed: 8), wu = Tensor.randomNormal([8, 32], stddev: 0.3, seed: 9)
    let target = Tensor.randomNormal([16, 4], seed: 10)
    var losses: [Double] = []
    for _ in 0..<5 {
        w1.requiresGrad = true; b1.requiresGrad = true; w2.requiresGrad = true; b2.requiresGrad = true
        wd.requiresGrad = true; bd.requiresGrad = true; wx.requiresGrad = true; wu.requiresGrad = true
        let h1 = x.conv2d(w1, bias: b1, fusedReLU: true).maxPool2d(poolSize: (2, 2))        // [16, 5, 5, 16]
        let h2 = h1.conv2d(w2, bias: b2, padding: .same, fusedReLU: true).maxPool2d(poolSize: (2, 2))  // [16, 2, 2, 8]
        let convOut = h2.reshaped(to: [16, 32]).matmul(wd, bias: bd)
        let h = seq.permuted([1, 0, 2]).matmul(wx).lstmRecurrence(recurrentKernel: wu, returnSequences: false)  // [16, 8]
        let out = convOut.softmax() + h.matmul(wd.sliced(axis: 0, 0..<8))
        let loss = (out - target).square().mean()
        losses.append(Double(loss.item(Float.self)))
        let grads = loss.gradients(wrt: [w1, b1, w2, b2, wd, bd, wx, wu])
        func step(_ w: Tensor, _ g: Tensor) -> Tensor { (w.detached() - g * 0.1).detached() }
        (w1, b1, w2, b2) = (step(w1, grads[0]), step(b1, grads[1]), step(w2, grads[2]), step(b2, grads[3]))
        (wd, bd, wx, wu) = (step(wd, grads[4]), step(bd, grads[5]), step(wx, grads[6]), step(wu, grads[7]))
    }
    let inference = withoutGradients {
        x.conv2dMaxPool(w1, bias: b1, fusedReLU: true, poolSize: (2, 2))
            .conv2dMaxPool(w2, bias: b2, padding: .same, fusedReLU: true, poolSize: (2, 2))
    }
    return losses + inference.scalarsAsDouble()
}

/// GFLOP/s of 1024² matmuls through Lamina (best of 3), for the record only.
nonisolated(unsafe) var lastForcedSpeed = 0.0
func gemmSpeed() -> Double {
    let a = Tensor.randomNormal([1024, 1024], seed: 1), b = Tensor.randomNormal([1024, 1024], seed: 2)
    var best = Double.infinity
    for _ in 0..<3 {
        let t = Date()
        _ = withoutGradients { a.matmul(b) }
        best = Swift.min(best, Date().timeIntervalSince(t))
    }
    lastForcedSpeed = 2 * 1024 * 1024 * 1024 / best / 1e9
    return lastForcedSpeed
}

let arguments = CommandLine.arguments
switch arguments.count > 1 ? arguments[1] : "" {
case "describe":
    let b = ComputeBackend.current
    emit(["core": b.blasCore ?? "", "core_at_load": b.blasCoreAtLoad ?? "", "reason": b.blasCoreReason,
          "simd": b.simd, "simd_reason": b.simdReason, "gemm_error": gemmError()])
case "restart" where arguments.count > 2:
    _ = ComputeBackend.current  // the startup choice first, as in any process
    let (forced, reason) = BLASCoreChoice._restartForTesting(from: arguments[2], between: { _ = gemmSpeed() })
    let after = ComputeBackend.current.blasCore ?? ""
    emit(["forced": forced ?? "", "core": after, "reason": reason, "gemm_error": gemmError(),
          "gflops_forced": lastForcedSpeed, "gflops_restored": gemmSpeed()])
case "train":
    emit(["simd": ComputeBackend.current.simd, "values": trainLosses()])
default:
    FileHandle.standardError.write(Data("usage: lamina-backend-check describe | restart CORE | train\n".utf8))
    exit(2)
}
