import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// A user's layer with one weight per feature, y = x · scale, that owns its round trip.
final class Scale: Layer {
    let initial: Double
    var scale: Variable?
    init(initial: Double = 1, name: String? = nil, inputShape: [Int]? = nil) {
        self.initial = initial
        super.init(name: name, inputShape: inputShape)
    }
    override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        try Scale(initial: r.double("initial", default: 1), name: r.layerName())
    }
    override func config() throws -> [String: Any] { ["initial": initial] }
    override func build(inputShape: [Int]) throws {
        scale = addWeight("scale", shape: [inputShape.last ?? 0], initializer: .constant(initial))
    }
    override func weightShapes(for inputShape: [Int]) throws -> [[Int]] { [[inputShape.last ?? 0]] }
    override func call(_ x: Tensor, training: Bool) throws -> Tensor { x * scale!.value }
}

/// The same layer without its declared weight shapes.
final class UndeclaredScale: Layer {
    override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer { try UndeclaredScale(name: r.layerName()) }
    override func build(inputShape: [Int]) throws { addWeight("scale", shape: [inputShape.last ?? 0], initializer: .ones) }
    override func call(_ x: Tensor, training: Bool) throws -> Tensor { x }
}

@Suite struct LayerRoundTripTests {
    /// Every built-in layer declares exactly the weights it builds.
    @Test func builtInLayersDeclareTheWeightsTheyBuild() throws {
        let model = Lamina.withRandomSeed(1) { ModelFileTests.everyLayer() }
        var shape = [8, 8, 1]
        for layer in model.layers {
            #expect(try layer.weightShapes(for: shape) == layer.weights.map(\.shape), "\(layer.className)")
            shape = try layer.computeOutputShape(shape)
        }
        #expect(try model.plannedWeightCount([8, 8, 1]) == model.countParams())
        for type in LayerRegistry.builtinTypes { #expect(LayerRegistry.isRegistered(type.kerasClassName)) }
    }

    /// The shape and scale layers save and load, and predict the same.
    @Test func shapeAndScaleLayersRoundTrip() throws {
        let a = Lamina.withRandomSeed(8) {
            Sequential([Input(shape: [6, 6, 1]), Rescaling(1.0 / 255, offset: -0.5), ZeroPadding2D(padding: ((1, 2), (0, 1))),
                        Cropping2D(cropping: ((1, 0), (0, 2))), Conv2D(2, (3, 3)), GlobalMaxPooling2D(keepDims: true),
                        GlobalAveragePooling2D(), RepeatVector(3), Flatten(), Dense(2)])
        }
        #expect(a.addError == nil)
        let url = temporaryDirectory().appendingPathComponent("shapes.lamina")
        try a.save(url.path)
        let b = try Sequential.load(url.path)
        #expect(b.layers.map(\.className) == a.layers.map(\.className))
        let x = Tensor.randomNormal([3, 6, 6, 1], seed: 9) * 100
        #expect(try a.predict(x).asArray(Float.self) == b.predict(x).asArray(Float.self))
        let padding = try #require(b.layers[1] as? ZeroPadding2D), cropping = try #require(b.layers[2] as? Cropping2D)
        #expect(padding.padding == (1, 2, 0, 1) && cropping.cropping == (1, 0, 0, 2))
        #expect((b.layers[0] as? Rescaling)?.offset == -0.5 && (b.layers[6] as? RepeatVector)?.n == 3)
    }

    /// The second release's convolution and recurrent layers save and load with their options
    /// (dilation, transposition, directions, merge modes, dropout seeds and generator states,
    /// regularizers), predict the same and train on the same.
    @Test func newConvolutionAndRecurrentLayersRoundTrip() throws {
        let a = Lamina.withRandomSeed(12) {
            Sequential([Input(shape: [6, 6, 1]), Conv2D(2, kernelSize: 3, padding: "same", dilationRate: 2),
                        Conv2DTranspose(2, kernelSize: (3, 3), strides: (2, 2), padding: .same, kernelRegularizer: .l2(0.01)),
                        Reshape([12, 24]), Conv1D(3, 2, dilationRate: 3),
                        Bidirectional(GRU(3, recurrentRegularizer: .l1(0.02), dropout: 0.2, recurrentDropout: 0.3, seed: 4,
                                          returnSequences: true), mergeMode: .ave),
                        LSTM(2, returnSequences: true, goBackwards: true), GRU(2, resetAfter: false), Dense(1)])
        }
        #expect(a.addError == nil && a.outputShape == [1])
        a.compile(optimizer: Adam(learningRate: 0.01), loss: Loss.meanSquaredError)
        let x = Tensor.randomNormal([4, 6, 6, 1], seed: 2), y = Tensor.randomNormal([4, 1], seed: 3)
        _ = try a.trainOnBatch(x, y)
        let url = temporaryDirectory().appendingPathComponent("recurrent.lamina")
        try a.save(url.path)
        let b = try Sequential.load(url.path)
        #expect(try ModelFile.json(b.serialize()) == ModelFile.json(a.serialize()))
        #expect(try a.predict(x).asArray(Float.self) == b.predict(x).asArray(Float.self))
        let bi = try #require(b.layers[4] as? Bidirectional)
        #expect(bi.mergeMode == .ave && bi.forwardLayer.name.hasPrefix("forward_gru") && bi.backwardLayer.name.hasPrefix("backward_gru"))
        #expect(!bi.forwardLayer.goBackwards && bi.backwardLayer.goBackwards)
        #expect(bi.forwardLayer.recurrentDropout == 0.3 && (bi.forwardLayer.recurrentRegularizer as? L1)?.l1 == 0.02)
        let (transposed, dilated) = (try #require(b.layers[1] as? Conv2DTranspose), try #require(b.layers[0] as? Conv2D))
        #expect(transposed.strides == (2, 2) && dilated.dilationRate == (2, 2))
        #expect((b.layers[6] as? GRU)?.resetAfter == false && (b.layers[5] as? LSTM)?.goBackwards == true)
        // Dropout masks come from the saved generator states: the next steps are the same steps.
        for _ in 0..<2 { #expect(try a.trainOnBatch(x, y).loss == b.trainOnBatch(x, y).loss) }
    }

    /// A text classifier's layers save and load, and predict the same.
    @Test func sequenceLayersRoundTrip() throws {
        let a = Lamina.withRandomSeed(10) {
            Sequential([Input(shape: [12]), Embedding(inputDim: 20, outputDim: 4),
                        Conv1D(5, kernelSize: 3, activation: .relu, kernelRegularizer: .l2(0.01)),
                        MaxPooling1D(poolSize: 2), AveragePooling1D(poolSize: 2, strides: 1, padding: .same),
                        GlobalMaxPooling1D(keepDims: true), GlobalAveragePooling1D(), LayerNormalization(), Dense(1, activation: .sigmoid)])
        }
        #expect(a.addError == nil && a.outputShape == [1])
        let url = temporaryDirectory().appendingPathComponent("text.lamina")
        try a.save(url.path)
        let b = try Sequential.load(url.path)
        let x = Tensor(shape: [2, 12], scalars: (0..<24).map { Float($0 % 20) })
        #expect(try a.predict(x).asArray(Float.self) == b.predict(x).asArray(Float.self))
        #expect((b.layers[1] as? Conv1D)?.kernelSize == 3 && (b.layers[0] as? Embedding)?.inputDim == 20)
        #expect(((b.layers[1] as? Conv1D)?.kernelRegularizer as? L2)?.l2 == 0.01)
    }

    /// A user's layer registered by its type saves and loads with its weights.
    @Test func registeredUserLayerRoundTrips() throws {
        LayerRegistry.register(Scale.self)
        let a = Lamina.withRandomSeed(2) { Sequential([Dense(3, inputShape: [2]), Scale(initial: 0.5, name: "scale")]) }
        let url = temporaryDirectory().appendingPathComponent("scale.lamina")
        try a.save(url.path)
        let b = try Sequential.load(url.path)
        #expect((b.layers[1] as? Scale)?.initial == 0.5)
        let x = Tensor.randomNormal([4, 2], seed: 3)
        #expect(try a.predict(x).asArray(Float.self) == b.predict(x).asArray(Float.self))
    }

    /// The size guard counts a user's layer by what it declares, and a layer that builds more
    /// than it declares is refused, so a custom class cannot switch the guard off.
    @Test func userLayersCannotBypassTheSizeGuard() throws {
        LayerRegistry.register(Scale.self, UndeclaredScale.self)
        func load(_ layer: String, features: Int) -> String? {
            let config = #"{"class_name":"Sequential","config":{"layers":[{"class_name":"InputLayer","config":{"batch_shape":[null,"#
                + "\(features)]}}," + layer + "]}}"
            do {
                _ = try Sequential.load(bytes: try ModelFileTests().file(withConfig: config), name: "m.lamina", restoreRandomState: false)
                return nil
            } catch { return "\(error)" }
        }
        // The file supplies 8 values (a Dense 3→2): 3,000,000 scales are refused before building.
        let huge = load(#"{"class_name":"Scale","config":{"name":"s"}}"#, features: 3_000_000)
        #expect(huge?.contains("would hold 3000000 weight values, more than this file can supply (8)") == true, "\(huge ?? "")")
        let undeclared = load(#"{"class_name":"UndeclaredScale","config":{"name":"u"}}"#, features: 4)
        #expect(undeclared?.contains("u (UndeclaredScale) created weights [[4]] but declares []") == true, "\(undeclared ?? "")")
    }
}

/// A user's optimizer, w −= lr·g·factor, that owns its round trip.
final class ScaledSGD: Optimizer {
    let factor: Double
    init(learningRate: Double = 0.1, factor: Double = 0.5) {
        self.factor = factor
        super.init(name: "ScaledSGD", learningRate: learningRate)
    }
    override func config() -> [String: Any] { ["factor": factor] }
    override class func fromKerasConfig(_ r: ConfigReader, shared: OptimizerSettings) throws -> Optimizer {
        ScaledSGD(learningRate: shared.learningRate ?? 0.1, factor: try r.double("factor", default: 0.5))
    }
    @_specialize(where T == Float) @_specialize(where T == Double)
    override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                             _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        for i in 0..<count { w[i] -= T(lr * factor) * g[i] }
    }
}

/// Not registered.
final class UnregisteredSGD: Optimizer {
    init() { super.init(name: "UnregisteredSGD", learningRate: 0.1) }
    override func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                             _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {}
}

@Suite struct OptimizerRoundTripTests {
    @Test func registeredUserOptimizerRoundTrips() throws {
        OptimizerRegistry.register(ScaledSGD.self)
        let a = Lamina.withRandomSeed(5) { Sequential([Dense(2, inputShape: [3])]) }
        a.compile(optimizer: ScaledSGD(learningRate: 0.2, factor: 0.25), loss: .mse)
        let url = temporaryDirectory().appendingPathComponent("opt.lamina")
        try a.save(url.path)
        let b = try Sequential.load(url.path)
        let o = try #require(b.optimizer as? ScaledSGD)
        #expect(o.factor == 0.25 && o.learningRate == 0.2)
        // Both take the same step from the same weights.
        let (x, y) = (Tensor.randomNormal([4, 3], seed: 6), Tensor.randomNormal([4, 2], seed: 7))
        try a.trainOnBatch(x, y)
        try b.trainOnBatch(x, y)
        for (u, v) in zip(a.getWeights(), b.getWeights()) { #expect(u.asArray(Float.self) == v.asArray(Float.self)) }
    }

    @Test func unregisteredOptimizerSaysHowToRegister() throws {
        let a = Sequential([Dense(2, inputShape: [3])])
        a.compile(optimizer: UnregisteredSGD(), loss: .mse)
        let e = #expect(throws: LaminaError.self) { try a.save(temporaryDirectory().appendingPathComponent("u.lamina").path) }
        #expect(e?.message.contains("OptimizerRegistry.register(UnregisteredSGD.self)") == true, "\(e?.message ?? "")")
    }
}

/// A user's loss, mean |yTrue − yPred|^p, that owns its round trip.
final class PowerLoss: Loss {
    let p: Double
    init(p: Double = 3) { self.p = p; super.init(name: "power_loss") }
    override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        (aligned(yTrue, yPred) - yPred).abs().pow(p).mean(axes: [-1])
    }
    override class var kerasAliases: [String] { ["power_loss"] }
    override func config() -> [String: Any] { p == 3 ? [:] : ["p": p] }
    override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { PowerLoss(p: try r.double("p", default: 3)) }
}

@Suite struct LossRoundTripTests {
    @Test func registeredUserLossRoundTripsByNameAndWithOptions() throws {
        LossRegistry.register(PowerLoss.self)
        #expect(try PowerLoss().serialize() as? String == "power_loss")
        #expect((try Loss.fromConfig(try PowerLoss(p: 1.5).serialize()) as? PowerLoss)?.p == 1.5)
        #expect((try Loss.named("PowerLoss") as? PowerLoss)?.p == 3)
        // The built-in ones still save as Keras does: a name, or an object for non-default options.
        #expect(try BinaryCrossentropy().serialize() as? String == "binary_crossentropy")
        #expect((try Loss.fromConfig(try BinaryCrossentropy(fromLogits: true).serialize()) as? BinaryCrossentropy)?.fromLogits == true)
        #expect((try Loss.fromConfig(try Huber(delta: 2).serialize()) as? Huber)?.delta == 2)
        #expect(throws: LaminaError.self) { try Loss.named("power_los") }
    }
}

/// A user's metric: the share of predictions within 0.1 of the target.
final class WithinTenth: Metric {
    init() { super.init(name: "within_tenth") }
    override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> [Double] {
        zip(yTrue.scalarsAsDouble(), yPred.scalarsAsDouble()).map { Swift.abs($0 - $1) < 0.1 ? 1 : 0 }
    }
    override class var kerasNames: [String] { ["within_tenth"] }
    override class func fromKerasConfig(_ r: ConfigReader) throws -> Metric { WithinTenth() }
}

@Suite struct MetricRoundTripTests {
    @Test func registeredUserMetricComesBackWithTheCompiledModel() throws {
        MetricRegistry.register(WithinTenth.self)
        let a = Sequential([Dense(1, inputShape: [2])])
        a.compile(optimizer: .sgd, loss: .mse, metrics: [WithinTenth(), .mae])
        let url = temporaryDirectory().appendingPathComponent("metric.lamina")
        try a.save(url.path)
        let b = try Sequential.load(url.path)
        #expect(b.compiledMetrics.map(\.name) == ["within_tenth", "mean_absolute_error"])
        #expect(b.compiledMetrics.first is WithinTenth)
        #expect(try Metric.named("acc") is Accuracy && Metric.named("mse") is MeanSquaredErrorMetric)
    }
}

/// A user's schedule: lr / (1 + step).
final class InverseStep: LearningRateSchedule, @unchecked Sendable {
    let initial: Double
    init(initial: Double) { self.initial = initial }
    override func callAsFunction(_ step: Int) -> Double { initial / Double(1 + step) }
    override func config() -> [String: Any] { ["initial": initial] }
    override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule { InverseStep(initial: try r.double("initial")) }
}

@Suite struct ScheduleRoundTripTests {
    @Test func schedulesComeBackInsideTheirOptimizer() throws {
        ScheduleRegistry.register(InverseStep.self)
        for schedule in [LearningRateSchedule.exponentialDecay(initial: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true),
                         .piecewiseConstant(boundaries: [2, 4], values: [1, 0.5, 0.1]), InverseStep(initial: 0.3)] {
            let back = try Optimizer.fromConfig(try SGD(schedule: schedule).serialize())
            let restored = try #require(back.schedule)
            #expect(type(of: restored) == type(of: schedule))
            for step in [0, 3, 9, 10, 25] { #expect(restored(step) == schedule(step)) }
        }
    }
}
