import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// In a functional model, Conv2D → BatchNormalization (→ Add) (→ ReLU) runs as one op at
/// inference (`Model.normalizedConvolutions`): exactly the predictions of the layers called in
/// turn; in training the layers run in turn (the same outputs and gradients, a frozen
/// normalization included); no chain where a link's result has another reader or is an output,
/// or where the ReLU has a slope; an Add of two chains joins one of them.
@Suite struct ConvNormalizationPlanTests {
    let inp = Input(shape: [9, 8, 3])
    let c1 = Conv2D(8, kernelSize: 3, padding: .same), n1 = BatchNormalization(), r1 = Activation(.relu)
    let c2 = Conv2D(8, kernelSize: 1, useBias: false), n2 = BatchNormalization(epsilon: 1.001e-5), r2 = ReLU(maxValue: 6)
    let c3 = Conv2D(8, kernelSize: 1), n3 = BatchNormalization()  // read by an Add: no ReLU
    let c4 = Conv2D(4, kernelSize: 3, strides: 2), n4 = BatchNormalization(), r4 = ReLU(negativeSlope: 0.1)  // a slope: no ReLU
    let head = Dense(3), flatten = Flatten(), add = Add()

    /// Gives each normalization statistics and scales that are not 0 and 1.
    static func setStatistics(_ norms: [BatchNormalization], seed: UInt64) {
        for (j, bn) in norms.enumerated() {
            let c = bn.movingMean!.value.count, seed = seed + UInt64(j) * 4
            bn.movingMean!.value = randn([c], seed: seed).cast(to: .float32)
            bn.movingVariance!.value = (randn([c], seed: seed + 1).square() + 0.3).cast(to: .float32)
            bn.gamma!.value = randn([c], seed: seed + 2).cast(to: .float32)
            bn.beta!.value = randn([c], seed: seed + 3).cast(to: .float32)
        }
    }

    func byHand(_ x: Tensor, training: Bool) throws -> Tensor {
        let a = try r1(n1(c1(x), training: training))
        let b = try r2(n2(c2(a), training: training))
        let s = try add.callAll([a, n3(c3(b), training: training)], training: training)[0]
        return try head(flatten(r4(n4(c4(s), training: training))))
    }

    func model() -> Model {
        let a = r1(n1(c1(inp)))
        let b = r2(n2(c2(a)))
        let s = add([a, n3(c3(b))])
        let model = Lamina.withRandomSeed(3) { Model(inputs: inp, outputs: head(flatten(r4(n4(c4(s)))))) }
        Self.setStatistics([n1, n2, n3, n4], seed: 40)
        return model
    }

    @Test func inferenceRunsTheChainsAsOneOpWithTheLayersValues() throws {
        let model = model()
        let chains = model.normalizedConvolutions
        #expect(chains.map { $0.conv.name } == [c1, c2, c3, c4].map(\.name))
        #expect(chains.map { $0.relu?.name } == [r1.name, r2.name, nil, nil])
        #expect(chains.map { $0.add?.name } == [nil, nil, add.name, nil])
        let x = randn([5, 9, 8, 3], seed: 31).cast(to: .float32)
        let predicted = try model.predict(x)
        let expected = try withoutGradients { try byHand(x, training: false) }
        let difference = zip(predicted.asArray(Float.self), expected.asArray(Float.self)).map { Swift.abs($0 - $1) }.max() ?? 0
        #expect(predicted.shape == expected.shape && difference == 0)
    }

    @Test func trainingRunsTheLayersInTurn() throws {
        let model = model()
        n2.trainable = false  // frozen: inference mode inside a training step
        let x = randn([4, 9, 8, 3], seed: 32).cast(to: .float32)
        var kernel = c1.kernel!.value
        kernel.requiresGrad = true
        c1.kernel!.value = kernel
        let viaModel = try model.forward([x], training: true)[0]
        let gModel = viaModel.square().sum().gradients(wrt: [c1.kernel!.value])[0]
        let direct = try byHand(x, training: true)
        let gDirect = direct.square().sum().gradients(wrt: [c1.kernel!.value])[0]
        expectClose(viaModel, direct, atol: 1e-6, rtol: 1e-6)
        expectClose(gModel, gDirect, atol: 1e-4, rtol: 1e-5)
    }

    /// MobileNets' depthwise chains: ZeroPadding2D → DepthwiseConv2D(valid) → BatchNormalization
    /// → ReLU6, DepthwiseConv2D(same) → BatchNormalization → ReLU, and without a ReLU; the same
    /// predictions as the layers in turn, and in training the same gradients.
    @Test func depthwiseChainsRunAsOneOp() throws {
        let x = Input(shape: [9, 10, 4])
        let pad = ZeroPadding2D(padding: ((0, 1), (0, 1))), d1 = DepthwiseConv2D(kernelSize: 3, strides: 2, useBias: false)
        let b1 = BatchNormalization(momentum: 0.999), r1 = ReLU(maxValue: 6)
        let d2 = DepthwiseConv2D(kernelSize: 3, padding: .same, depthMultiplier: 2), b2 = BatchNormalization(), r2 = Activation(.relu)
        let d3 = DepthwiseConv2D(kernelSize: 1), b3 = BatchNormalization(), head = Dense(2), flatten = Flatten()
        let y1 = r1(b1(d1(pad(x))))
        let y3 = b3(d3(r2(b2(d2(y1)))))
        let model = Lamina.withRandomSeed(4) { Model(inputs: x, outputs: head(flatten(y3))) }
        Self.setStatistics([b1, b2, b3], seed: 60)
        let chains = model.normalizedConvolutions
        #expect(chains.map { $0.pad?.name } == [pad.name, nil, nil] && chains.map { $0.conv.name } == [d1, d2, d3].map(\.name))
        #expect(chains.map { $0.relu?.name } == [r1.name, r2.name, nil])
        let batch = randn([3, 9, 10, 4], seed: 34).cast(to: .float32)
        func byHand(training: Bool) throws -> Tensor {
            let y1 = try r1(b1(d1(pad(batch)), training: training))
            return try head(flatten(b3(d3(r2(b2(d2(y1), training: training))), training: training)))
        }
        let predicted = try model.predict(batch), expected = try withoutGradients { try byHand(training: false) }
        let difference = zip(predicted.asArray(Float.self), expected.asArray(Float.self)).map { Swift.abs($0 - $1) }.max() ?? 0
        #expect(predicted.shape == expected.shape && difference == 0)
        var kernel = d1.kernel!.value
        kernel.requiresGrad = true
        d1.kernel!.value = kernel
        let gModel = try model.forward([batch], training: true)[0].square().sum().gradients(wrt: [d1.kernel!.value])[0]
        let gDirect = try byHand(training: true).square().sum().gradients(wrt: [d1.kernel!.value])[0]
        expectClose(gModel, gDirect, atol: 1e-4, rtol: 1e-5)
    }

    /// ResNet's blocks: a projection shortcut (two chains into one Add: the Add joins one, the
    /// other stores its result for it) and an identity shortcut (the block's input as residual).
    @Test func residualAddsJoinOneChain() throws {
        let x = Input(shape: [6, 7, 4])
        let c0 = Conv2D(8, kernelSize: 1), b0 = BatchNormalization(), c1 = Conv2D(8, kernelSize: 3, padding: .same), b1 = BatchNormalization()
        let add1 = Add(), relu1 = Activation(.relu)
        let c2 = Conv2D(8, kernelSize: 1), b2 = BatchNormalization(), add2 = Add(), relu2 = ReLU()
        let y1 = relu1(add1([b0(c0(x)), b1(c1(x))]))
        let y2 = relu2(add2([y1, b2(c2(y1))]))
        let flatten = Flatten()
        let model = Lamina.withRandomSeed(6) { Model(inputs: x, outputs: flatten(y2)) }
        Self.setStatistics([b0, b1, b2], seed: 80)
        let chains = model.normalizedConvolutions
        #expect(chains.count == 3)
        #expect(chains.filter { $0.add === add1 }.count == 1 && chains.filter { $0.add === add2 }.count == 1)
        #expect(chains.filter { $0.add === add1 }.first?.relu === relu1 && chains.filter { $0.add === add2 }.first?.relu === relu2)
        #expect(chains.filter { $0.add == nil }.count == 1 && chains.filter { $0.add == nil }.first?.relu == nil)
        let batch = randn([3, 6, 7, 4], seed: 35).cast(to: .float32)
        let predicted = try model.predict(batch)
        let expected = try withoutGradients {
            let h1 = try relu1(add1.callAll([b0(c0(batch)), b1(c1(batch))], training: false)[0])
            return try flatten(relu2(add2.callAll([h1, b2(c2(h1))], training: false)[0]))
        }
        let difference = zip(predicted.asArray(Float.self), expected.asArray(Float.self)).map { Swift.abs($0 - $1) }.max() ?? 0
        #expect(predicted.shape == expected.shape && difference == 0)
        let trained = try model.forward([batch], training: true)[0]
        let h1 = try relu1(add1.callAll([b0(c0(batch), training: true), b1(c1(batch), training: true)], training: true)[0])
        let byHand = try flatten(relu2(add2.callAll([h1, b2(c2(h1), training: true)], training: true)[0]))
        expectClose(trained, byHand, atol: 1e-5, rtol: 1e-5)
    }

    @Test func noChainWhereALinkIsReadTwiceOrIsAnOutput() throws {
        let x = Input(shape: [6, 6, 2])
        let conv = Conv2D(4, kernelSize: 3)(x)
        let twoReaders = Model(inputs: x, outputs: [BatchNormalization()(conv), Flatten()(conv)])
        let convIsOutput = Model(inputs: x, outputs: [ReLU()(BatchNormalization()(conv)), conv])
        let norm = BatchNormalization()(Conv2D(4, kernelSize: 1)(x))
        let normIsOutput = Model(inputs: x, outputs: [ReLU()(norm), norm])
        #expect(twoReaders.normalizedConvolutions.isEmpty && convIsOutput.normalizedConvolutions.isEmpty)
        #expect(normIsOutput.normalizedConvolutions.count == 1 && normIsOutput.normalizedConvolutions[0].relu == nil)
        let batch = randn([2, 6, 6, 2], seed: 33).cast(to: .float32)
        #expect(try twoReaders.predict([batch]).map(\.shape) == [[2, 4, 4, 4], [2, 64]])
        #expect(try normIsOutput.predict([batch]).map(\.shape) == [[2, 6, 6, 4], [2, 6, 6, 4]])
    }
}
