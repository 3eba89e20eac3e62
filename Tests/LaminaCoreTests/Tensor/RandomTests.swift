import Testing
@testable import LaminaCore

@Suite struct RandomTests {
    /// `randomNormal` computes Box–Muller on every core a block of draws at a time: its values
    /// must be the sequential `nextNormal` stream's, to the bit, across block boundaries, for
    /// every dtype (int32 truncates them), and the generator must end where the sequential draws
    /// leave it.
    @Test(arguments: [0, 1, 2047, 70_001])
    func normalDrawsEqualTheSequentialStream(count: Int) {
        for dtype in [DType.float32, .float64, .int32] {
            var fast = RandomGenerator(seed: 42), slow = RandomGenerator(seed: 42)
            let x = Tensor.randomNormal([count], mean: 0.5, stddev: 2, dtype: dtype, using: &fast)
            let expected = (0..<count).map { _ in 0.5 + 2 * slow.nextNormal() }
            switch dtype {
            case .float32: #expect(x.asArray(Float.self) == expected.map { Float($0) })
            case .float64: #expect(x.asArray(Double.self) == expected)
            case .int32: #expect(x.asArray(Int32.self) == expected.map { Int32($0) })  // truncated, as before
            }
            #expect(fast.next() == slow.next())
        }
    }

    @Test func normalDrawsHaveTheirMoments() {
        var rng = RandomGenerator(seed: 7)
        let x = Tensor.randomNormal([200_000], mean: 3, stddev: 0.5, using: &rng).asArray(Float.self).map(Double.init)
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
        // standard errors: 0.5 / sqrt(2e5) ≈ 0.0011 for the mean, ≈ 0.0008 for the variance
        #expect(abs(mean - 3) < 0.006 && abs(variance - 0.25) < 0.005)
    }
}
