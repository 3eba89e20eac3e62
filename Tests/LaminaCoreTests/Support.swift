import Foundation
import Testing
@testable import LaminaCore

/// Float64 normal values for gradient checks; `awayFromZero` keeps |x| ≥ 0.1 so kinks
/// (relu, abs, clip) are not straddled by the finite differences.
func randn(_ shape: [Int], seed: UInt64, awayFromZero: Bool = false) -> Tensor {
    var values = Tensor.randomNormal(shape, dtype: .float64, seed: seed).asArray(Double.self)
    if awayFromZero { values = values.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 } }
    return Tensor(shape: shape, scalars: values)
}

/// Expects autodiff to agree with central differences within `tolerance`.
func expectGradients(_ inputs: [Tensor], tolerance: Double = 1e-6,
                     sourceLocation: SourceLocation = #_sourceLocation,
                     _ f: @escaping ([Tensor]) -> Tensor) {
    let result = GradientCheck.run(at: inputs, f)
    #expect(result.maxRelativeError <= tolerance, "\(result)", sourceLocation: sourceLocation)
}

/// Expects equal shapes and elementwise |a − b| ≤ atol + rtol·|b|.
func expectClose(_ a: Tensor, _ b: Tensor, atol: Double = 1e-9, rtol: Double = 1e-9,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "shapes \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    guard a.shape == b.shape else { return }
    expectClose(a.scalarsAsDouble(), b.scalarsAsDouble(), atol: atol, rtol: rtol, sourceLocation: sourceLocation)
}

func expectClose(_ a: [Double], _ b: [Double], atol: Double = 1e-9, rtol: Double = 1e-9,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    var worst = 0.0, at = -1
    for (i, (x, y)) in zip(a, b).enumerated() {
        let excess = Swift.abs(x - y) - (atol + rtol * Swift.abs(y))
        if excess > worst || x.isNaN != y.isNaN { worst = Swift.max(excess, 1); at = i }
    }
    #expect(at < 0, "first mismatch at \(at): \(at >= 0 ? "\(a[at]) vs \(b[at])" : "")", sourceLocation: sourceLocation)
}

/// Naive references, independent of the kernels under test.
enum Reference {
    static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        return c
    }

    /// Direct NHWC convolution with explicit padding offsets.
    static func conv2d(_ x: Tensor, _ w: Tensor, stride: (Int, Int), outH: Int, outW: Int,
                       padTop: Int, padLeft: Int) -> Tensor {
        let (n, h, wd, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw, f) = (w.shape[0], w.shape[1], w.shape[3])
        let xv = x.scalarsAsDouble(), wv = w.scalarsAsDouble()
        var out = [Double](repeating: 0, count: n * outH * outW * f)
        for b in 0..<n { for oh in 0..<outH { for ow in 0..<outW { for o in 0..<f {
            var s = 0.0
            for i in 0..<kh { for j in 0..<kw {
                let ih = oh * stride.0 - padTop + i, iw = ow * stride.1 - padLeft + j
                guard ih >= 0, ih < h, iw >= 0, iw < wd else { continue }
                for ch in 0..<c { s += xv[((b * h + ih) * wd + iw) * c + ch] * wv[((i * kw + j) * c + ch) * f + o] }
            } }
            out[((b * outH + oh) * outW + ow) * f + o] = s
        } } } }
        return Tensor(shape: [n, outH, outW, f], scalars: out)
    }
}

/// Reads the NumPy fixture file kept beside the tests.
func fixtureURL(_ name: String, file: String = #filePath) -> URL {
    var url = URL(fileURLWithPath: file).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Fixtures").path) {
        url = url.deletingLastPathComponent()
    }
    return url.appendingPathComponent("Fixtures").appendingPathComponent(name)
}
