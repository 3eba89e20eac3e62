import Testing
import LaminaTestSupport
@testable import LaminaCore

@Suite struct SoftmaxTests {
    @Test func matchesNumPyIncludingExtremeLogits() {
        var checked = 0
        for c in ElementwiseTests.cases where c.op == "softmax" || c.op == "logSoftmax" {
            let x = c.aTensor, axis = c.axis!
            let out = c.op == "softmax" ? x.softmax(axis: axis) : x.logSoftmax(axis: axis)
            expectClose(out, c.expected, atol: 1e-12, rtol: 1e-12)
            let out32 = c.op == "softmax" ? x.cast(to: .float32).softmax(axis: axis) : x.cast(to: .float32).logSoftmax(axis: axis)
            #expect(out32.asArray(Float.self).allSatisfy { $0.isFinite })
            expectClose(out32, c.expected, atol: 1e-4, rtol: 1e-5)
            checked += 1
        }
        #expect(checked == 6)
    }

    @Test func logitsOfPlusMinus1000AreStable() {
        let x = Tensor([[1000, -1000, 0], [-1000, -1000, -1000]], dtype: .float32)
        let p = x.softmax().asArray(Float.self)
        #expect(p[0...2] == [1, 0, 0])
        #expect(p[3...5].allSatisfy { Swift.abs($0 - 1.0 / 3) < 1e-6 })
        let lp = x.logSoftmax().asArray(Float.self)
        #expect(lp[0] == 0 && lp[1] == -2000 && lp[2] == -1000)
    }

    @Test(arguments: [0, 1, -1])
    func gradients(axis: Int) {
        let x = randn([3, 4, 2], seed: 21)
        expectGradients([x]) { $0[0].softmax(axis: axis) }
        expectGradients([x]) { $0[0].logSoftmax(axis: axis) }
    }

    @Test func gradientsAtExtremeLogits() {
        let x = randn([2, 5], seed: 22) * 1000
        expectGradients([x]) { $0[0].softmax() }
        expectGradients([x]) { $0[0].logSoftmax() }
    }
}
