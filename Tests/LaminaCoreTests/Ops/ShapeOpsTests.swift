import Testing
import LaminaTestSupport
@testable import LaminaCore

@Suite struct ShapeOpsTests {
    let x: Tensor = [[1, 2, 3], [4, 5, 6]]

    @Test func reshapesShareStorage() {
        let r = x.reshaped(to: [3, -1])
        #expect(r.shape == [3, 2] && r.sharesStorage(with: x))
        #expect(x.flattened().shape == [6])
        #expect(x.expandingDims(axis: 1).shape == [2, 1, 3])
        #expect(x.expandingDims(axis: -1).shape == [2, 3, 1])
        #expect(x.expandingDims(axis: 0).squeezed(axis: 0).shape == [2, 3])
        #expect(Tensor.zeros([1, 3, 1]).squeezed().shape == [3])
    }

    @Test func transposesAndPermutes() {
        #expect(x.transposed().asArray(Float.self) == [1, 4, 2, 5, 3, 6])
        let y = Tensor.arange(0, 24).reshaped(to: [2, 3, 4])
        let p = y.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        let yv = y.asArray(Float.self), pv = p.asArray(Float.self)
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { #expect(pv[(k * 2 + i) * 3 + j] == yv[(i * 3 + j) * 4 + k]) } } }
        expectGradients([randn([2, 3, 4], seed: 1)]) { $0[0].permuted([1, 2, 0]) }
        expectGradients([randn([3, 5], seed: 2)]) { $0[0].transposed() }
        expectGradients([randn([3, 4], seed: 3)]) { $0[0].reshaped(to: [2, 6]).expandingDims(axis: 0).squeezed() }
    }

    @Test func slicesConcatenatesStacks() {
        #expect(x.sliced(axis: 1, 1..<3).asArray(Float.self) == [2, 3, 5, 6])
        #expect(x.sliced(axis: 0, 1..<2).asArray(Float.self) == [4, 5, 6])
        let c = Tensor.concatenated([x, x * 10], axis: 1)
        #expect(c.shape == [2, 6] && c.asArray(Float.self) == [1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60])
        let s = Tensor.stacked([x, x], axis: 1)
        #expect(s.shape == [2, 2, 3] && s.asArray(Float.self) == [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
        let a = randn([2, 5, 3], seed: 4), b = randn([2, 2, 3], seed: 5)
        expectGradients([a]) { $0[0].sliced(axis: 1, 1..<4) }
        expectGradients([a]) { $0[0].sliced(axis: 2, 2..<3) }
        expectGradients([a, b]) { Tensor.concatenated([$0[0], $0[1], $0[0]], axis: 1) }
        expectGradients([b, b * 2]) { Tensor.stacked([$0[0], $0[1]], axis: -1) }
    }

    @Test func gathersRowsAndPads() {
        #expect(x.gather(rows: [1, 1, 0]).asArray(Float.self) == [4, 5, 6, 4, 5, 6, 1, 2, 3])
        let p = x.padded(with: [(1, 0), (0, 2)], value: -1)
        #expect(p.shape == [3, 5])
        #expect(p.asArray(Float.self) == [-1, -1, -1, -1, -1, 1, 2, 3, -1, -1, 4, 5, 6, -1, -1])
        expectGradients([randn([4, 3], seed: 6)]) { $0[0].gather(rows: [3, 0, 3, 1]) }
        expectGradients([randn([2, 3, 2], seed: 7)]) { $0[0].padded(with: [(0, 1), (2, 1), (1, 0)]) }
    }

    @Test func outOfRangeGatherStops() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([3, 2]).gather(rows: [0, 3])
        }
    }
}
