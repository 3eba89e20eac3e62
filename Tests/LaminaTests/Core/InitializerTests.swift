import Testing
@testable import Lamina

@Suite struct InitializerTests {
    func moments(_ t: Tensor) -> (mean: Double, variance: Double) {
        let v = t.scalarsAsDouble()
        let m = v.reduce(0, +) / Double(v.count)
        return (m, v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count))
    }

    @Test func varianceScalingMatchesKerasFormulas() {
        // glorot_uniform on a conv kernel (3, 3, 16, 32): limit √(6/(fan_in+fan_out)), fans × 9.
        let k = Initializer(.glorotUniform, seed: 1).make([3, 3, 16, 32])
        let limit = (6.0 / Double(9 * 16 + 9 * 32)).squareRoot()
        let values = k.scalarsAsDouble()
        #expect(values.allSatisfy { Swift.abs($0) <= limit } && values.max()! > 0.95 * limit)
        // he_normal: variance 2/fan_in (truncated normal with Keras's correction).
        let he = moments(Initializer(.heNormal, seed: 2).make([400, 300]))
        #expect(Swift.abs(he.variance / (2.0 / 400) - 1) < 0.05)
        let lecun = moments(Initializer(.lecunNormal, seed: 3).make([500, 200]))
        #expect(Swift.abs(lecun.variance / (1.0 / 500) - 1) < 0.05)
        let normal = moments(Initializer.randomNormal(mean: 1, stddev: 0.5, seed: 4).make([100, 100]))
        #expect(Swift.abs(normal.mean - 1) < 0.02 && Swift.abs(normal.variance - 0.25) < 0.02)
    }

    @Test func orthogonalHasOrthonormalRowsOrColumns() {
        for shape in [[6, 6], [8, 3], [3, 8]] {
            let w = Initializer.orthogonal.make(shape, dtype: .float64)
            let gram = shape[0] >= shape[1] ? w.transposed().matmul(w) : w.matmul(w.transposed())
            let n = min(shape[0], shape[1])
            let identity = Tensor(shape: [n, n], scalars: (0..<n * n).map { $0 % (n + 1) == 0 ? 1.0 : 0.0 })
            #expect((gram - identity).abs().max().item(Double.self) < 1e-12, "\(shape)")
        }
    }

    @Test func lstmStartsWithForgetBiasOne() throws {
        let lstm = LSTM(3)
        try lstm.buildIfNeeded([5, 2])
        #expect(lstm.bias!.value.asArray(Float.self) == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
        #expect(lstm.getWeights().map(\.shape) == [[2, 12], [3, 12], [12]])
    }
}
