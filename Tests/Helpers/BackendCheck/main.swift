import Foundation
import LaminaCore

// Test helper for ComputeBackendTests, run as its own process so that restarting OpenBLAS
// cannot race with BLAS calls of other tests:
//   lamina-backend-check describe        prints the backend (the startup choice, as users get it)
//   lamina-backend-check restart CORE    restarts OpenBLAS with CORE's kernels, lets Lamina's
//                                        check run again, and checks a GEMM against a naive one
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

let arguments = CommandLine.arguments
switch arguments.count > 1 ? arguments[1] : "" {
case "describe":
    let b = ComputeBackend.current
    emit(["core": b.blasCore ?? "", "core_at_load": b.blasCoreAtLoad ?? "", "reason": b.blasCoreReason,
          "simd": b.simd, "simd_reason": b.simdReason, "gemm_error": gemmError()])
case "restart" where arguments.count > 2:
    _ = ComputeBackend.current  // the startup choice first, as in any process
    let (forced, reason) = BLASCoreChoice._restartForTesting(from: arguments[2])
    let after = ComputeBackend.current.blasCore ?? ""
    emit(["forced": forced ?? "", "core": after, "reason": reason, "gemm_error": gemmError()])
default:
    FileHandle.standardError.write(Data("usage: lamina-backend-check describe | restart CORE\n".utf8))
    exit(2)
}
