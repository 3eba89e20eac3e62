import Foundation
import Testing
import LaminaTestSupport
@testable import LaminaCore

@Suite struct BackwardTests {
    @Test func gradientLandsOnTheLeaf() {
        var w = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4] as [Float])
        w.requiresGrad = true
        (w * w).sum().backward()
        #expect(w.grad!.asArray(Float.self) == [2, 4, 6, 8])
        // A second backward accumulates, as in PyTorch, until zeroGrad().
        (w * 3).sum().backward()
        #expect(w.grad!.asArray(Float.self) == [5, 7, 9, 11])
        w.zeroGrad()
        #expect(w.grad == nil)
    }

    @Test func fanOutSumsContributions() {
        let x = randn([3], seed: 1)
        expectGradients([x]) { t in let a = t[0]; let b = a * a; return b * a + a.exp() * b - a }
        var v = Tensor([2] as [Double])
        v.requiresGrad = true
        let y = v * v * v + v   // 3v² + 1 = 13
        y.backward()
        #expect(v.grad!.asArray(Double.self) == [13])
    }

    @Test func broadcastGradientsReduceToOperandShape() {
        var bias = Tensor([1, 2, 3] as [Double])
        bias.requiresGrad = true
        let y = Tensor.ones([4, 3], dtype: .float64) + bias
        y.sum().backward()
        #expect(bias.grad!.shape == [3] && bias.grad!.asArray(Double.self) == [4, 4, 4])
    }

    @Test func noGradScopeRecordsNothing() {
        var x = Tensor([1, 2] as [Float])
        x.requiresGrad = true
        let y = withoutGradients { x * 2 }
        #expect(!y.requiresGrad)
        #expect((x * 2).requiresGrad)
    }

    @Test func gradientFunctionAndUnusedInputs() {
        let g = gradient(of: { ($0 * $0).sum() }, at: Tensor([3, -1] as [Double]))
        #expect(g.asArray(Double.self) == [6, -2])
        var a = Tensor([1] as [Double]), b = Tensor([1] as [Double])
        a.requiresGrad = true; b.requiresGrad = true
        let grads = (a * 5).sum().gradients(wrt: [a, b])
        #expect(grads[0].asArray(Double.self) == [5] && grads[1].asArray(Double.self) == [0])
    }

    @Test func deepChainsNeedNoRecursion() {
        var x = Tensor([0.5] as [Double])
        x.requiresGrad = true
        var y = x
        for _ in 0..<50_000 { y = y * 1.0 + 0.0 }
        y.sum().backward()
        #expect(x.grad!.asArray(Double.self) == [1])
    }

    @Test func graphIsReleasedAfterBackward() {
        weak var node: GradNode?
        var w = Tensor.randomNormal([4, 4], seed: 1)
        w.requiresGrad = true
        do {
            let h = w.matmul(w).tanh()
            node = h.node
            h.sum().backward()
        }
        #expect(node == nil)
    }

    /// 10,000 training steps must not grow memory. Runs in a child process (an exit test)
    /// so that tests running in parallel cannot disturb the resident-size reading.
    @Test func tenThousandStepsDoNotGrowMemory() async {
        await #expect(processExitsWith: .success) {
            func residentKB() -> Int {
                let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
                let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
                return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
            }
            var w = Tensor.randomNormal([16, 16], stddev: 0.1, seed: 2)
            let x = Tensor.randomNormal([8, 16], seed: 3)
            func step() {
                w.requiresGrad = true
                let loss = x.matmul(w).tanh().square().mean()
                let g = loss.gradients(wrt: [w])[0]
                w = withoutGradients { w - g * 0.01 }
            }
            for _ in 0..<1_000 { step() }   // warm up allocator pools
            let before = residentKB()
            for _ in 0..<10_000 { step() }
            let growth = residentKB() - before
            precondition(growth < 2_048, "resident memory grew by \(growth) KB over 10,000 steps")
        }
    }

    @Test func gradientCheckCatchesAWrongDerivative() {
        struct WrongSquare: PointwiseFunction {
            func value<T: FloatScalar>(_ x: T) -> T { x * x }
            func derivative<T: FloatScalar>(x: T, y: T) -> T { x }   // should be 2x
        }
        let result = GradientCheck.run(at: [randn([5], seed: 4, awayFromZero: true)]) { $0[0].pointwise("wrong", WrongSquare()) }
        #expect(result.maxRelativeError > 0.1)
    }

    /// Each op lets go of what it kept for its backward as soon as its gradient is computed, not
    /// when the whole pass ends: the ops nearer the input, whose gradients are the largest in a
    /// network, then run with the later ops' activations already freed.
    @Test func backwardFreesWhatAnOpKeptOnceItsGradientIsComputed() {
        final class Watch: @unchecked Sendable { weak var kept: Storage?; var keptWhenInputOpRan: Bool? }
        let watch = Watch()
        var x = Tensor([1, 2, 3] as [Double])
        x.requiresGrad = true
        // c = x (its backward notes whether a's saved tensor still exists), a = c·k with k kept
        let c = withoutGradients { x * 1 }.recorded("watchOrder", inputs: [x]) { g, _ in
            watch.keptWhenInputOpRan = watch.kept != nil
            return [g]
        }
        func keepsATensor(_ c: Tensor) -> Tensor {
            let k = Tensor([4, 5, 6] as [Double])
            watch.kept = k.storage
            return withoutGradients { c * k }.recorded("keeps", inputs: [c]) { g, _ in [g * k] }
        }
        let a = keepsATensor(c)
        #expect(watch.kept != nil)  // held by a's backward only
        a.sum().backward()
        #expect(x.grad!.asArray(Double.self) == [4, 5, 6])
        #expect(watch.keptWhenInputOpRan == false)
    }
}
