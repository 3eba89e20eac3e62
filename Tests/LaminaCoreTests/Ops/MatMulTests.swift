import Testing
import LaminaTestSupport
@testable import LaminaCore

@Suite struct MatMulTests {
    @Test(arguments: [(1, 1, 1), (3, 4, 5), (17, 33, 9), (64, 1, 31)])
    func matchesTripleLoop(m: Int, k: Int, n: Int) {
        let a = randn([m, k], seed: 1), b = randn([k, n], seed: 2)
        let expected = Reference.matmul(a.asArray(Double.self), b.asArray(Double.self), m: m, k: k, n: n)
        expectClose(a.matmul(b).asArray(Double.self), expected, atol: 1e-12, rtol: 1e-12)
        let c32 = a.cast(to: .float32).matmul(b.cast(to: .float32))
        expectClose(c32.scalarsAsDouble(), expected, atol: 1e-4, rtol: 1e-4)
    }

    @Test func batchedAndSequenceForms() {
        let a = randn([2, 3, 4], seed: 3), b = randn([2, 4, 5], seed: 4), w = randn([4, 5], seed: 5)
        let batched = a.matmul(b)
        for i in 0..<2 {
            let expected = Reference.matmul(a.sliced(axis: 0, i..<i + 1).asArray(Double.self),
                                            b.sliced(axis: 0, i..<i + 1).asArray(Double.self), m: 3, k: 4, n: 5)
            expectClose(batched.sliced(axis: 0, i..<i + 1).asArray(Double.self), expected, atol: 1e-12, rtol: 1e-9)
        }
        let seq = a.matmul(w)
        #expect(seq.shape == [2, 3, 5])
        expectClose(seq.reshaped(to: [6, 5]).asArray(Double.self),
                    Reference.matmul(a.asArray(Double.self), w.asArray(Double.self), m: 6, k: 4, n: 5), atol: 1e-12, rtol: 1e-9)
    }

    @Test func gradients() {
        expectGradients([randn([3, 4], seed: 6), randn([4, 2], seed: 7)]) { $0[0].matmul($0[1]) }
        expectGradients([randn([2, 3, 4], seed: 8), randn([2, 4, 2], seed: 9)]) { $0[0].matmul($0[1]) }
        expectGradients([randn([2, 3, 4], seed: 10), randn([4, 2], seed: 11)]) { $0[0].matmul($0[1]) }
    }

    @Test func innerDimensionMismatchStops() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([32, 784]).matmul(Tensor.zeros([128, 10]))
        }
    }
}

@Suite struct ParallelGemmTests {
    /// Products above the threshold are split across cores, by rows when C is tall and by
    /// columns when it is wide; both, and the transposed forms the VJP uses, must agree with
    /// the triple loop.
    @Test(arguments: [(300, 70, 64), (40, 100, 400)])
    func splitProductsAndTheirGradientsMatch(m: Int, k: Int, n: Int) {
        var a = randn([m, k], seed: 31), b = randn([k, n], seed: 32)
        let av = a.asArray(Double.self), bv = b.asArray(Double.self)
        expectClose(a.matmul(b).asArray(Double.self), Reference.matmul(av, bv, m: m, k: k, n: n), atol: 1e-11, rtol: 1e-11)
        a.requiresGrad = true
        b.requiresGrad = true
        let w = randn([m, n], seed: 33)
        let grads = (a.matmul(b) * w).sum().gradients(wrt: [a, b])
        let wv = w.asArray(Double.self)
        func transpose(_ x: [Double], _ r: Int, _ c: Int) -> [Double] { (0..<(r * c)).map { x[($0 % r) * c + $0 / r] } }
        expectClose(grads[0].asArray(Double.self), Reference.matmul(wv, transpose(bv, k, n), m: m, k: n, n: k), atol: 1e-11, rtol: 1e-11)
        expectClose(grads[1].asArray(Double.self), Reference.matmul(transpose(av, m, k), wv, m: k, k: m, n: n), atol: 1e-11, rtol: 1e-11)
    }
}

@Suite struct FusedBiasTests {
    /// `matmul(_:bias:)` and `conv2d(_:bias:)` equal the op followed by a broadcast add,
    /// and their gradients (including the bias's) pass the finite-difference check.
    @Test func fusedBiasEqualsTheAddAndHasTheRightGradients() {
        let x = randn([5, 4], seed: 61), w = randn([4, 3], seed: 62), b = randn([3], seed: 63)
        expectClose(x.matmul(w, bias: b), x.matmul(w) + b, atol: 1e-12, rtol: 1e-12)
        expectGradients([x, w, b]) { ($0[0].matmul($0[1], bias: $0[2]) * randn([5, 3], seed: 64)).sum() }
        let x3 = randn([2, 3, 4], seed: 65)
        expectClose(x3.matmul(w, bias: b), x3.matmul(w) + b, atol: 1e-12, rtol: 1e-12)

        let img = randn([2, 6, 5, 3], seed: 66), k = randn([3, 3, 3, 4], seed: 67), kb = randn([4], seed: 68)
        expectClose(img.conv2d(k, bias: kb, strides: (2, 1), padding: .same),
                    img.conv2d(k, strides: (2, 1), padding: .same) + kb, atol: 1e-12, rtol: 1e-12)
        let weights = randn([2, 3, 5, 4], seed: 69)
        expectGradients([img, k, kb]) { ($0[0].conv2d($0[1], bias: $0[2], strides: (2, 1), padding: .same) * weights).sum() }
    }
}
