import Testing
import LaminaTestSupport
@testable import LaminaCore

@Suite struct PoolingTests {
    /// Direct pooling reference over the valid positions of each window.
    func reference(_ x: Tensor, _ g: WindowGeometry, max: Bool) -> [Double] {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let v = x.scalarsAsDouble()
        var out: [Double] = []
        for b in 0..<n { for oh in 0..<g.outH { for ow in 0..<g.outW { for ch in 0..<c {
            var window: [Double] = []
            for i in 0..<g.kH { for j in 0..<g.kW {
                let ih = oh * g.strideH - g.padTop + i, iw = ow * g.strideW - g.padLeft + j
                if ih >= 0 && ih < h && iw >= 0 && iw < w { window.append(v[((b * h + ih) * w + iw) * c + ch]) }
            } }
            out.append(max ? window.max()! : window.reduce(0, +) / Double(window.count))
        } } } }
        return out
    }

    @Test(arguments: [((2, 2), (2, 2), Padding.valid), ((3, 3), (2, 2), .valid), ((3, 2), (1, 2), .same), ((2, 2), (2, 2), .same)])
    func matchesReference(pool: (Int, Int), strides: (Int, Int), padding: Padding) {
        let x = randn([2, 7, 5, 3], seed: 1)
        let g = WindowGeometry(inH: 7, inW: 5, kH: pool.0, kW: pool.1, strideH: strides.0, strideW: strides.1, padding: padding)
        let mp = x.maxPool2d(poolSize: pool, strides: strides, padding: padding)
        #expect(mp.shape == [2, g.outH, g.outW, 3])
        expectClose(mp.asArray(Double.self), reference(x, g, max: true), atol: 1e-9, rtol: 1e-9)
        expectClose(x.avgPool2d(poolSize: pool, strides: strides, padding: padding).asArray(Double.self),
                    reference(x, g, max: false), atol: 1e-12, rtol: 1e-9)
    }

    @Test func gradientsWithOverlappingWindows() {
        let x = randn([2, 6, 5, 2], seed: 2)
        expectGradients([x]) { $0[0].maxPool2d(poolSize: (3, 3), strides: (2, 1)) }
        expectGradients([x]) { $0[0].avgPool2d(poolSize: (3, 3), strides: (2, 1)) }
        expectGradients([x]) { $0[0].maxPool2d(poolSize: (2, 3), strides: (2, 2), padding: .same) }
        expectGradients([x]) { $0[0].avgPool2d(poolSize: (2, 3), strides: (2, 2), padding: .same) }
    }

    @Test func upsamplingRepeatsAndSumsBack() {
        let x = Tensor([[[[1, 10], [2, 20]]]], dtype: .float32)   // [1, 1, 2, 2]
        let u = x.upsampling2d(size: (2, 3))
        #expect(u.shape == [1, 2, 6, 2])
        #expect(u.asArray(Float.self) == [1, 10, 1, 10, 1, 10, 2, 20, 2, 20, 2, 20,
                                          1, 10, 1, 10, 1, 10, 2, 20, 2, 20, 2, 20])
        expectGradients([randn([2, 3, 2, 2], seed: 3)]) { $0[0].upsampling2d(size: (2, 2)) }
    }
}
