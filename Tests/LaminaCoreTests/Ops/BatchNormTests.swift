import Testing
import LaminaTestSupport
@testable import LaminaCore

/// The fused training- and inference-mode batch normalizations against the same computations as
/// composed ops (what `BatchNormalization` ran before the ops existed) and finite differences, in
/// float64; and float32 against float64.
@Suite struct BatchNormTests {
    /// (x − mean) / √(var + ε) · gamma + beta over every axis but the last, with composed ops.
    func composed(_ x: Tensor, _ gamma: Tensor?, _ beta: Tensor?, epsilon: Double) -> (Tensor, Tensor, Tensor) {
        let axes = Array(0..<(x.rank - 1))
        let mean = x.mean(axes: axes), variance = (x - mean).square().mean(axes: axes)
        var y = (x - mean) / (variance + epsilon).sqrt()
        if let gamma { y = y * gamma }
        if let beta { y = y + beta }
        return (y, mean, variance)
    }

    @Test(arguments: [([6, 3], true, true), ([3, 2, 2, 5], true, true), ([7, 4], false, true), ([2, 3, 4], true, false), ([5, 2], false, false)])
    func matchesComposedOpsAndFiniteDifferences(shape: [Int], hasGamma: Bool, hasBeta: Bool) {
        let c = shape.last!
        // an offset mean and a spread per channel, as activations have
        let x = randn(shape, seed: 31) * 1.7 + 0.4
        let gamma = hasGamma ? randn([c], seed: 32) : nil, beta = hasBeta ? randn([c], seed: 33) : nil
        let (y, mean, variance) = Tensor.batchNormalizationTraining(x, gamma: gamma, beta: beta, epsilon: 1e-3)
        let (yRef, meanRef, varianceRef) = composed(x, gamma, beta, epsilon: 1e-3)
        expectClose(y, yRef, atol: 1e-12, rtol: 1e-11)
        expectClose(mean, meanRef, atol: 1e-13, rtol: 1e-12)
        expectClose(variance, varianceRef, atol: 1e-13, rtol: 1e-12)
        let weights = randn(shape, seed: 34)
        var inputs = [x]
        if let gamma { inputs.append(gamma) }
        if let beta { inputs.append(beta) }
        func loss(_ t: [Tensor]) -> Tensor {
            let g = hasGamma ? t[1] : nil, b = hasBeta ? t[hasGamma ? 2 : 1] : nil
            return (Tensor.batchNormalizationTraining(t[0], gamma: g, beta: b, epsilon: 1e-3).y * weights).sum()
        }
        expectGradients(inputs) { loss($0) }
        // ... and the composed graph's gradients
        for i in inputs.indices { inputs[i].requiresGrad = true }
        let fused = loss(inputs).gradients(wrt: inputs)
        let reference = (composed(inputs[0], hasGamma ? inputs[1] : nil, hasBeta ? inputs[hasGamma ? 2 : 1] : nil, epsilon: 1e-3).0 * weights)
            .sum().gradients(wrt: inputs)
        for (a, b) in zip(fused, reference) { expectClose(a, b, atol: 1e-11, rtol: 1e-9) }
    }

    @Test func float32MatchesFloat64() {
        let x = randn([64, 9, 24], seed: 35) * 3 + 2, gamma = randn([24], seed: 36), beta = randn([24], seed: 37)
        let weights = randn(x.shape, seed: 38)
        func run(_ dtype: DType) -> [Tensor] {
            var xs = x.cast(to: dtype), g = gamma.cast(to: dtype), b = beta.cast(to: dtype)
            xs.requiresGrad = true
            g.requiresGrad = true
            b.requiresGrad = true
            let (y, mean, variance) = Tensor.batchNormalizationTraining(xs, gamma: g, beta: b, epsilon: 1e-3)
            return [y.detached(), mean, variance] + (y * weights.cast(to: dtype)).sum().gradients(wrt: [xs, g, b])
        }
        let (r32, r64) = (run(.float32), run(.float64))
        for (i, (a, b)) in zip(r32, r64).enumerated() {
            expectClose(a.scalarsAsDouble(), b.asArray(Double.self), atol: 2e-4, rtol: 2e-4, "output \(i)")
        }
    }

    /// Inference mode: given statistics, every input differentiated (the moving statistics too).
    @Test(arguments: [([6, 3], true, true), ([3, 2, 2, 5], true, false), ([7, 4], false, true), ([5, 2], false, false)])
    func inferenceMatchesComposedOpsAndFiniteDifferences(shape: [Int], hasGamma: Bool, hasBeta: Bool) {
        let c = shape.last!
        let x = randn(shape, seed: 41) * 1.3 - 0.6
        let mean = randn([c], seed: 42), variance = randn([c], seed: 43).square() + 0.2
        let gamma = hasGamma ? randn([c], seed: 44) : nil, beta = hasBeta ? randn([c], seed: 45) : nil
        var inputs = [x, mean, variance] + [gamma, beta].compactMap { $0 }
        func split(_ t: [Tensor]) -> (Tensor?, Tensor?) { (hasGamma ? t[3] : nil, hasBeta ? t[hasGamma ? 4 : 3] : nil) }
        func fused(_ t: [Tensor]) -> Tensor {
            let (g, b) = split(t)
            return Tensor.batchNormalizationInference(t[0], mean: t[1], variance: t[2], gamma: g, beta: b, epsilon: 1e-3)
        }
        func composed(_ t: [Tensor]) -> Tensor {
            let (g, b) = split(t)
            var y = (t[0] - t[1]) / (t[2] + 1e-3).sqrt()
            if let g { y = y * g }
            return b.map { y + $0 } ?? y
        }
        expectClose(fused(inputs), composed(inputs), atol: 1e-12, rtol: 1e-11)
        let weights = randn(shape, seed: 46)
        expectGradients(inputs) { (fused($0) * weights).sum() }
        for i in inputs.indices { inputs[i].requiresGrad = true }
        let got = (fused(inputs) * weights).sum().gradients(wrt: inputs)
        let reference = (composed(inputs) * weights).sum().gradients(wrt: inputs)
        for (a, b) in zip(got, reference) { expectClose(a, b, atol: 1e-11, rtol: 1e-9) }
    }
}
