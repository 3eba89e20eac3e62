import Foundation
import Testing
import LaminaTestSupport
@testable import LaminaCore

/// Arithmetic, math, activations and comparisons: forward against NumPy, backward against
/// finite differences.
@Suite struct ElementwiseTests {
    struct Case: Decodable {
        struct T: Decodable { let shape: [Int]; let values: [Double] }
        let op: String
        let a: T
        let b: T?
        let out: T
        let axes: [Int]?
        let keepDims: Bool?
        let axis: Int?
        var aTensor: Tensor { Tensor(shape: a.shape, scalars: a.values) }
        var bTensor: Tensor { Tensor(shape: b!.shape, scalars: b!.values) }
        var expected: Tensor { Tensor(shape: out.shape, scalars: out.values) }
    }

    static let cases: [Case] = {
        struct File: Decodable { let cases: [Case] }
        let data = try! Data(contentsOf: fixtureURL("numpy_reference.json"))
        return try! JSONDecoder().decode(File.self, from: data).cases
    }()

    @Test func broadcastingMatchesNumPy() {
        let ops: [String: (Tensor, Tensor) -> Tensor] = [
            "add": (+), "subtract": (-), "multiply": (*), "divide": (/),
            "maximum": maximum, "minimum": minimum, "pow": pow,
        ]
        var checked = 0
        for c in Self.cases {
            guard let f = ops[c.op] else { continue }
            expectClose(f(c.aTensor, c.bTensor), c.expected, atol: 1e-12, rtol: 1e-12)
            // float32 goes through the same kernels.
            expectClose(f(c.aTensor.cast(to: .float32), c.bTensor.cast(to: .float32)), c.expected, atol: 1e-5, rtol: 1e-5)
            checked += 1
        }
        #expect(checked == 56)
    }

    @Test(arguments: [([2, 3], [2, 3]), ([2, 3], [3]), ([4, 1], [1, 5]), ([2, 1, 4], [3, 1]), ([], [2, 2])])
    func arithmeticGradientsWithBroadcasting(sa: [Int], sb: [Int]) {
        let a = randn(sa, seed: 1), b = randn(sb, seed: 2) + 3   // b away from 0 for division
        expectGradients([a, b]) { $0[0] + $0[1] }
        expectGradients([a, b]) { $0[0] - $0[1] }
        expectGradients([a, b]) { $0[0] * $0[1] }
        expectGradients([a, b]) { $0[0] / $0[1] }
        expectGradients([a, b]) { maximum($0[0], $0[1] - 3) }
        expectGradients([a, b]) { minimum($0[0], $0[1] - 3) }
        expectGradients([a.abs() + 0.5, b]) { pow($0[0], $0[1] * 0.5) }
    }

    @Test func scalarOperandsAndNegation() {
        let x = randn([3, 2], seed: 3)
        expectGradients([x]) { -($0[0] * 2 + 1) / 4 - 3 }
        expectGradients([x]) { 1 / ($0[0].square() + 1) }
        #expect(((Tensor([1, 2]) * 2) - 1).asArray(Float.self) == [1, 3])
    }

    @Test func mathGradients() {
        let x = randn([3, 4], seed: 4, awayFromZero: true), pos = x.abs() + 0.2
        expectGradients([x]) { $0[0].square() }
        expectGradients([pos]) { $0[0].sqrt() }
        expectGradients([x]) { $0[0].exp() }
        expectGradients([pos]) { $0[0].log() }
        expectGradients([x]) { $0[0].abs() }
        expectGradients([x]) { $0[0].erf() }
        expectGradients([pos]) { $0[0].pow(2.5) }
        expectGradients([x]) { $0[0].clip(min: -0.5, max: 0.7) }
        let values = Tensor([-2, 0.5, 3] as [Double]).clip(min: -1, max: 1).asArray(Double.self)
        #expect(values == [-1, 0.5, 1])
    }

    @Test func activationValues() {
        let x = Tensor([-1000, -2, 0, 2, 1000] as [Double])
        let sig = x.sigmoid().asArray(Double.self)
        #expect(sig[0] == 0 && sig[2] == 0.5 && sig[4] == 1 && Swift.abs(sig[3] - 1 / (1 + Foundation.exp(-2))) < 1e-15)
        #expect(x.relu().asArray(Double.self) == [0, 0, 0, 2, 1000])
        #expect(x.leakyRelu(alpha: 0.2).asArray(Double.self) == [-200, -0.4, 0, 2, 1000])
        let sp = x.softplus().asArray(Double.self)
        #expect(sp[0] == 0 && sp[4] == 1000 && Swift.abs(sp[2] - Foundation.log(2)) < 1e-15)
        #expect(Swift.abs(x.elu().asArray(Double.self)[1] - (Foundation.exp(-2) - 1)) < 1e-15)
        #expect(x.tanh().asArray(Double.self)[0] == -1)
    }

    @Test func activationGradients() {
        let x = randn([4, 5], seed: 5, awayFromZero: true) * 2
        expectGradients([x]) { $0[0].relu() }
        expectGradients([x]) { $0[0].leakyRelu(alpha: 0.2) }
        expectGradients([x]) { $0[0].elu(alpha: 1.3) }
        expectGradients([x]) { $0[0].sigmoid() }
        expectGradients([x]) { $0[0].tanh() }
        expectGradients([x]) { $0[0].softplus() }
        expectGradients([x * 300]) { $0[0].sigmoid() + $0[0].softplus() / 300 }   // extreme inputs
    }

    @Test func comparisonsMakeMasksAndWhereRoutesGradients() {
        let a: Tensor = [1, 5, 3], b: Tensor = [2, 5, 1]
        #expect(a.greater(b).asArray(Float.self) == [0, 0, 1])
        #expect((a .>= b).asArray(Float.self) == [0, 1, 1])
        #expect((a .< b).asArray(Float.self) == [1, 0, 0])
        #expect((a .== b).asArray(Float.self) == [0, 1, 0])
        #expect(Tensor.where(a .> 2, a, b).asArray(Float.self) == [2, 5, 3])
        // The branch not taken may hold infinities without making NaNs.
        let inf = Tensor([Float.infinity, .infinity, .infinity])
        #expect(Tensor.where(a .> 2, a, inf).asArray(Float.self) == [.infinity, 5, 3])
        let x = randn([3, 4], seed: 6), y = randn([4], seed: 7)
        expectGradients([x, y]) { Tensor.where($0[0].detached() .> 0, $0[0] * 2, $0[1]) }
    }

    @Test func lowLevelMisuseNamesOpAndShapes() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
    }
}

@Suite struct FastTanhTests {
    /// float32 tanh uses a rational approximation; it must stay within a few ulp of the true value.
    @Test func float32TanhIsWithinAFewUlpOfTheTrueValue() {
        let xs = stride(from: -12.0, through: 12.0, by: 0.00037).map { $0 } + [0, 1e-6, -1e-6, 3e-4, 5e-4, 20, -20]
        let y = Tensor(shape: [xs.count], scalars: xs.map { Float($0) }).tanh().asArray(Float.self)
        var worstUlps: Float = 0, worstAbs = 0.0
        for (x, v) in zip(xs, y) {
            let exact = Foundation.tanh(Double(Float(x)))
            worstAbs = max(worstAbs, abs(Double(v) - exact))
            worstUlps = max(worstUlps, abs(v - Float(exact)) / Float(exact).ulp)
        }
        #expect(worstAbs < 4e-7 && worstUlps <= 6, "worst \(worstAbs) absolute, \(worstUlps) ulp")
    }
}
