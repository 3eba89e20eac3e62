import Testing
@testable import LaminaCore

@Suite struct TensorTests {
    @Test func createsAndReadsBack() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6] as [Float])
        #expect(x.shape == [2, 3] && x.dtype == .float32 && x.count == 6)
        #expect(x.asArray(Float.self) == [1, 2, 3, 4, 5, 6])
        #expect(x.sum().item(Float.self) == 21)
        let d = Tensor(shape: [2], scalars: [1.5, 2.5] as [Double])
        #expect(d.dtype == .float64)
        let labels = Tensor([3, 1, 4] as [Int32])
        #expect(labels.dtype == .int32 && labels.asArray(Int32.self) == [3, 1, 4])
    }

    @Test func nestedLiteralsGiveShapes() {
        let x: Tensor = [[1, 2, 3], [4, 5, 6]]
        #expect(x.shape == [2, 3] && x.asArray(Float.self) == [1, 2, 3, 4, 5, 6])
        let y = Tensor([[[1.5]], [[2.5]]], dtype: .float64)
        #expect(y.shape == [2, 1, 1] && y.asArray(Double.self) == [1.5, 2.5])
    }

    @Test func factories() {
        #expect(Tensor.zeros([2, 2]).asArray(Float.self) == [0, 0, 0, 0])
        #expect(Tensor.ones([3], dtype: .float64).asArray(Double.self) == [1, 1, 1])
        #expect(Tensor.full([2], value: 7, dtype: .int32).asArray(Int32.self) == [7, 7])
        #expect(Tensor.arange(0, 5).asArray(Float.self) == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(1, 2, step: 0.25, dtype: .float64).asArray(Double.self) == [1, 1.25, 1.5, 1.75])
        #expect(Tensor.linspace(0, 1, count: 5, dtype: .float64).asArray(Double.self) == [0, 0.25, 0.5, 0.75, 1])
    }

    @Test func seededRandomIsReproducibleAndHasTheRightMoments() {
        let a = Tensor.randomNormal([10_000], seed: 42), b = Tensor.randomNormal([10_000], seed: 42)
        #expect(a.asArray(Float.self) == b.asArray(Float.self))
        #expect(Swift.abs(a.mean().item(Float.self)) < 0.03)
        #expect(Swift.abs(a.square().mean().item(Float.self) - 1) < 0.05)
        let u = Tensor.randomUniform([10_000], lower: -2, upper: 2, seed: 1)
        #expect(u.min().item(Float.self) >= -2 && u.max().item(Float.self) < 2)
        #expect(Swift.abs(u.mean().item(Float.self)) < 0.05)
        GlobalRandom.seed(9)
        let c = Tensor.randomUniform([5])
        GlobalRandom.seed(9)
        #expect(Tensor.randomUniform([5]).asArray(Float.self) == c.asArray(Float.self))
    }

    @Test func castsBetweenDTypes() {
        let x: Tensor = [1.75, -2.25]
        #expect(x.cast(to: .float64).asArray(Double.self) == [1.75, -2.25])
        #expect(x.cast(to: .int32).asArray(Int32.self) == [1, -2])
        #expect(Tensor([3, 4] as [Int32]).cast(to: .float32).asArray(Float.self) == [3, 4])
    }

    @Test func copyOnWriteKeepsValuesIndependent() {
        let a: Tensor = [1, 2, 3]
        var b = a
        #expect(a.sharesStorage(with: b))
        b.withUnsafeMutableBuffer(as: Float.self) { $0[0] = 9 }
        #expect(a.asArray(Float.self) == [1, 2, 3] && b.asArray(Float.self) == [9, 2, 3])
        #expect(!a.sharesStorage(with: b))
        // A unique buffer is updated in place, without a copy.
        let before = b
        _ = consume before
        b.withUnsafeMutableBuffer(as: Float.self) { $0[1] = 8 }
        #expect(b.asArray(Float.self) == [9, 8, 3])
    }

    @Test func descriptionIsReadableAndElided() {
        let x: Tensor = [[1, 2], [3, 4]]
        #expect(x.description == "Tensor(shape: [2, 2], dtype: float32)\n[[1.0000, 2.0000],\n [3.0000, 4.0000]]")
        let big = Tensor.zeros([100, 100]).description
        #expect(big.contains("...") && big.count < 2000)
    }
}
