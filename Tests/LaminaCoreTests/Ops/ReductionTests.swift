import Testing
import LaminaTestSupport
@testable import LaminaCore

@Suite struct ReductionTests {
    @Test func reductionsMatchNumPy() {
        var checked = 0
        for c in ElementwiseTests.cases where ["sum", "mean", "max", "min"].contains(c.op) {
            let x = c.aTensor, keep = c.keepDims ?? false
            let out: Tensor
            switch c.op {
            case "sum": out = x.sum(axes: c.axes, keepDims: keep)
            case "mean": out = x.mean(axes: c.axes, keepDims: keep)
            case "max": out = x.max(axes: c.axes, keepDims: keep)
            default: out = x.min(axes: c.axes, keepDims: keep)
            }
            expectClose(out, c.expected, atol: 1e-12, rtol: 1e-12)
            checked += 1
        }
        #expect(checked == 20)
    }

    @Test(arguments: [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]])
    func reductionGradients(axes: [Int]) {
        let x = randn([3, 4, 2], seed: 11)
        expectGradients([x]) { $0[0].sum(axes: axes) }
        expectGradients([x]) { $0[0].mean(axes: axes, keepDims: true) }
        expectGradients([x]) { $0[0].max(axes: axes) }
        expectGradients([x]) { $0[0].min(axes: axes, keepDims: true) }
    }

    @Test func maxSharesGradientAmongTies() {
        var x = Tensor([1, 3, 3] as [Double])
        x.requiresGrad = true
        x.max().backward()
        #expect(x.grad!.asArray(Double.self) == [0, 0.5, 0.5])
    }

    @Test func argmax() {
        let x: Tensor = [[1, 9, 3], [7, 2, 7]]
        #expect(x.argmax(axis: 1).asArray(Int32.self) == [1, 0])
        #expect(x.argmax(axis: 0).asArray(Int32.self) == [1, 0, 1])
        #expect(x.argmax(axis: 0).dtype == .int32)
    }
}
