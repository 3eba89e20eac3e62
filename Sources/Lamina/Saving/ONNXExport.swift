import Foundation

extension Model {
    /// Writes the model as an ONNX file (opset 17, IR version 8) for onnxruntime, TensorRT and
    /// the other ONNX runtimes: inference only (Dropout is the identity, BatchNormalization uses
    /// its moving statistics). The graph keeps Keras's channels-last layout: convolutions and
    /// pooling are wrapped in transposes to ONNX's channels-first operators, which runtimes fuse.
    ///
    /// Translated: Dense, Conv2D (groups, dilation), MaxPooling2D, AveragePooling2D,
    /// GlobalAveragePooling2D/GlobalMaxPooling2D, Flatten, Reshape, Dropout, BatchNormalization
    /// (last axis), Activation, ReLU, LeakyReLU, Embedding, Add, Subtract, Multiply, Average,
    /// Maximum, Minimum, Concatenate, LSTM (returning the last output or the sequence), and
    /// nested Sequential and functional models; activations linear, relu, sigmoid, tanh,
    /// softmax, elu, selu, softplus, softsign, leaky_relu, silu, relu6, hard_sigmoid, hard_silu,
    /// gelu, exponential, log_softmax. Any other layer is an error naming it.
    public func saveONNX(_ path: String) throws {
        let bytes = try ONNXExporter.export(self)
        try AtomicFile.write(Data(bytes), to: URL(fileURLWithPath: path))
    }
}

/// Builds an ONNX `ModelProto` from a model's graph (field numbers from onnx/onnx.proto).
struct ONNXExporter {
    static let opset = 17
    private var nodes = ProtobufWriter()          // GraphProto.node (field 1), appended in order
    private var initializers = ProtobufWriter()   // GraphProto.initializer (field 5)
    private var used = Set<String>()

    static func export(_ model: Model) throws -> [UInt8] {
        try model.checkDefinition()
        guard !model.isSubclassed else {
            throw LaminaError.value("saveONNX: \(model.name) is a subclassed model; its call is Swift code, not a graph ONNX can hold")
        }
        // The graph's inputs and outputs: a functional model's symbolic tensors, or a built
        // Sequential's shapes (its first layer an Embedding: integer ids).
        let inputSpecs: [(name: String, shape: [Int], dtype: DType)]
        let outputSpecs: [(name: String, shape: [Int], dtype: DType)]
        if let sequential = model as? Sequential {
            guard let input = sequential.inputShapes?.first, let output = sequential.outputShapes?.first else {
                throw LaminaError.value("saveONNX: \(model.name) is not built; give it an Input or call it on data first")
            }
            inputSpecs = [("input_layer", [-1] + input, sequential.layers.first is Embedding ? .int32 : .float32)]
            outputSpecs = [(sequential.outputNames[0], [-1] + output, .float32)]
        } else {
            // Symbolic shapes leave the batch axis out.
            inputSpecs = model.inputs.map { ($0.layer?.name ?? "input", [-1] + $0.shape, $0.dtype) }
            outputSpecs = model.outputs.enumerated().map { ($1.layer?.name ?? "output_\($0)", [-1] + $1.shape, $1.dtype) }
        }
        var exporter = ONNXExporter()
        let inputNames = inputSpecs.map { exporter.fresh($0.name) }
        let outputs = try exporter.emit(model: model, inputs: inputNames)
        // Graph outputs get the output layers' names (an identity where the name is taken).
        let outputNames = try zip(outputs, outputSpecs).map { name, spec in
            spec.name == name ? name : try exporter.node("Identity", [name], name: spec.name)
        }
        var graph = exporter.nodes                    // node (1), in order
        graph.string(2, model.name)                    // name
        graph.raw(exporter.initializers.bytes)         // initializer (5)
        for (t, name) in zip(inputSpecs, inputNames) { graph.message(11) { Self.valueInfo(&$0, name, t.shape, t.dtype) } }
        for (t, name) in zip(outputSpecs, outputNames) { graph.message(12) { Self.valueInfo(&$0, name, t.shape, t.dtype) } }
        var out = ProtobufWriter()                     // ModelProto
        out.int(1, 8)                                  // ir_version (opset 17 needs 8)
        out.string(2, "Lamina")                        // producer_name
        out.data(7, graph.bytes)                       // graph
        out.message(8) { $0.string(1, ""); $0.int(2, opset) }   // opset_import: the default domain
        return out.bytes
    }

    /// ValueInfoProto: name, TypeProto { tensor_type { elem_type, shape { dim... } } }.
    private static func valueInfo(_ w: inout ProtobufWriter, _ name: String, _ shape: [Int], _ dtype: DType) {
        w.string(1, name)
        w.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, dtype == .int32 ? 6 : dtype == .float64 ? 11 : 1)
                tensor.message(2) { s in
                    for (i, d) in shape.enumerated() {
                        s.message(1) { dim in if d >= 0 { dim.int(1, d) } else { dim.string(2, i == 0 ? "batch" : "d\(i)") } }
                    }
                }
            }
        }
    }

    private mutating func fresh(_ base: String) -> String {
        var name = base, k = 1
        while used.contains(name) { name = "\(base)_\(k)"; k += 1 }
        used.insert(name)
        return name
    }

    /// Appends a NodeProto; returns its output's name.
    @discardableResult
    private mutating func node(_ op: String, _ inputs: [String], name: String? = nil, outputs count: Int = 1,
                               attributes: (inout AttributeWriter) -> Void = { _ in }) throws -> String {
        try nodeOutputs(op, inputs, name: name, outputs: count, attributes: attributes)[0]
    }

    private mutating func nodeOutputs(_ op: String, _ inputs: [String], name: String? = nil, outputs count: Int,
                                      attributes: (inout AttributeWriter) -> Void = { _ in }) throws -> [String] {
        let base = fresh(name ?? op.lowercased())
        let outs = [base] + (1..<Swift.max(count, 1)).map { fresh("\(base)_\($0)") }
        var attrs = AttributeWriter()
        attributes(&attrs)
        nodes.message(1) { n in
            for i in inputs { n.string(1, i) }
            for o in outs { n.string(2, o) }
            n.string(3, base)
            n.string(4, op)
            n.raw(attrs.writer.bytes)
        }
        return outs
    }

    /// A float32 initializer; returns its name.
    private mutating func constant(_ name: String, _ t: Tensor) -> String {
        var raw = [UInt8](); raw.reserveCapacity(t.count * 4)
        for v in t.asArray(Float.self) { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        return initializer(name, dims: t.shape, dataType: 1, raw: raw)
    }

    /// An int64 vector initializer (shapes, axes); returns its name.
    private mutating func int64s(_ name: String, _ values: [Int]) -> String {
        var raw = [UInt8]()
        for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { raw += $0 } }
        return initializer(name, dims: [values.count], dataType: 7, raw: raw)
    }

    /// A TensorProto initializer: dims (1), data_type (2: 1 float, 7 int64), name (8), raw_data (9).
    private mutating func initializer(_ name: String, dims: [Int], dataType: Int, raw: [UInt8]) -> String {
        let unique = fresh(name)
        initializers.message(5) { w in
            for d in dims { w.int(1, d) }
            w.int(2, dataType)
            w.string(8, unique)
            w.data(9, raw)
        }
        return unique
    }

    private func weight(_ v: Variable?, _ layer: Layer, _ what: String) throws -> Tensor {
        guard let v else { throw LaminaError.value("saveONNX: \(layer.name) has no \(what); build the model first") }
        return v.value
    }

    // MARK: - The graph

    private mutating func emit(model: Model, inputs: [String]) throws -> [String] {
        if let sequential = model as? Sequential {
            var y = inputs[0]
            for layer in sequential.layers { y = try emit(layer: layer, [y])[0] }
            return [y]
        }
        var names: [ObjectIdentifier: [String]] = [:]
        for (t, n) in zip(model.inputs, inputs) { names[ObjectIdentifier(t.node!)] = [n] }
        for node in model.nodes where names[ObjectIdentifier(node)] == nil {
            if let arguments = node.arguments, !arguments.kwargs.allSatisfy({ $0.name == "training" }) {
                throw LaminaError.value("saveONNX: \(node.layer.name) (\(node.layer.className)) is called with keyword arguments ONNX export does not translate")
            }
            let args = node.inputs.map { names[ObjectIdentifier($0.node!)]![$0.index] }
            names[ObjectIdentifier(node)] = try emit(layer: node.layer, args)
        }
        return model.outputs.map { names[ObjectIdentifier($0.node!)]![$0.index] }
    }

    private mutating func emit(layer: Layer, _ x: [String]) throws -> [String] {
        let name = layer.name
        switch layer {
        case let m as Model:
            return try emit(model: m, inputs: x)
        case let d as Dense:
            var y = try node("MatMul", [x[0], constant("\(name)/kernel", weight(d.kernel, d, "kernel"))], name: name)
            if d.useBias { y = try node("Add", [y, constant("\(name)/bias", weight(d.bias, d, "bias"))], name: "\(name)/add") }
            return [try activation(d.activation, y, name)]
        case let c as Conv2D:
            let kernel = try weight(c.kernel, c, "kernel").permuted([3, 2, 0, 1])   // HWIO → OIHW
            var inputs = [try toChannelsFirst(x[0], name), constant("\(name)/kernel", kernel)]
            if c.useBias { inputs.append(constant("\(name)/bias", try weight(c.bias, c, "bias"))) }
            let y = try node("Conv", inputs, name: name) { a in
                a.ints("kernel_shape", [c.kernelSize.0, c.kernelSize.1])
                a.ints("strides", [c.strides.0, c.strides.1])
                a.ints("dilations", [c.dilationRate.0, c.dilationRate.1])
                a.int("group", c.groups)
                Self.pad(&a, c.padding)
            }
            return [try activation(c.activation, try toChannelsLast(y, name), name)]
        case let p as MaxPooling2D:
            return [try pool("MaxPool", x[0], name, p.poolSize, p.strides, p.padding)]
        case let p as AveragePooling2D:
            return [try pool("AveragePool", x[0], name, p.poolSize, p.strides, p.padding)]
        case let g as GlobalAveragePooling2D:
            return [try node("ReduceMean", x, name: name) { $0.ints("axes", [1, 2]); $0.int("keepdims", g.keepDims ? 1 : 0) }]
        case let g as GlobalMaxPooling2D:
            return [try node("ReduceMax", x, name: name) { $0.ints("axes", [1, 2]); $0.int("keepdims", g.keepDims ? 1 : 0) }]
        case is Flatten:
            return [try node("Flatten", x, name: name) { $0.int("axis", 1) }]
        case let r as Reshape:
            return [try node("Reshape", [x[0], int64s("\(name)/shape", [0] + r.targetShape)], name: name)]
        case is Dropout:
            return [try node("Identity", x, name: name)]
        case let b as BatchNormalization:
            guard b.axis == -1 || b.axis == b.inputShape?.count else {   // inputShape leaves the batch axis out
                throw LaminaError.value("saveONNX: \(name) normalizes axis \(b.axis); only the last (channels) axis is translated")
            }
            // Inference: y = x · a + c with a = γ / √(var + ε), c = β − mean · a.
            let mean = try weight(b.movingMean, b, "moving mean").asArray(Float.self)
            let variance = try weight(b.movingVariance, b, "moving variance").asArray(Float.self)
            let gamma = b.scale ? try weight(b.gamma, b, "gamma").asArray(Float.self) : [Float](repeating: 1, count: mean.count)
            let beta = b.center ? try weight(b.beta, b, "beta").asArray(Float.self) : [Float](repeating: 0, count: mean.count)
            let a = (0..<mean.count).map { gamma[$0] / (variance[$0] + Float(b.epsilon)).squareRoot() }
            let c = (0..<mean.count).map { beta[$0] - mean[$0] * a[$0] }
            let scaled = try node("Mul", [x[0], constant("\(name)/scale", Tensor(shape: [a.count], scalars: a))], name: name)
            return [try node("Add", [scaled, constant("\(name)/offset", Tensor(shape: [c.count], scalars: c))], name: "\(name)/add")]
        case let l as LeakyReLU:
            return [try node("LeakyRelu", x, name: name) { $0.float("alpha", Float(l.negativeSlope)) }]
        case let a as Activation:
            return [try activation(a.activation, x[0], name, always: true)]
        case let r as ReLU:
            guard r.threshold == 0 else { throw LaminaError.value("saveONNX: \(name) has a threshold; ONNX export translates ReLU without one") }
            var y = r.negativeSlope == 0 ? try node("Relu", x, name: name) : try node("LeakyRelu", x, name: name) { $0.float("alpha", Float(r.negativeSlope)) }
            if let top = r.maxValue { y = try node("Min", [y, constant("\(name)/max", Tensor(shape: [], scalars: [Float(top)]))], name: "\(name)/max") }
            return [y]
        case let e as Embedding:
            let ids = try node("Cast", x, name: "\(name)/ids") { $0.int("to", 7) }
            return [try node("Gather", [constant("\(name)/embeddings", weight(e.embeddings, e, "embeddings")), ids], name: name)]
        case is Add: return [try fold("Add", x, name)]
        case is Multiply: return [try fold("Mul", x, name)]
        case is Maximum: return [try fold("Max", x, name)]
        case is Minimum: return [try fold("Min", x, name)]
        case is Subtract: return [try node("Sub", x, name: name)]
        case is Average:
            let sum = try fold("Add", x, "\(name)/sum")
            return [try node("Div", [sum, constant("\(name)/count", Tensor(shape: [], scalars: [Float(x.count)]))], name: name)]
        case let c as Concatenate:
            return [try node("Concat", x, name: name) { $0.int("axis", c.axis) }]
        case let l as LSTM:
            return [try lstm(l, x[0])]
        default:
            throw LaminaError.value("saveONNX: \(layer.name) (\(layer.className)) has no ONNX translation")
        }
    }

    private mutating func fold(_ op: String, _ x: [String], _ name: String) throws -> String {
        var y = x[0]
        for (i, next) in x.dropFirst().enumerated() { y = try node(op, [y, next], name: i == x.count - 2 ? name : "\(name)/\(i)") }
        return y
    }

    private mutating func toChannelsFirst(_ x: String, _ name: String) throws -> String {
        try node("Transpose", [x], name: "\(name)/nchw") { $0.ints("perm", [0, 3, 1, 2]) }
    }
    private mutating func toChannelsLast(_ x: String, _ name: String) throws -> String {
        try node("Transpose", [x], name: "\(name)/nhwc") { $0.ints("perm", [0, 2, 3, 1]) }
    }

    private static func pad(_ a: inout AttributeWriter, _ padding: Padding) {
        // TensorFlow's "same" puts the odd pad at the end: ONNX's SAME_UPPER.
        if padding.kind == .same { a.string("auto_pad", "SAME_UPPER") } else { a.ints("pads", [0, 0, 0, 0]) }
    }

    private mutating func pool(_ op: String, _ x: String, _ name: String, _ size: (Int, Int), _ strides: (Int, Int), _ padding: Padding) throws -> String {
        let y = try node(op, [try toChannelsFirst(x, name)], name: name) { a in
            a.ints("kernel_shape", [size.0, size.1])
            a.ints("strides", [strides.0, strides.1])
            Self.pad(&a, padding)   // AveragePool leaves padding out of the count by default, as Keras
        }
        return try toChannelsLast(y, name)
    }

    /// The activation `f` on `x` (`always`: an Identity node for linear, so the layer has a node).
    private mutating func activation(_ f: ActivationFunction, _ x: String, _ name: String, always: Bool = false) throws -> String {
        let n = "\(name)/\(f.kind.rawValue)"
        func scalar(_ v: Float, _ what: String) -> String { constant("\(name)/\(what)", Tensor(shape: [], scalars: [v])) }
        switch f.kind {
        case .linear: return always ? try node("Identity", [x], name: n) : x
        case .relu: return try node("Relu", [x], name: n)
        case .sigmoid: return try node("Sigmoid", [x], name: n)
        case .tanh: return try node("Tanh", [x], name: n)
        case .softmax: return try node("Softmax", [x], name: n) { $0.int("axis", -1) }
        case .logSoftmax: return try node("LogSoftmax", [x], name: n) { $0.int("axis", -1) }
        case .elu: return try node("Elu", [x], name: n) { $0.float("alpha", 1) }
        case .selu: return try node("Selu", [x], name: n) { $0.float("alpha", 1.6732632423543772); $0.float("gamma", 1.0507009873554805) }
        case .softplus: return try node("Softplus", [x], name: n)
        case .softsign: return try node("Softsign", [x], name: n)
        case .leakyRelu: return try node("LeakyRelu", [x], name: n) { $0.float("alpha", 0.2) }
        case .exponential: return try node("Exp", [x], name: n)
        case .swish: return try node("Mul", [x, try node("Sigmoid", [x], name: "\(n)/sigmoid")], name: n)
        case .relu6: return try node("Clip", [x, scalar(0, "zero"), scalar(6, "six")], name: n)
        case .hardSigmoid: return try node("HardSigmoid", [x], name: n) { $0.float("alpha", 1.0 / 6); $0.float("beta", 0.5) }
        case .hardSilu:
            let gate = try node("HardSigmoid", [x], name: "\(n)/gate") { $0.float("alpha", 1.0 / 6); $0.float("beta", 0.5) }
            return try node("Mul", [x, gate], name: n)
        case .gelu:   // x · (1 + erf(x / √2)) / 2
            let e = try node("Erf", [try node("Mul", [x, scalar(Float(0.5.squareRoot()), "rsqrt2")], name: "\(n)/scaled")], name: "\(n)/erf")
            let h = try node("Mul", [try node("Add", [e, scalar(1, "one")], name: "\(n)/plus1"), scalar(0.5, "half")], name: "\(n)/half")
            return try node("Mul", [x, h], name: n)
        case .mish:
            throw LaminaError.value("saveONNX: \(name) uses mish, which ONNX export does not translate")
        }
    }

    /// Keras's LSTM (gates i, f, c, o; tanh and sigmoid) as ONNX's LSTM (gates i, o, f, c).
    private mutating func lstm(_ l: LSTM, _ x: String) throws -> String {
        let name = l.name
        guard l.activation.kind == .tanh, l.recurrentActivation.kind == .sigmoid, !l.goBackwards, !l.returnState, l.useBias else {
            throw LaminaError.value("saveONNX: \(name) is an LSTM with options ONNX export does not translate (it takes tanh, sigmoid, a bias, forwards, no returned state)")
        }
        let units = l.units
        func reorder(_ t: Tensor) -> Tensor {   // [.., 4u] in i f c o → [4u, ..] in i o f c
            let rows = t.rank == 1 ? t.reshaped(to: [1, 4 * units]) : t
            let parts = (0..<4).map { rows.sliced(axis: 1, ($0 * units)..<(($0 + 1) * units)) }
            return Tensor.concatenated([parts[0], parts[3], parts[1], parts[2]], axis: 1).transposed()
        }
        let kernel = try weight(l.kernel, l, "kernel")
        let w = reorder(kernel).reshaped(to: [1, 4 * units, kernel.shape[0]])
        let r = reorder(try weight(l.recurrentKernel, l, "recurrent kernel")).reshaped(to: [1, 4 * units, units])
        let b = reorder(try weight(l.bias, l, "bias")).reshaped(to: [1, 4 * units])
        let bias = Tensor.concatenated([b, Tensor.zeros([1, 4 * units])], axis: 1)   // W's bias, then R's
        // Time-major (layout 0: onnxruntime runs no other): x [batch, steps, f] → [steps, batch, f].
        let timeMajor = try node("Transpose", [x], name: "\(name)/time_major") { $0.ints("perm", [1, 0, 2]) }
        let outs = try nodeOutputs("LSTM", [timeMajor, constant("\(name)/W", w), constant("\(name)/R", r), constant("\(name)/B", bias)],
                                   name: name, outputs: 3) { $0.int("hidden_size", units) }
        if l.returnSequences {   // Y [steps, 1, batch, units] → [batch, steps, units]
            let y = try node("Squeeze", [outs[0], int64s("\(name)/axis", [1])], name: "\(name)/sequence")
            return try node("Transpose", [y], name: "\(name)/batch_major") { $0.ints("perm", [1, 0, 2]) }
        }
        return try node("Squeeze", [outs[1], int64s("\(name)/axis", [0])], name: "\(name)/last")   // Y_h [1, batch, units]
    }
}

/// AttributeProto fields: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20.
struct AttributeWriter {
    var writer = ProtobufWriter()
    mutating func int(_ name: String, _ v: Int) { writer.message(5) { $0.string(1, name); $0.int(3, v); $0.int(20, 2) } }
    mutating func float(_ name: String, _ v: Float) { writer.message(5) { $0.string(1, name); $0.float(2, v); $0.int(20, 1) } }
    mutating func string(_ name: String, _ v: String) { writer.message(5) { $0.string(1, name); $0.string(4, v); $0.int(20, 3) } }
    mutating func ints(_ name: String, _ v: [Int]) { writer.message(5) { w in w.string(1, name); for x in v { w.int(8, x) }; w.int(20, 7) } }
}
