import Foundation

extension Model {
    /// Reads an ONNX model (`.onnx`, opsets 7 to 23) as a functional model of Lamina's layers,
    /// with the file's weights: the way back from `saveONNX`, and a way in for models exported
    /// by PyTorch (`torch.onnx.export`) or built with `onnx.helper`. The model trains, saves
    /// and exports like any other.
    ///
    /// The model keeps Keras's conventions: batch first, channels last. An ONNX image input in
    /// ONNX's NCHW layout becomes a channels-last `Input` (pass `[batch, height, width,
    /// channels]` to `predict`), and a time-major LSTM input a batch-major one; the layout
    /// changes a Lamina-exported file wraps around convolutions cancel out. Outputs keep the
    /// file's layout.
    ///
    /// Operators read: Gemm, MatMul (+ Add: `Dense`), Conv (`Conv2D`, after a `ZeroPadding2D`
    /// when its pads are not TensorFlow's "same"), MaxPool, AveragePool, GlobalAveragePool,
    /// GlobalMaxPool, ReduceMean and ReduceMax over the spatial axes, BatchNormalization, Relu,
    /// LeakyRelu, Sigmoid, Tanh,
    /// Softmax, LogSoftmax, Elu, Selu, Softplus, Softsign, Exp, HardSigmoid, Clip, Erf (in the
    /// GELU pattern), Flatten, Reshape, Transpose, Squeeze (of LSTM outputs), Identity, Dropout,
    /// Cast, Gather (`Embedding`), Add, Sub, Mul, Div, Min, Max (of tensors, or of a tensor and a
    /// constant), Concat, LSTM (forward, default activations; initial states zeros, constant or
    /// computed from the input's shape as PyTorch exports them), Constant. Any other operator, or
    /// an attribute these layers cannot express, is a `LaminaError` naming the node and its op.
    public static func loadONNX(_ path: String) throws -> Model {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw LaminaError(.io, "loadONNX: cannot read \(path)")
        }
        return try loadONNX(bytes: [UInt8](data), name: url.lastPathComponent)
    }

    /// The same from the bytes of an ONNX file.
    public static func loadONNX(bytes: [UInt8], name: String = "model.onnx") throws -> Model {
        var importer = try ONNXImporter(try ONNXModelProto(bytes, what: name), file: name)
        return try importer.build()
    }
}

/// Builds a functional model from an ONNX graph, node by node. Each ONNX value is a symbolic
/// tensor of the model with a permutation: the ONNX tensor is the Lamina tensor with its axes
/// permuted (`onnx axis i` = `lamina axis perm[i]`), so an NCHW value is carried as NHWC and
/// the transposes around convolutions become bookkeeping, not layers.
struct ONNXImporter {
    private enum Value {
        case tensor(SymbolicTensor, perm: [Int])
        case constant(ONNXTensorProto)
        /// An ONNX LSTM's outputs before their Squeeze: Y [steps, 1, batch, units] and Y_h [1, batch, units].
        case lstmSequence(SymbolicTensor), lstmLast(SymbolicTensor)
        /// A shape computed when the model runs (Shape, Gather, Unsqueeze, Concat of one), and
        /// zeros of such a shape (Expand, ConstantOfShape): PyTorch's initial LSTM states.
        case runtimeShape, runtimeZeros
    }

    private let proto: ONNXModelProto
    private let file: String
    private var values: [String: Value] = [:]
    private var consumers: [String: [Int]] = [:]
    private var fused = Set<Int>()
    private var usedNames = Set<String>()
    private var weights: [(Layer, [Tensor])] = []

    init(_ proto: ONNXModelProto, file: String) throws {
        self.proto = proto
        self.file = file
        for (i, node) in proto.nodes.enumerated() { for input in node.inputs where !input.isEmpty { consumers[input, default: []].append(i) } }
        for (name, t) in proto.initializers { values[name] = .constant(t) }
        guard proto.opset == 0 || (7...23).contains(proto.opset) else {
            throw LaminaError.configuration("loadONNX: \(file) uses opset \(proto.opset); Lamina reads opsets 7 to 23")
        }
    }

    mutating func build() throws -> Model {
        var inputs: [Input] = []
        for info in proto.inputs where proto.initializers[info.name] == nil {
            let (input, perm) = try makeInput(info)
            inputs.append(input)
            values[info.name] = .tensor(input.symbolic, perm: perm)
        }
        for (i, node) in proto.nodes.enumerated() where !fused.contains(i) {
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw unsupported(node, "operators of domain '\(node.domain)' are not read")
            }
            try translate(i, node)
        }
        let outputs = try proto.outputs.map { info -> SymbolicTensor in
            guard let value = values[info.name] else { throw LaminaError.configuration("loadONNX: \(file): graph output '\(info.name)' is never computed") }
            guard case .tensor(let t, let perm) = value else {
                throw LaminaError.configuration("loadONNX: \(file): graph output '\(info.name)' is a constant or an unsqueezed LSTM output")
            }
            return try materialize(t, perm, "output \(info.name)")
        }
        if let error = outputs.lazy.compactMap(\.error).first { throw LaminaError.configuration("loadONNX: \(file): \(error.message)") }
        let model = Model(inputs: inputs, outputs: outputs, name: layerName(proto.graphName) ?? "onnx_model")
        try model.checkDefinition()
        for (layer, w) in weights {
            do { try layer.setWeights(w) } catch let error as LaminaError {
                throw LaminaError.configuration("loadONNX: \(file): weights of \(layer.name): \(error.message)")
            }
        }
        return model
    }

    // MARK: - Helpers

    private func unsupported(_ node: ONNXNode, _ why: String) -> LaminaError {
        LaminaError.configuration("loadONNX: \(file): \(node.label): \(why)")
    }

    /// A Lamina layer name from an ONNX name (`/conv1/Conv` → `conv1_Conv`), unique in the model.
    private mutating func layerName(_ onnx: String) -> String? {
        var base = String(onnx.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        while base.hasPrefix("_") { base.removeFirst() }
        while base.hasSuffix("_") { base.removeLast() }
        guard !base.isEmpty else { return nil }
        if base.first!.isNumber { base = "n" + base }
        var name = base, k = 1
        while usedNames.contains(name) { name = "\(base)_\(k)"; k += 1 }
        usedNames.insert(name)
        return name
    }

    private mutating func name(_ node: ONNXNode, _ suffix: String = "") -> String? {
        layerName((node.name.isEmpty ? node.outputs.first ?? "" : node.name) + suffix)
    }

    private func constant(_ name: String) -> ONNXTensorProto? {
        if case .constant(let t)? = values[name] { return t }
        return nil
    }

    private func tensor(_ name: String, _ node: ONNXNode) throws -> (SymbolicTensor, [Int]) {
        switch values[name] {
        case .tensor(let t, let perm)?: return (t, perm)
        case .constant?: throw unsupported(node, "input '\(name)' is a constant where a tensor computed from the inputs is expected")
        case .lstmSequence?, .lstmLast?: throw unsupported(node, "input '\(name)' is an LSTM output that is not squeezed as Lamina's exporter does")
        case .runtimeShape?, .runtimeZeros?: throw unsupported(node, "input '\(name)' is a shape computation, read only as an LSTM's initial zero state")
        case nil: throw unsupported(node, "input '\(name)' is not computed before this node")
        }
    }

    /// The ONNX shape of a value (batch as -1).
    private func onnxShape(_ t: SymbolicTensor, _ perm: [Int]) -> [Int] {
        let lamina = [-1] + t.shape
        return perm.map { lamina[$0] }
    }

    private static func identity(_ rank: Int) -> [Int] { Array(0..<rank) }

    /// The tensor in its ONNX layout: a `Permute` when its axes are permuted.
    private mutating func materialize(_ t: SymbolicTensor, _ perm: [Int], _ what: String) throws -> SymbolicTensor {
        if perm == Self.identity(perm.count) { return t }
        guard perm.first == 0 else {
            throw LaminaError.configuration("loadONNX: \(file): \(what) moves the batch axis (permutation \(perm)), which a Keras-style model cannot express")
        }
        return Permute(Array(perm.dropFirst()), name: layerName("permute_" + what))(t)
    }

    private mutating func plain(_ name: String, _ node: ONNXNode) throws -> SymbolicTensor {
        let (t, perm) = try tensor(name, node)
        return try materialize(t, perm, node.name.isEmpty ? name : node.name)
    }

    private func only(consumerOf output: String) -> Int? {
        guard let list = consumers[output], list.count == 1, !proto.outputs.contains(where: { $0.name == output }) else { return nil }
        return list[0]
    }

    /// Whether a node looked ahead at (to fuse it) has `inputs` inputs and an output.
    private static func wellFormed(_ node: ONNXNode, inputs: Int) -> Bool {
        node.inputs.count == inputs && !(node.outputs.first ?? "").isEmpty
    }

    private func int(_ node: ONNXNode, _ key: String, _ fallback: Int) -> Int { node.attributes[key]?.i ?? fallback }
    private func float(_ node: ONNXNode, _ key: String, _ fallback: Float) -> Float { node.attributes[key]?.f ?? fallback }
    private func ints(_ node: ONNXNode, _ key: String) -> [Int]? { node.attributes[key].map(\.ints) }

    private mutating func set(_ node: ONNXNode, _ t: SymbolicTensor, _ perm: [Int]) throws {
        if let error = t.error { throw unsupported(node, error.message) }
        values[node.outputs[0]] = .tensor(t, perm: perm)
    }

    // MARK: - Inputs

    private mutating func makeInput(_ info: ONNXValueInfo) throws -> (Input, [Int]) {
        guard info.dims.count >= 2 else {
            throw LaminaError.configuration("loadONNX: \(file): input '\(info.name)' has rank \(info.dims.count); Lamina's inputs have a batch axis and at least one more")
        }
        let dtype: DType
        switch info.elementType {
        case 1: dtype = .float32
        case 11: dtype = .float64
        case 6, 7: dtype = .int32
        default: throw LaminaError.configuration("loadONNX: \(file): input '\(info.name)' has ONNX element type \(info.elementType) (float, double, int32 or int64 are read)")
        }
        let uses = (consumers[info.name] ?? []).map { proto.nodes[$0] }
        var perm = Self.identity(info.dims.count)
        var batchAxis = 0
        if info.dims.count == 4, !uses.allSatisfy({ $0.op == "Transpose" && $0.attributes["perm"]?.ints == [0, 3, 1, 2] }) {
            perm = [0, 3, 1, 2]   // NCHW, carried as NHWC
        } else if info.dims.count == 3, uses.contains(where: { $0.op == "LSTM" && $0.inputs.first == info.name }) {
            perm = [1, 0, 2]      // time-major [steps, batch, features], carried batch-major
            batchAxis = 1
        }
        // The Lamina shape: the ONNX dims in Lamina's axis order, batch left out.
        var shape = [Int](repeating: 0, count: info.dims.count)
        for (onnxAxis, laminaAxis) in perm.enumerated() {
            guard onnxAxis == batchAxis || info.dims[onnxAxis].map({ $0 > 0 }) == true else {
                throw LaminaError.configuration("loadONNX: \(file): input '\(info.name)' has dims \(info.dims.map { $0.map(String.init) ?? "?" }); only the batch axis may be symbolic")
            }
            shape[laminaAxis] = info.dims[onnxAxis] ?? -1
        }
        let input = Input(shape: Array(shape.dropFirst()), dtype: dtype, name: layerName(info.name))
        return (input, perm)
    }

    // MARK: - Operators

    private mutating func translate(_ index: Int, _ node: ONNXNode) throws {
        guard !node.outputs.isEmpty, !node.outputs[0].isEmpty else { throw unsupported(node, "the node has no output") }
        guard node.op == "Constant" || !node.inputs.isEmpty else { throw unsupported(node, "the node has no input") }
        let x = node.inputs.first ?? ""
        if try shapeComputation(node) { return }
        switch node.op {
        case "Identity", "Dropout":
            guard let v = values[x] else { throw unsupported(node, "input '\(x)' is not computed before this node") }
            values[node.outputs[0]] = v
        case "Cast":
            let (t, perm) = try tensor(x, node)
            try set(node, t, perm)
        case "Constant":
            guard let value = node.attributes["value"]?.t else { throw unsupported(node, "only a tensor 'value' is read") }
            values[node.outputs[0]] = .constant(value)
        case "Transpose":
            let (t, perm) = try tensor(x, node)
            let q = ints(node, "perm") ?? Array((0..<perm.count).reversed())
            guard q.sorted() == Self.identity(perm.count) else { throw unsupported(node, "permutation \(q) does not fit rank \(perm.count)") }
            try set(node, t, q.map { perm[$0] })
        case "Relu", "Sigmoid", "Tanh", "Elu", "Selu", "Softplus", "Softsign", "Exp", "LeakyRelu", "HardSigmoid":
            let (t, perm) = try tensor(x, node)
            try set(node, try elementwise(node)(t), perm)
        case "Softmax", "LogSoftmax":
            var (t, perm) = try tensor(x, node)
            var axis = int(node, "axis", proto.opset >= 13 ? -1 : 1)
            if axis < 0 { axis += perm.count }
            guard (0..<perm.count).contains(axis) else { throw unsupported(node, "axis \(axis) is out of range for rank \(perm.count)") }
            if perm[axis] != perm.count - 1 { (t, perm) = (try materialize(t, perm, node.name), Self.identity(perm.count)) }
            guard perm[axis] == perm.count - 1, proto.opset >= 13 || axis == perm.count - 1 else {
                throw unsupported(node, "axis \(axis) is not the last (Lamina's softmax runs over the last axis)")
            }
            let kind: ActivationFunction.Kind = node.op == "Softmax" ? .softmax : .logSoftmax
            try set(node, Activation(ActivationFunction(kind), name: name(node))(t), perm)
        case "Clip":
            let (t, perm) = try tensor(x, node)
            let low = node.inputs.count > 1 && !node.inputs[1].isEmpty ? try scalar(node.inputs[1], node) : node.attributes["min"].flatMap { $0.f.map(Double.init) }
            let high = node.inputs.count > 2 && !node.inputs[2].isEmpty ? try scalar(node.inputs[2], node) : node.attributes["max"].flatMap { $0.f.map(Double.init) }
            var y = t
            if low == 0 && high == 6 {
                y = Activation(ActivationFunction(.relu6), name: name(node))(t)
            } else {
                if let low { y = NumPyOperation(.maximum, operands: [nil, low], name: name(node, "_min"))(y) }
                if let high { y = NumPyOperation(.minimum, operands: [nil, high], name: name(node, "_max"))(y) }
            }
            try set(node, y, perm)
        case "Gemm": try gemm(node)
        case "MatMul": try matmul(index, node)
        case "Add", "Sub", "Mul", "Div", "Min", "Max", "Sum", "Mean": try binary(index, node)
        case "Conv": try conv(node)
        case "MaxPool", "AveragePool": try pool(node)
        case "GlobalAveragePool", "GlobalMaxPool":
            let (t, perm) = try tensor(x, node)
            guard perm == [0, 3, 1, 2] else { throw unsupported(node, "reads 4-D NCHW images (got rank \(perm.count))") }
            let layer: Layer = node.op == "GlobalAveragePool" ? GlobalAveragePooling2D(keepDims: true, name: name(node))
                                                               : GlobalMaxPooling2D(keepDims: true, name: name(node))
            try set(node, layer(t), perm)
        case "ReduceMean", "ReduceMax": try reduce(node)
        case "BatchNormalization": try batchNormalization(node)
        case "Flatten":
            guard int(node, "axis", 1) == 1 else { throw unsupported(node, "axis \(int(node, "axis", 1)); Lamina's Flatten keeps the batch axis only") }
            let t = try plain(x, node)
            try set(node, Flatten(name: name(node))(t), [0, 1])
        case "Reshape":
            let t = try plain(x, node)
            guard node.inputs.count > 1, let shape = constant(node.inputs[1])?.values.map({ Int($0) }) else {
                throw unsupported(node, "the target shape must be a constant (initializer)")
            }
            guard let first = shape.first, first == 0 || first == -1 else {
                throw unsupported(node, "target shape \(shape) does not keep the batch axis first (0 or -1)")
            }
            let source = [-1] + t.shape
            let rest = shape.enumerated().dropFirst().map { i, d in d == 0 && i < source.count ? source[i] : d }
            try set(node, Reshape(Array(rest), name: name(node))(t), Self.identity(shape.count))
        case "Squeeze":
            let axes = ints(node, "axes") ?? (node.inputs.count > 1 ? constant(node.inputs[1])?.values.map { Int($0) } : nil) ?? []
            switch values[x] {
            case .lstmSequence(let t)? where axes == [1]: try set(node, t, [1, 0, 2])
            case .lstmLast(let t)? where axes == [0]: try set(node, t, [0, 1])
            default: throw unsupported(node, "Squeeze is read on an LSTM's outputs only (Y on axis 1, Y_h on axis 0)")
            }
        case "Concat":
            let (tensors, perm) = try alignedInputs(node)
            var axis = int(node, "axis", 1)
            if axis < 0 { axis += perm.count }
            guard (0..<perm.count).contains(axis) else { throw unsupported(node, "axis \(axis) is out of range for rank \(perm.count)") }
            guard perm[axis] != 0 else { throw unsupported(node, "concatenation along the batch axis") }
            try set(node, Concatenate(axis: perm[axis], name: name(node))(tensors), perm)
        case "Gather":
            guard let table = constant(x), table.dims.count == 2, int(node, "axis", 0) == 0, node.inputs.count > 1 else {
                throw unsupported(node, "Gather is read as an embedding lookup (a constant 2-D table, axis 0)")
            }
            let (ids, perm) = try tensor(node.inputs[1], node)
            let embedding = Embedding(inputDim: table.dims[0], outputDim: table.dims[1], name: name(node))
            try set(node, embedding(ids), perm + [perm.count])
            weights.append((embedding, [table.tensor]))
        case "LSTM": try lstm(node)
        default:
            throw unsupported(node, "operator \(node.op) has no Lamina translation")
        }
    }

    /// PyTorch's initial LSTM states: zeros expanded to a shape read from the input when the
    /// model runs. Tracked as markers (no layers); true when `node` was one of these steps.
    private mutating func shapeComputation(_ node: ONNXNode) throws -> Bool {
        func isRuntime(_ name: String) -> Bool { if case .runtimeShape? = values[name] { return true } else { return false } }
        let output = node.outputs[0]
        switch node.op {
        case "Shape":
            _ = try tensor(node.inputs[0], node)
            values[output] = .runtimeShape
        case "Gather", "Unsqueeze", "Squeeze", "Cast":
            guard isRuntime(node.inputs[0]) else { return false }
            values[output] = .runtimeShape
        case "Concat" where node.inputs.contains(where: isRuntime) && node.inputs.allSatisfy({ isRuntime($0) || constant($0) != nil }):
            values[output] = .runtimeShape
        case "Expand" where node.inputs.count == 2 && (isRuntime(node.inputs[1]) || constant(node.inputs[1]) != nil):
            guard let c = constant(node.inputs[0]), c.values.allSatisfy({ $0 == 0 }) else { return false }
            values[output] = .runtimeZeros
        case "ConstantOfShape" where isRuntime(node.inputs[0]):
            guard (node.attributes["value"]?.t?.values ?? [0]).allSatisfy({ $0 == 0 }) else {
                throw unsupported(node, "only zeros of a run-time shape are read")
            }
            values[output] = .runtimeZeros
        default:
            return false
        }
        return true
    }

    private func scalar(_ name: String, _ node: ONNXNode) throws -> Double {
        guard let c = constant(name), c.values.count == 1 else { throw unsupported(node, "'\(name)' must be a constant scalar") }
        return c.values[0]
    }

    /// The layer of a one-input pointwise operator.
    private mutating func elementwise(_ node: ONNXNode) throws -> Layer {
        let n = name(node)
        func near(_ a: Float, _ b: Double) -> Bool { abs(Double(a) - b) < 1e-5 }
        switch node.op {
        case "Relu": return Activation(ActivationFunction(.relu), name: n)
        case "Sigmoid": return Activation(ActivationFunction(.sigmoid), name: n)
        case "Tanh": return Activation(ActivationFunction(.tanh), name: n)
        case "Softplus": return Activation(ActivationFunction(.softplus), name: n)
        case "Softsign": return Activation(ActivationFunction(.softsign), name: n)
        case "Exp": return Activation(ActivationFunction(.exponential), name: n)
        case "LeakyRelu": return LeakyReLU(negativeSlope: Double(float(node, "alpha", 0.01)), name: n)
        case "Elu":
            guard near(float(node, "alpha", 1), 1) else { throw unsupported(node, "alpha \(float(node, "alpha", 1)); Lamina's elu has alpha 1") }
            return Activation(ActivationFunction(.elu), name: n)
        case "Selu":
            guard near(float(node, "alpha", 1.67326319), 1.6732632423543772), near(float(node, "gamma", 1.05070102), 1.0507009873554805) else {
                throw unsupported(node, "alpha and gamma differ from selu's constants")
            }
            return Activation(ActivationFunction(.selu), name: n)
        default:   // HardSigmoid: Keras's hard_sigmoid is max(0, min(1, x/6 + 1/2))
            guard near(float(node, "alpha", 0.2), 1.0 / 6), near(float(node, "beta", 0.5), 0.5) else {
                throw unsupported(node, "alpha \(float(node, "alpha", 0.2)), beta \(float(node, "beta", 0.5)); Keras's hard_sigmoid has 1/6 and 1/2")
            }
            return Activation(ActivationFunction(.hardSigmoid), name: n)
        }
    }

    // MARK: Dense

    private mutating func gemm(_ node: ONNXNode) throws {
        let t = try plain(node.inputs[0], node)
        guard t.shape.count == 1, node.inputs.count >= 2, let b = constant(node.inputs[1]), b.dims.count == 2 else {
            throw unsupported(node, "Gemm is read as a Dense layer: a [batch, features] input and a constant 2-D weight")
        }
        guard int(node, "transA", 0) == 0 else { throw unsupported(node, "transA = 1") }
        let (alpha, beta) = (Double(float(node, "alpha", 1)), Double(float(node, "beta", 1)))
        var kernel = b.tensor
        if int(node, "transB", 0) == 1 { kernel = kernel.transposed() }
        if alpha != 1 { kernel = kernel * alpha }
        var bias: Tensor?
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            guard let c = constant(node.inputs[2]), c.values.count == kernel.shape[1] || c.values.count == 1 else {
                throw unsupported(node, "C must be a constant vector of \(kernel.shape[1]) values")
            }
            let values = c.values.count == 1 ? [Double](repeating: c.values[0], count: kernel.shape[1]) : c.values
            bias = Tensor(shape: [kernel.shape[1]], scalars: values.map { Float($0 * beta) })
        }
        try dense(node, t, kernel: kernel, bias: bias, output: node.outputs[0])
    }

    private mutating func matmul(_ index: Int, _ node: ONNXNode) throws {
        let (t, perm) = try tensor(node.inputs[0], node)
        guard node.inputs.count == 2, let w = constant(node.inputs[1]), w.dims.count == 2 else {
            throw unsupported(node, "MatMul is read as a Dense layer: a tensor times a constant 2-D weight")
        }
        let x = perm.last == perm.count - 1 ? t : try materialize(t, perm, node.name)
        // MatMul + Add of a constant vector (the exporter's Dense; PyTorch's Linear on rank > 2).
        if let next = only(consumerOf: node.outputs[0]), proto.nodes[next].op == "Add", Self.wellFormed(proto.nodes[next], inputs: 2) {
            let add = proto.nodes[next]
            let other = add.inputs[0] == node.outputs[0] ? add.inputs[1] : add.inputs[0]
            if let c = constant(other), c.values.count == w.dims[1], c.dims.filter({ $0 != 1 }).count <= 1 {
                fused.insert(next)
                try dense(node, x, kernel: w.tensor, bias: Tensor(shape: [w.dims[1]], scalars: c.values.map { Float($0) }),
                          output: add.outputs[0], perm: perm.last == perm.count - 1 ? perm : nil)
                return
            }
        }
        try dense(node, x, kernel: w.tensor, bias: nil, output: node.outputs[0], perm: perm.last == perm.count - 1 ? perm : nil)
    }

    private mutating func dense(_ node: ONNXNode, _ x: SymbolicTensor, kernel: Tensor, bias: Tensor?, output: String, perm: [Int]? = nil) throws {
        let layer = Dense(kernel.shape[1], useBias: bias != nil, name: name(node))
        let y = layer(x)
        if let error = y.error { throw unsupported(node, error.message) }
        values[output] = .tensor(y, perm: perm ?? Self.identity(x.shape.count + 1))
        weights.append((layer, [kernel] + (bias.map { [$0] } ?? [])))
    }

    // MARK: Pointwise with two operands

    /// The node's inputs in one axis order: their own when they share it, else each
    /// materialized in ONNX's order (the identity permutation).
    private mutating func alignedInputs(_ node: ONNXNode) throws -> ([SymbolicTensor], [Int]) {
        let parts = try node.inputs.map { try tensor($0, node) }
        guard let perm = parts.first?.1 else { throw unsupported(node, "has no inputs") }
        guard parts.contains(where: { $0.1 != perm }) else { return (parts.map(\.0), perm) }
        return (try parts.map { try materialize($0.0, $0.1, node.name) }, Self.identity(perm.count))
    }

    private mutating func binary(_ index: Int, _ node: ONNXNode) throws {
        let constants = node.inputs.map { constant($0) }
        let tensorInputs = node.inputs.indices.filter { constants[$0] == nil }
        guard !tensorInputs.isEmpty else { throw unsupported(node, "all operands are constants (fold them before export)") }
        if tensorInputs.count == node.inputs.count {
            guard node.op != "Div" else { throw unsupported(node, "division of two computed tensors") }
            let (tensors, perm) = try alignedInputs(node)
            let n = name(node)
            let layer: MergeLayer
            switch node.op {
            case "Add", "Sum": layer = Add(name: n)
            case "Sub": layer = Subtract(name: n)
            case "Mul": layer = Multiply(name: n)
            case "Min": layer = Minimum(name: n)
            case "Max": layer = Maximum(name: n)
            default: layer = Average(name: n)
            }
            try set(node, layer(tensors), perm)
            return
        }
        guard node.inputs.count == 2 else { throw unsupported(node, "more than two operands with a constant among them") }
        let tensorIndex = tensorInputs[0], c = constants[1 - tensorIndex]!
        let (t, perm) = try tensor(node.inputs[tensorIndex], node)
        if c.values.count == 1 {
            if node.op == "Mul", try gelu(index, node, t, perm, c.values[0]) { return }
            let op: NumPyOperation.Operation
            switch node.op {
            case "Add": op = .add
            case "Sub": op = .subtract
            case "Mul": op = .multiply
            case "Div": op = .divide
            case "Min": op = .minimum
            case "Max": op = .maximum
            default: throw unsupported(node, "\(node.op) with a constant")
            }
            let operands: [Double?] = tensorIndex == 0 ? [nil, c.values[0]] : [c.values[0], nil]
            try set(node, NumPyOperation(op, operands: operands, name: name(node))(t), perm)
            return
        }
        // A constant vector along one axis: a per-channel affine map y = x·a + b, which
        // Lamina's BatchNormalization expresses (moving mean 0, variance 1, and an epsilon of
        // 1e-12, which vanishes next to 1 in float32: exactly x·a + b).
        let rank = perm.count
        guard c.dims.count <= rank, c.dims.filter({ $0 != 1 }).count == 1,
              let k = c.dims.firstIndex(where: { $0 != 1 }), case let axis = rank - c.dims.count + k,
              perm[axis] == rank - 1, ["Add", "Sub", "Mul", "Div"].contains(node.op), tensorIndex == 0 || node.op == "Add" || node.op == "Mul" else {
            throw unsupported(node, "\(node.op) with a constant of dims \(c.dims): read with a scalar or a vector along the channels axis")
        }
        let v = c.values
        var scale = [Double](repeating: 1, count: v.count), offset = [Double](repeating: 0, count: v.count)
        switch node.op {
        case "Mul": scale = v
        case "Div": scale = v.map { 1 / $0 }
        case "Sub": offset = v.map { -$0 }
        default: offset = v
        }
        var output = node.outputs[0]
        // Mul then Add of vectors (the exporter's BatchNormalization): one layer.
        if node.op == "Mul", let next = only(consumerOf: output), proto.nodes[next].op == "Add", Self.wellFormed(proto.nodes[next], inputs: 2) {
            let add = proto.nodes[next]
            let other = add.inputs[0] == output ? add.inputs[1] : add.inputs[0]
            if let b = constant(other), b.values.count == v.count, b.dims.filter({ $0 != 1 }).count == 1 {
                offset = b.values
                output = add.outputs[0]
                fused.insert(next)
            }
        }
        let layer = BatchNormalization(epsilon: 1e-12, name: name(node))
        let y = layer(t)
        if let error = y.error { throw unsupported(node, error.message) }
        values[output] = .tensor(y, perm: perm)
        let vector = { (d: [Double]) in Tensor(shape: [d.count], scalars: d.map { Float($0) }) }
        weights.append((layer, [vector(scale), vector(offset), vector([Double](repeating: 0, count: v.count)),
                                vector([Double](repeating: 1, count: v.count))]))
    }

    /// x · (1 + erf(x · 1/√2)) · 1/2, as the exporter writes GELU: one `gelu` activation.
    private mutating func gelu(_ index: Int, _ node: ONNXNode, _ t: SymbolicTensor, _ perm: [Int], _ c: Double) throws -> Bool {
        guard abs(c - 0.5.squareRoot()) < 1e-6, let xName = node.inputs.first(where: { constant($0) == nil }) else { return false }
        var chain: [Int] = []
        var current = node.outputs[0]
        for (op, constantValue) in [("Erf", nil), ("Add", 1.0), ("Mul", 0.5)] as [(String, Double?)] {
            guard let next = only(consumerOf: current), proto.nodes[next].op == op,
                  Self.wellFormed(proto.nodes[next], inputs: op == "Erf" ? 1 : 2) else { return false }
            let n = proto.nodes[next]
            if let constantValue {
                guard let other = n.inputs.first(where: { $0 != current }), let k = constant(other), k.values == [constantValue] else { return false }
            }
            chain.append(next)
            current = n.outputs[0]
        }
        guard let last = only(consumerOf: current), proto.nodes[last].op == "Mul", Self.wellFormed(proto.nodes[last], inputs: 2),
              Set(proto.nodes[last].inputs) == [current, xName] else { return false }
        chain.append(last)
        fused.formUnion(chain)
        let y = Activation(ActivationFunction(.gelu), name: name(proto.nodes[last]))(t)
        if let error = y.error { throw unsupported(node, error.message) }
        values[proto.nodes[last].outputs[0]] = .tensor(y, perm: perm)
        return true
    }

    // MARK: Images

    /// Keras's padding for ONNX pads [top, left, bottom, right]: `.valid`, `.same` (TensorFlow's
    /// "same", extra pad at the end), or nil when neither.
    private func padding(_ node: ONNXNode, input: [Int], kernel: [Int], strides: [Int], dilations: [Int]) throws -> (Padding, [Int])? {
        switch node.attributes["auto_pad"]?.s ?? "NOTSET" {
        case "SAME_UPPER": return (.same, [0, 0, 0, 0])
        case "VALID": return (.valid, [0, 0, 0, 0])
        case "NOTSET": break
        default: throw unsupported(node, "auto_pad \(node.attributes["auto_pad"]?.s ?? "") (SAME_LOWER puts the extra pad first, which Keras's padding does not)")
        }
        let pads = ints(node, "pads") ?? [0, 0, 0, 0]
        guard pads.count == 4 else { throw unsupported(node, "pads \(pads)") }
        if pads.allSatisfy({ $0 == 0 }) { return (.valid, pads) }
        var same = [0, 0, 0, 0]
        for axis in 0..<2 {
            let effective = (kernel[axis] - 1) * dilations[axis] + 1
            let out = (input[axis] + strides[axis] - 1) / strides[axis]
            let total = Swift.max((out - 1) * strides[axis] + effective - input[axis], 0)
            (same[axis], same[axis + 2]) = (total / 2, total - total / 2)
        }
        return pads == same ? (.same, pads) : nil
    }

    private mutating func conv(_ node: ONNXNode) throws {
        var (t, perm) = try tensor(node.inputs[0], node)
        guard perm == [0, 3, 1, 2] else { throw unsupported(node, "reads 2-D convolutions of NCHW images (rank \(perm.count), layout \(perm))") }
        guard node.inputs.count >= 2, let w = constant(node.inputs[1]), w.dims.count == 4 else {
            throw unsupported(node, "the weight must be a constant [out, in/groups, kh, kw]")
        }
        let kernel = [w.dims[2], w.dims[3]]
        guard ints(node, "kernel_shape").map({ $0 == kernel }) ?? true else { throw unsupported(node, "kernel_shape differs from the weight's") }
        let strides = ints(node, "strides") ?? [1, 1], dilations = ints(node, "dilations") ?? [1, 1]
        let groups = int(node, "group", 1)
        guard strides.count == 2, dilations.count == 2 else { throw unsupported(node, "strides \(strides), dilations \(dilations)") }
        var chosen = try padding(node, input: [t.shape[0], t.shape[1]], kernel: kernel, strides: strides, dilations: dilations)?.0
        if chosen == nil, let pads = ints(node, "pads"), pads.count == 4, pads.allSatisfy({ $0 >= 0 }) {
            // Explicit pads that are not TensorFlow's "same" (PyTorch's padding=1 with stride 2).
            t = ZeroPadding2D(padding: ((pads[0], pads[2]), (pads[1], pads[3])), name: name(node, "_pad"))(t)
            chosen = .valid
        }
        guard let padding = chosen else { throw unsupported(node, "pads \(ints(node, "pads") ?? [])") }
        let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? constant(node.inputs[2]) : nil
        if node.inputs.count > 2 && !node.inputs[2].isEmpty && bias == nil { throw unsupported(node, "the bias must be a constant") }
        let layer = Conv2D(w.dims[0], kernelSize: (kernel[0], kernel[1]), strides: (strides[0], strides[1]), padding: padding,
                           dilationRate: (dilations[0], dilations[1]), useBias: bias != nil, groups: groups, name: name(node))
        try set(node, layer(t), perm)
        weights.append((layer, [w.tensor.permuted([2, 3, 1, 0])] + (bias.map { [$0.tensor] } ?? [])))   // OIHW → HWIO
    }

    private mutating func pool(_ node: ONNXNode) throws {
        let (t, perm) = try tensor(node.inputs[0], node)
        guard perm == [0, 3, 1, 2] else { throw unsupported(node, "reads 2-D pooling of NCHW images (rank \(perm.count))") }
        guard let kernel = ints(node, "kernel_shape"), kernel.count == 2 else { throw unsupported(node, "needs a 2-D kernel_shape") }
        let strides = ints(node, "strides") ?? [1, 1]
        guard int(node, "ceil_mode", 0) == 0, (ints(node, "dilations") ?? [1, 1]) == [1, 1], node.outputs.count == 1 || node.outputs[1].isEmpty else {
            throw unsupported(node, "ceil_mode, dilations or an indices output")
        }
        guard case let (padding, pads)? = try padding(node, input: [t.shape[0], t.shape[1]], kernel: kernel, strides: strides, dilations: [1, 1]) else {
            throw unsupported(node, "pads \(ints(node, "pads") ?? []) are neither none nor TensorFlow's \"same\"")
        }
        if node.op == "AveragePool", int(node, "count_include_pad", 0) == 1, pads.contains(where: { $0 != 0 }) {
            throw unsupported(node, "count_include_pad = 1 with padding (Keras leaves the padding out of the average)")
        }
        let layer: Layer = node.op == "MaxPool"
            ? MaxPooling2D(poolSize: (kernel[0], kernel[1]), strides: (strides[0], strides[1]), padding: padding, name: name(node))
            : AveragePooling2D(poolSize: (kernel[0], kernel[1]), strides: (strides[0], strides[1]), padding: padding, name: name(node))
        try set(node, layer(t), perm)
    }

    private mutating func reduce(_ node: ONNXNode) throws {
        let (t, perm) = try tensor(node.inputs[0], node)
        let rank = perm.count
        var axes = ints(node, "axes") ?? (node.inputs.count > 1 ? constant(node.inputs[1])?.values.map { Int($0) } : nil) ?? []
        axes = axes.map { $0 < 0 ? $0 + rank : $0 }
        guard axes.allSatisfy({ (0..<rank).contains($0) }) else { throw unsupported(node, "axes \(axes) are out of range for rank \(rank)") }
        let physical = Set(axes.map { perm[$0] })
        let keep = int(node, "keepdims", 1) == 1
        let layer: Layer
        switch (rank, physical) {
        case (4, [1, 2]):
            layer = node.op == "ReduceMean" ? GlobalAveragePooling2D(keepDims: keep, name: name(node)) : GlobalMaxPooling2D(keepDims: keep, name: name(node))
        case (3, [1]):
            layer = node.op == "ReduceMean" ? GlobalAveragePooling1D(keepDims: keep, name: name(node)) : GlobalMaxPooling1D(keepDims: keep, name: name(node))
        default:
            throw unsupported(node, "axes \(axes) are not the spatial axes of a channels-last image or sequence")
        }
        var newPerm = perm
        if !keep {   // drop the reduced axes, renumbering what remains
            let kept = (0..<rank).filter { !axes.contains($0) }.map { perm[$0] }
            let order = kept.sorted()
            newPerm = kept.map { order.firstIndex(of: $0)! }
        }
        try set(node, layer(t), newPerm)
    }

    private mutating func batchNormalization(_ node: ONNXNode) throws {
        let (t, perm) = try tensor(node.inputs[0], node)
        guard perm.count >= 2, perm[1] == perm.count - 1 else { throw unsupported(node, "the channels axis (1) is not Lamina's last axis") }
        let parts = node.inputs.dropFirst().map { constant($0) }
        guard parts.count == 4, parts.allSatisfy({ $0 != nil && $0!.dims.count == 1 }) else {
            throw unsupported(node, "scale, bias, mean and variance must be constant vectors")
        }
        guard node.outputs.count == 1 || node.outputs.dropFirst().allSatisfy({ $0.isEmpty }) else {
            throw unsupported(node, "training-mode outputs (running statistics)")
        }
        // ONNX's momentum has Keras's meaning (running · momentum + batch · (1 − momentum)).
        let layer = BatchNormalization(momentum: Double(float(node, "momentum", 0.9)), epsilon: Double(float(node, "epsilon", 1e-5)), name: name(node))
        try set(node, layer(t), perm)
        weights.append((layer, parts.map { $0!.tensor }))
    }

    // MARK: LSTM

    /// ONNX's LSTM (gates i, o, f, c; W [1, 4u, in], R [1, 4u, u], B [1, 8u]) as Keras's
    /// (gates i, f, c, o; kernel [in, 4u], recurrent kernel [u, 4u], one bias [4u]).
    private mutating func lstm(_ node: ONNXNode) throws {
        let (x, perm) = try tensor(node.inputs[0], node)
        guard perm == [1, 0, 2] else {
            throw unsupported(node, "the input must be time-major [steps, batch, features] made from a batch-major tensor")
        }
        guard (node.attributes["direction"]?.s ?? "forward") == "forward", int(node, "layout", 0) == 0, int(node, "input_forget", 0) == 0,
              node.attributes["clip"] == nil, (node.attributes["activations"]?.strings ?? ["Sigmoid", "Tanh", "Tanh"]) == ["Sigmoid", "Tanh", "Tanh"] else {
            throw unsupported(node, "reads forward LSTMs with the default activations, no clip, layout 0")
        }
        guard node.inputs.count >= 3, let w = constant(node.inputs[1]), let r = constant(node.inputs[2]), w.dims.count == 3, r.dims.count == 3,
              case let (units, features) = (r.dims[2], w.dims[2]), units > 0,
              w.dims == [1, 4 * units, features], r.dims == [1, 4 * units, units], int(node, "hidden_size", units) == units else {
            throw unsupported(node, "W [1, 4u, in] and R [1, 4u, u] must be constants of one direction")
        }
        for k in node.inputs.indices.dropFirst(4) where !node.inputs[k].isEmpty {   // sequence_lens, initial_h, initial_c, P
            if k != 4, case .runtimeZeros? = values[node.inputs[k]] { continue }
            guard k != 4, let c = constant(node.inputs[k]), c.values.allSatisfy({ $0 == 0 }) else {
                throw unsupported(node, "input \(k) ('\(node.inputs[k])') must be absent or constant zeros")
            }
        }
        func reorder(_ rows: Tensor) -> Tensor {   // [4u, n] in i o f c → [4u, n] in i f c o
            let g = (0..<4).map { rows.sliced(axis: 0, ($0 * units)..<(($0 + 1) * units)) }
            return Tensor.concatenated([g[0], g[2], g[3], g[1]], axis: 0)
        }
        let kernel = reorder(w.tensor.reshaped(to: [4 * units, features])).transposed()
        let recurrent = reorder(r.tensor.reshaped(to: [4 * units, units])).transposed()
        var bias = Tensor.zeros([4 * units])
        if node.inputs.count > 3, !node.inputs[3].isEmpty {
            guard let b = constant(node.inputs[3]), b.values.count == 8 * units else { throw unsupported(node, "B must be a constant [1, 8u]") }
            let both = b.tensor.reshaped(to: [2, 4 * units])
            bias = reorder((both.sliced(axis: 0, 0..<1) + both.sliced(axis: 0, 1..<2)).reshaped(to: [4 * units, 1])).reshaped(to: [4 * units])
        }
        let sequenceUsed = node.outputs.count > 0 && !(consumers[node.outputs[0]] ?? []).isEmpty
        let lastUsed = node.outputs.count > 1 && !(consumers[node.outputs[1]] ?? []).isEmpty
        guard !(sequenceUsed && lastUsed), node.outputs.count < 3 || (consumers[node.outputs[2]] ?? []).isEmpty else {
            throw unsupported(node, "more than one of Y, Y_h, Y_c is used (a Keras LSTM returns the sequence or the last output)")
        }
        let layer = LSTM(units, returnSequences: sequenceUsed, name: name(node))
        let y = layer(x)
        if let error = y.error { throw unsupported(node, error.message) }
        if sequenceUsed { values[node.outputs[0]] = .lstmSequence(y) } else if lastUsed { values[node.outputs[1]] = .lstmLast(y) }
        weights.append((layer, [kernel, recurrent, bias]))
    }
}
