import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// What keras.applications needed beyond the existing layers (issue 20): `keras.ops` numpy
/// operations in functional configs, Conv2D `groups`, Dropout `noise_shape`,
/// BatchNormalization's positive `axis`, the VarianceScaling initializer. Whole architectures
/// against Keras are in LaminaKerasTests/ApplicationsTests.
@Suite struct ApplicationLayerTests {
    func maxError(_ a: Tensor, _ b: Tensor) -> Double {
        a.shape == b.shape ? zip(a.scalarsAsDouble(), b.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? 0 : .infinity
    }

    /// `relu6(x + 3) * (1/6)` and a tensor sum as Keras writes them: op layers with numbers in
    /// `args`, read back and written in the same form.
    @Test func numpyOperationsRoundTripThroughFunctionalConfigs() throws {
        let x = Input(shape: [4], name: "x")
        let plus = NumPyOperation(.add, operands: [nil, 3], name: "add")(x)
        let hard = NumPyOperation(.multiply, operands: [nil, 1.0 / 6], name: "multiply")(ReLU(maxValue: 6, name: "relu6")(plus))
        let sum = NumPyOperation(.add, operands: [nil, nil], name: "add_1")([hard, x])
        let flipped = NumPyOperation(.subtract, operands: [1, nil], name: "subtract")(sum)
        let model = Model(inputs: x, outputs: flipped, name: "ops")
        let input = Tensor(shape: [2, 4], scalars: [-5, -1, 0, 2, 4, 1, -3, 0.5] as [Float])
        let expected = input.scalarsAsDouble().map { v in 1 - (min(max(v + 3, 0), 6) / 6 + v) }
        let y = try model.predict(input)
        #expect(zip(y.scalarsAsDouble(), expected).allSatisfy { Swift.abs($0 - $1) < 1e-6 }, "\(y.scalarsAsDouble())")
        #expect(model.summaryText(lineLength: 76).contains("add (Add)"))

        let config = try model.functionalConfig()
        let layers = try #require(config["layers"] as? [[String: Any]])
        let add = try #require(layers.first { $0["name"] as? String == "add" })
        #expect(add["module"] as? String == "keras.src.ops.numpy" && add["class_name"] as? String == "Add")
        #expect((add["config"] as? [String: Any])?.keys.sorted() == ["name"])
        let args = try #require((add["inbound_nodes"] as? [[String: Any]])?.first?["args"] as? [Any])
        #expect(args.count == 2 && (args[1] as? Double) == 3)
        let json = try JSONSerialization.data(withJSONObject: config)
        let back = try Model.functional(from: ConfigReader(className: "Functional",
                                                           values: try #require(JSONSerialization.jsonObject(with: json) as? [String: Any])))
        #expect(maxError(try back.predict(input), y) < 1e-6)
        let ops = back.layers.compactMap { $0 as? NumPyOperation }
        let kinds = ops.map { $0.operation }
        #expect(kinds == [NumPyOperation.Operation.add, .multiply, .add, .subtract])
        #expect(ops.last?.operands == [1, nil])
        for (operation, expected) in [(NumPyOperation.Operation.trueDivide, [-2.5, 1]), (.maximum, [2, 2]), (.minimum, [-5, 2])] {
            let op = NumPyOperation(operation, operands: [nil, 2])
            let out = try op.callAll([Tensor(shape: [1, 2], scalars: [-5, 2] as [Float])], training: false)[0]
            #expect(out.scalarsAsDouble() == expected, "\(operation)")
        }
                // Outside a functional model it would read back as a merge layer: refused.
        #expect(throws: LaminaError.self) { try Sequential([Input(shape: [4]), NumPyOperation(.add, operands: [nil, 1])]).config() }
    }

    /// Gradients through operations of a tensor and a number, and of two broadcast tensors.
    @Test func numpyOperationGradients() throws {
        for operation in NumPyOperation.Operation.allCases where operation != .notEqual {   // a comparison has no gradient
            for operands in [[nil, 1.5], [0.5, nil]] as [[Double?]] {
                let op = NumPyOperation(operation, operands: operands)
                let x = randn([2, 3, 4], seed: 5).abs() + 0.5   // away from 0 (division) and from the constants' ties
                let result = GradientCheck.run(at: [x]) { args in try! op.callAll(args, training: false)[0] }
                #expect(result.maxRelativeError <= 1e-6, "\(operation) \(operands): \(result)")
            }
            let pair = NumPyOperation(operation, operands: [nil, nil])
            let xs = [randn([2, 3, 4], seed: 6), randn([2, 1, 4], seed: 7).abs() + 0.5]
            let result = GradientCheck.run(at: xs) { args in try! pair.callAll(args, training: false)[0] }
            #expect(result.maxRelativeError <= 1e-6, "\(operation) of two tensors: \(result)")
        }
    }

    @Test func badOperationsAreErrorsNamingThem() throws {
        func load(_ layer: String) throws -> LaminaError? {
            let text = #"{"name":"m","layers":[{"module":"keras.layers","class_name":"InputLayer","config":{"batch_shape":[null,3],"name":"x"},"name":"x","inbound_nodes":[]},"#
                + layer + #"],"input_layers":[["x",0,0]],"output_layers":[["op",0,0]]}"#
            let values = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            do { _ = try Model.functional(from: ConfigReader(className: "Functional", values: values)); return nil } catch let e as LaminaError { return e }
        }
        let t = #"{"class_name":"__keras_tensor__","config":{"keras_history":["x",0,0]}}"#
        let power = try load(#"{"module":"keras.src.ops.numpy","class_name":"Power","config":{"name":"op"},"name":"op","inbound_nodes":[{"args":["# + t + #",2.0],"kwargs":{}}]}"#)
        #expect(power?.message.contains("Power 'op'") == true, "\(String(describing: power))")
        let constants = try load(#"{"module":"keras.src.ops.numpy","class_name":"Add","config":{"name":"op"},"name":"op","inbound_nodes":[{"args":[1.0,2.0],"kwargs":{}}]}"#)
        #expect(constants?.message.contains("at least one operand must be a tensor") == true, "\(String(describing: constants))")
        let text = try load(#"{"module":"keras.src.ops.numpy","class_name":"Add","config":{"name":"op"},"name":"op","inbound_nodes":[{"args":["# + t + #","a"],"kwargs":{}}]}"#)
        #expect(text?.message.contains("cannot take") == true, "\(String(describing: text))")
        #expect(try load(#"{"module":"keras.src.ops.numpy","class_name":"Add","config":{"name":"op"},"name":"op","inbound_nodes":[{"args":["# + t + #",2.0],"kwargs":{}}]}"#) == nil)
    }

    /// groups = channels is the depthwise op; other groups are convolutions of channel slices.
    @Test func groupedConvolutionIsPerGroupConvolution() throws {
        let x = randn([2, 6, 5, 4], seed: 1)
        for (groups, filters) in [(2, 6), (4, 4), (4, 8)] {
            let layer = Conv2D(filters, kernelSize: (3, 2), padding: .same, groups: groups)
            let y = try layer(x)
            #expect(layer.kernel!.shape == [3, 2, 4 / groups, filters])
            let k = layer.kernel!.value, (cin, cout) = (4 / groups, filters / groups)
            let parts = (0..<groups).map { g in
                x.sliced(axis: 3, g * cin..<(g + 1) * cin).conv2d(k.sliced(axis: 3, g * cout..<(g + 1) * cout), padding: .same)
            }
            #expect(maxError(y, Tensor.concatenated(parts, axis: 3) + layer.bias!.value) < 1e-5, "groups \(groups)")
            let back = try #require(try LayerRegistry.make(layer.serialize()) as? Conv2D)
            #expect(back.groups == groups)
        }
        try layerTest(Conv2D(4, kernelSize: (3, 3), padding: .same, groups: 2), inputShape: [2, 5, 4, 4])
        try layerTest(Conv2D(8, kernelSize: (3, 3), strides: (2, 2), groups: 4), inputShape: [1, 6, 5, 4])   // the depthwise path, m = 2
        #expect(try Conv2D(4, kernelSize: 3).config()["groups"] == nil)
        #expect(throws: LaminaError.self) { try Conv2D(3, kernelSize: (3, 3), groups: 2)(x) }   // filters not divisible
        #expect(throws: LaminaError.self) { try Conv2D(6, kernelSize: (3, 3), groups: 3)(x) }   // 4 channels into 3 groups
    }

    @Test func dropoutNoiseShapeSharesTheDraw() throws {
        let layer = Dropout(0.5, noiseShape: [nil, 1, 1, 1], seed: 3)
        let x = Tensor.ones([8, 3, 3, 2])
        let y = try layer.call(x, training: true).scalarsAsDouble()
        for n in 0..<8 { #expect(Set(y[(n * 18)..<((n + 1) * 18)]).count == 1) }
        #expect(Set(y).isSubset(of: [0, 2]))
        let back = try #require(try LayerRegistry.make(layer.serialize()) as? Dropout)
        #expect(back.noiseShape == [nil, 1, 1, 1])
        #expect(try Dropout(0.2).config()["noise_shape"] == nil)
        #expect(throws: LaminaError.self) { try Dropout(0.5, noiseShape: [nil, 2, 1, 1])(x) }
    }

    @Test func customScaleLayerAddsTheScaledSecondInput() throws {
        let layer = CustomScaleLayer(scale: 0.17)
        let a = randn([2, 3, 4], seed: 8), b = randn([2, 3, 4], seed: 9)
        #expect(maxError(try layer([a, b]), a + b * 0.17) < 1e-12)
        try checkMergeGradients(layer, [[2, 3, 4], [2, 3, 4]])
        let back = try #require(try LayerRegistry.make(layer.serialize()) as? CustomScaleLayer)
        let module = try layer.serialize()["module"] as? String
        #expect(back.scale == 0.17 && module == "keras.src.applications.inception_resnet_v2")
        #expect(throws: LaminaError.self) { try layer([a, randn([2, 3, 5], seed: 1)]) }
        #expect(throws: LaminaError.self) { try LayerRegistry.make(["class_name": "CustomScaleLayer", "config": ["scale": "big"]]) }
    }

    @Test func batchNormalizationAxisCountsTheBatchAxis() throws {
        let bn = BatchNormalization(axis: 3)
        _ = try bn(randn([2, 4, 4, 5], seed: 2))
        #expect(bn.gamma!.shape == [5])
        #expect(try bn.config()["axis"] as? Int == 3)
        #expect(throws: LaminaError.self) { try BatchNormalization(axis: 2)(randn([2, 4, 4, 5], seed: 2)) }
    }

    @Test func varianceScalingDrawsItsVariance() throws {
        let fanOut = Initializer.varianceScaling(scale: 2, mode: .fanOut, distribution: .truncatedNormal, seed: 1)
        let w = fanOut.make([3, 3, 16, 64]).scalarsAsDouble()
        let variance = w.map { $0 * $0 }.reduce(0, +) / Double(w.count)
        #expect(Swift.abs(variance - 2.0 / (9 * 64)) < 0.1 * 2.0 / (9 * 64))
        let uniform = Initializer.varianceScaling(scale: 1.0 / 3, mode: .fanOut, distribution: .uniform, seed: 1).make([100, 10])
        #expect(uniform.scalarsAsDouble().allSatisfy { Swift.abs($0) <= (1.0 / 10).squareRoot() + 1e-7 })
        let back = try Initializer(config: fanOut.config)
        #expect(back == fanOut)
        #expect(throws: LaminaError.self) { try Initializer(config: ["class_name": "VarianceScaling", "config": ["mode": "fan_sideways"]]) }
    }
}
