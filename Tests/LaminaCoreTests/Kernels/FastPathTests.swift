import Testing
import LaminaTestSupport
@testable import LaminaCore

/// The contiguous fast paths (tensor ⊙ scalar on the SIMD kernel, reversal and image flips as
/// copies) against element-by-element references: bit-identical values, and their gradients.
@Suite struct FastPathTests {
    /// Values with a non-multiple-of-vector length, signs, zeros and awkward magnitudes.
    static let values: [Float] = (0..<37).map { i in
        let v = Float(i - 18) * 0.731 + (i % 5 == 0 ? 0 : 1e-3 * Float(i * i))
        return i == 7 ? 0 : i == 11 ? 3.0e38 : i == 13 ? -1.0e-30 : v
    }

    @Test func tensorScalarOpsAreElementExact() {
        let x = Tensor(shape: [37], scalars: Self.values)
        let xs = Self.values
        for s: Float in [1.0 / 255, -3.5, 0.1, 7] {
            let t = Tensor.scalar(Double(s))   // Float(Double(s)) == s for these
            #expect((x + t).asArray(Float.self) == xs.map { $0 + s })
            #expect((t + x).asArray(Float.self) == xs.map { s + $0 })
            #expect((x - t).asArray(Float.self) == xs.map { $0 - s })
            #expect((t - x).asArray(Float.self) == xs.map { s - $0 })
            #expect((x * t).asArray(Float.self) == xs.map { $0 * s })
            #expect((t * x).asArray(Float.self) == xs.map { s * $0 })
            #expect((x / t).asArray(Float.self) == xs.map { $0 / s })
            #expect((t / x).asArray(Float.self).map(\.bitPattern) == xs.map { (s / $0).bitPattern })   // s / 0 = ±inf
        }
        // A one-element operand of higher rank broadcasts too, keeping the larger shape.
        let m = Tensor(shape: [1, 37], scalars: Self.values) * Tensor(shape: [1, 1], scalars: [Float(2.5)])
        #expect(m.shape == [1, 37] && m.asArray(Float.self) == xs.map { $0 * 2.5 })
        // Large enough to split across threads.
        let big = Tensor(shape: [3, 70_001], scalars: (0..<210_003).map { Float($0 % 1000) * 0.37 })
        #expect((big * (1.0 / 255)).asArray(Float.self) == big.asArray(Float.self).map { $0 * Float(1.0 / 255) })
        // Gradients are unchanged: d(x·s)/dx = s, d(s/x)/dx = −s/x².
        let g = gradient(of: { ($0 * 3).sum() }, at: Tensor(shape: [3], scalars: [Float(1), 2, 4]))
        #expect(g.asArray(Float.self) == [3, 3, 3])
        let h = gradient(of: { (2 / $0).sum() }, at: Tensor(shape: [3], scalars: [Float(1), 2, 4]))
        #expect(h.asArray(Float.self) == [-2, -0.5, -0.125])
    }

    /// reversed(axis:) against the index formula on every axis, float32 and float64.
    @Test func reversedMatchesIndexFormula() {
        let shape = [2, 3, 4, 5]
        let n = shape.reduce(1, *)
        let x = Tensor(shape: shape, scalars: (0..<n).map { Float($0) })
        let strides = [60, 20, 5, 1]
        for axis in 0..<4 {
            let r = x.reversed(axis: axis).asArray(Float.self)
            var expected = [Float](repeating: 0, count: n)
            for i in 0..<n {
                var rest = i, src = 0
                for d in 0..<4 {
                    let c = rest / strides[d]; rest %= strides[d]
                    src += (d == axis ? shape[d] - 1 - c : c) * strides[d]
                }
                expected[i] = Float(src)
            }
            #expect(r == expected, "axis \(axis)")
            #expect(x.cast(to: .float64).reversed(axis: axis).asArray(Double.self) == expected.map(Double.init))
        }
        #expect(x.reversed(axis: -1).asArray(Float.self) == x.reversed(axis: 3).asArray(Float.self))
        // Its gradient is the seed reversed.
        let seed = Tensor(shape: [2, 3], scalars: [Float(1), 2, 3, 4, 5, 6])
        var leaf = Tensor.zeros([2, 3])
        leaf.requiresGrad = true
        let g = leaf.reversed(axis: 1).gradients(wrt: [leaf], seed: seed)[0]
        #expect(g.asArray(Float.self) == [3, 2, 1, 6, 5, 4])
    }

    /// flippingImages flips exactly the chosen images, on either or both axes, and is its own adjoint.
    @Test func flippingImagesFlipsChosenImages() {
        for channels in [1, 3, 2] {
            let shape = [3, 2, 3, channels]
            let n = shape.reduce(1, *)
            let x = Tensor(shape: shape, scalars: (0..<n).map { Float($0) })
            let v = x.asArray(Float.self)
            func at(_ k: Int, _ r: Int, _ c: Int, _ ch: Int) -> Float { v[((k * 2 + r) * 3 + c) * channels + ch] }
            for (h, vert) in [(true, false), (false, true), (true, true)] {
                let flips = [true, false, true]
                let out = x.flippingImages(flips, horizontal: h, vertical: vert).asArray(Float.self)
                var expected: [Float] = []
                for k in 0..<3 { for r in 0..<2 { for c in 0..<3 { for ch in 0..<channels {
                    let f = flips[k]
                    expected.append(at(k, f && vert ? 1 - r : r, f && h ? 2 - c : c, ch))
                } } } }
                #expect(out == expected, "channels \(channels), horizontal \(h), vertical \(vert)")
            }
        }
        var leaf = Tensor.zeros([2, 1, 2, 1])
        leaf.requiresGrad = true
        let seed = Tensor(shape: [2, 1, 2, 1], scalars: [Float(1), 2, 3, 4])
        let g = leaf.flippingImages([false, true], horizontal: true, vertical: false).gradients(wrt: [leaf], seed: seed)[0]
        #expect(g.asArray(Float.self) == [1, 2, 4, 3])
    }
}
