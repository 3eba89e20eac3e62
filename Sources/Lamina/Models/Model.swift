import Foundation

/// A model: layers joined into a graph from symbolic inputs to outputs, trained with
/// `compile` / `fit` / `evaluate` / `predict`. Keras: `keras.Model` (the functional API).
///
/// ```swift
/// let inputs = Input(shape: [32, 32, 3])
/// var x = Conv2D(32, kernelSize: (3, 3), padding: .same, activation: .relu)(inputs)
/// let shortcut = x
/// x = Conv2D(32, kernelSize: (3, 3), padding: .same)(x)
/// x = Activation(.relu)(Add()([x, shortcut]))
/// let model = Model(inputs: inputs, outputs: Dense(10, activation: .softmax)(GlobalAveragePooling2D()(x)))
/// ```
/// Several inputs or outputs are arrays (`Model(inputs: [image, meta], outputs: [label, score])`,
/// then `fit([xi, xm], [yl, ys])`). One layer called twice shares its weights; a model is a
/// layer, so models call models. `Sequential` is the model whose graph is a chain.
///
/// A definition error (a layer given a shape it cannot take, an output not reachable from the
/// inputs) is kept and thrown by `fit`, `evaluate`, `predict`, `summary`-free uses and `save`,
/// with the message of the call that caused it: see `definitionError`.
open class Model: Layer {
    // MARK: - Compile state (set by `compile`, Model+Training.swift)

    /// The optimizer `compile` gave (nil before compiling).
    public internal(set) var optimizer: Optimizer?
    /// The loss of the first output (the only one, for most models).
    public internal(set) var loss: Loss?
    /// One loss per output, and their weights in the total (Keras's `loss_weights`).
    public internal(set) var outputLosses: [Loss] = []
    /// Each output loss's weight in the total.
    public internal(set) var lossWeights: [Double] = []
    /// Every compiled metric, and for each the output it watches.
    public internal(set) var compiledMetrics: [Metric] = []
    var metricOutputs: [Int] = []
    /// A `compile` argument that does not fit the model, thrown by training.
    var compileError: LaminaError?
    var frozenAtCompile: Set<ObjectIdentifier> = []
    /// The process group whose rank 0 this model last took its weights from (DataParallel).
    package weak var synchronizedWith: AnyObject?
    /// Epochs completed by `fit` (counting from its `initialEpoch`); saved with the model, so
    /// a loaded model continues with `fit(x, y, epochs: n, initialEpoch: model.epoch)`.
    public var epoch = 0
    /// Set by a callback to end `fit` after the current epoch (Keras's `stop_training`).
    public var stopTraining = false
    /// Set by a callback's `onTrainBegin` (`BackupAndRestore`) to start `fit` at this epoch
    /// instead of its `initialEpoch` (Keras's `model._initial_epoch`); read once.
    package var resumeEpoch: Int?

    // MARK: - The graph

    /// The model's symbolic inputs and outputs (Keras: `model.inputs`, `model.outputs`).
    public private(set) var inputs: [SymbolicTensor] = []
    /// The symbolic outputs, in order (empty for a subclassed model).
    public private(set) var outputs: [SymbolicTensor] = []
    /// The calls in execution order, `Input`s first.
    private(set) var nodes: [GraphNode] = []
    private var graphLayers: [Layer] = []
    /// For each node, the nodes whose outputs are no longer needed after it (forward frees them).
    private var releasedAfter: [[ObjectIdentifier]] = []
    /// What forward does at each node: call its layer, or skip it for a step that covers it:
    /// - `convolveZeroPadded(pad)`: a DepthwiseConv2D whose only input is a ZeroPadding2D read
    ///   by it alone runs as one convolution over the unpadded input (no padded copy, which
    ///   backward would keep: 242 MiB of MobileNetV2's activations at batch 32);
    /// - `convolveNormalized(chain)`, at the chain's last node: a Conv2D or DepthwiseConv2D
    ///   (after its ZeroPadding2D, as above, where there is one) read by a BatchNormalization
    ///   alone — and that by a ReLU alone, or, after a Conv2D, by a two-input Add alone (ResNets'
    ///   residual), itself read by a ReLU alone where there is one — runs as one op when the
    ///   normalization is not training: the normalization, the addition and the ReLU applied to
    ///   the convolution's output while it is in cache (ResNets, MobileNets); in training, the
    ///   layers in turn.
    private enum Step { case call, skip, convolveZeroPadded(GraphNode), convolveNormalized(ConvChain) }
    /// The nodes of a `convolveNormalized` step, in order.
    private struct ConvChain {
        let pad: GraphNode?, conv: GraphNode, norm: GraphNode, add: GraphNode?, relu: GraphNode?
        /// The Add's other input, the residual.
        var residual: SymbolicTensor? { add.map { $0.inputs[$0.inputs[0].node === norm ? 1 : 0] } }
        var first: GraphNode { pad ?? conv }
        var last: GraphNode { relu ?? add ?? norm }
        /// The nodes whose results the step reads.
        var reads: [GraphNode] { first.parents + (residual?.node.map { [$0] } ?? []) }
    }
    private var steps: [Step] = []
    /// Node index of each fused convolution -> its padding's node.
    var zeroPaddingInto: [Int: GraphNode] {
        Dictionary(uniqueKeysWithValues: steps.enumerated().compactMap { i, step in
            if case .convolveZeroPadded(let pad) = step { return (i, pad) } else { return nil }
        })
    }
    /// The (ZeroPadding2D, convolution, BatchNormalization, Add, ReLU) layer chains forward runs
    /// as one op at inference.
    var normalizedConvolutions: [(pad: Layer?, conv: Layer, norm: Layer, add: Layer?, relu: Layer?)] {
        steps.compactMap { step in
            guard case .convolveNormalized(let c) = step else { return nil }
            return (c.pad?.layer, c.conv.layer, c.norm.layer, c.add?.layer, c.relu?.layer)
        }
    }
    /// The first error in the model's definition, thrown by every use of the model.
    public private(set) var definitionError: LaminaError?

    /// A model of the graph from `inputs` to `outputs`.
    public init(inputs: [any SymbolicTensorConvertible], outputs: [SymbolicTensor], name: String? = nil) {
        super.init(name: name ?? NameScope.unique("functional"))
        isFunctional = true
        do {
            try makeGraph(inputs: inputs.map(\.symbolic), outputs: outputs)
        } catch {
            definitionError = (error as? LaminaError) ?? LaminaError(.configuration, "\(error)")
        }
    }

    /// A model of one input and one output.
    public convenience init(inputs: any SymbolicTensorConvertible, outputs: SymbolicTensor, name: String? = nil) {
        self.init(inputs: [inputs], outputs: [outputs], name: name)
    }
    /// A model of several inputs and one output.
    public convenience init(inputs: [any SymbolicTensorConvertible], outputs: SymbolicTensor, name: String? = nil) {
        self.init(inputs: inputs, outputs: [outputs], name: name)
    }
    /// A model of one input and several outputs.
    public convenience init(inputs: any SymbolicTensorConvertible, outputs: [SymbolicTensor], name: String? = nil) {
        self.init(inputs: [inputs], outputs: outputs, name: name)
    }

    /// A model without a graph, for subclasses that compute in code: override
    /// `call(_:training:)` (Keras: subclassing `keras.Model`). The layers the subclass keeps in
    /// stored properties are its layers (see `layers`); the default name is the class's in
    /// snake case (`MyModel` → `my_model`), numbered when taken.
    public init(name: String? = nil) {
        super.init(name: name)
    }

    /// Whether the model was made from a graph (`Model(inputs:outputs:)`).
    private var isFunctional = false
    /// For a subclassed model: the input shape of the last shape probe and its output shape.
    var probedShapes: (input: [Int], output: [Int])?
    /// The lifetime loss tracker of `trainStep`/`testStep` (Keras: `model._loss_tracker`).
    package var stepLosses = LossTracker()

    /// This process's fraction of the global batch in the running training step (DataParallel), for `applyGradients`.
    package var stepShare = 1.0

    /// One training step on a batch, called by `fit` and `trainOnBatch` for every batch;
    /// returns the logs (running means over the epoch so far: `loss`, the metrics). Keras:
    /// `train_step(self, data)`. Override it for a custom step, built from `computeLoss`,
    /// `valueAndGradients(of:)`, `applyGradients(_:to:)` and `computeMetrics`; the default
    /// runs the compiled loss, optimizer and metrics.
    open func trainStep(_ batch: TrainingBatch) throws -> [String: Double] { try defaultTrainStep(batch) }

    /// One evaluation step on a batch, called by `evaluate` (and `fit`'s validation) for every
    /// batch; returns the logs. Keras: `test_step(self, data)`. With the default step the
    /// result is the mean over every batch (and process); with an override, the last step's logs.
    open func testStep(_ batch: TrainingBatch) throws -> [String: Double] { try defaultTestStep(batch) }

    /// The metrics `fit` and `evaluate` reset at the start of every epoch and evaluation: the
    /// compiled ones. A custom `trainStep` that keeps its own trackers (`Mean`) overrides this
    /// to add them. Keras: `model.metrics`.
    open var metrics: [Metric] { compiledMetrics }

    /// Whether this is a subclassed model (neither functional nor `Sequential`), whose
    /// computation is its `call` and whose layers are found in its stored properties.
    public var isSubclassed: Bool { !isFunctional && !(self is Sequential) }

    /// Throws `definitionError`, if any (Sequential: the first error met by `add`).
    open func checkDefinition() throws { if let definitionError { throw definitionError } }

    /// The layers in Keras's order (`Input`s first, then by depth from the inputs; a shared
    /// layer once). Keras: `model.layers`.
    /// A subclassed model's layers are those its stored properties hold (see `trackedLayers`).
    open var layers: [Layer] { isSubclassed ? trackedLayers : graphLayers }

    public override var sublayers: [Layer] { layers }

    /// The number of inputs and outputs the model takes and gives.
    /// A subclassed model takes one input and gives one output unless it overrides these
    /// (and `forward(_:training:)`).
    open var inputCount: Int { isSubclassed ? 1 : inputs.count }
    /// The number of outputs.
    open var outputCount: Int { isSubclassed ? 1 : outputs.count }

    /// The per-sample shapes of the inputs, where known.
    open var inputShapes: [[Int]]? { isSubclassed ? inputShape.map { [$0] } : inputs.map(\.shape) }

    /// The per-sample shapes of the outputs, where known.
    open var outputShapes: [[Int]]? { isSubclassed ? outputShape.map { [$0] } : outputs.map(\.shape) }

    /// The names of the layers that make the inputs and outputs (Keras: `input_names`,
    /// `output_names`), the keys of dictionaries given to `fit` and `compile`.
    open var inputNames: [String] { isSubclassed ? ["input_layer"] : inputs.map { $0.layer?.name ?? "" } }
    /// The output layers' names, the keys of `compile`'s and `fit`'s dictionaries.
    open var outputNames: [String] { isSubclassed ? ["output_0"] : outputs.map { $0.layer?.name ?? "" } }

    /// The model's computation on a batch of each input; returns a batch of each output.
    /// Each intermediate result is let go after its last use (in training too: what backward
    /// needs, the recorded graph keeps; the rest — a BatchNormalization output that the ReLU
    /// after it keeps only its own output of — is freed at once, not at the pass's end).
    /// Chains of layers whose links nothing else reads run as one op where that saves passes
    /// over memory (see `Step`): ZeroPadding2D → DepthwiseConv2D, and at inference Conv2D or
    /// DepthwiseConv2D → BatchNormalization (→ Add) (→ ReLU) — the same values as the layers in
    /// turn; in training the layers run in turn.
    /// A subclassed model runs its `call` (override this instead for several inputs or outputs).
    open func forward(_ xs: [Tensor], training: Bool) throws -> [Tensor] {
        try checkDefinition()
        if isSubclassed {
            guard xs.count == 1 else { throw LaminaError.shape("\(name) takes one input, got \(xs.count) (override forward(_:training:) for several)") }
            return [try call(xs[0], training: training)]
        }
        guard xs.count == inputs.count else { throw LaminaError.shape("\(name) takes \(inputs.count) inputs, got \(xs.count)") }
        var values: [ObjectIdentifier: [Tensor]] = [:]
        for (t, x) in zip(inputs, xs) { values[ObjectIdentifier(t.node!)] = [x] }
        func argumentsOf(_ node: GraphNode) -> [Tensor] { node.inputs.map { values[ObjectIdentifier($0.node!)]![$0.index] } }
        for (i, node) in nodes.enumerated() {
            let id = ObjectIdentifier(node)
            switch steps[i] {
            case .skip: break
            case .convolveZeroPadded(let pad):
                values[id] = try Self.convolveZeroPadded(argumentsOf(pad)[0], pad, node, training: training)
            case .convolveNormalized(let chain):
                let x = argumentsOf(chain.first)[0], norm = chain.norm.layer as! BatchNormalization
                let residual = chain.residual.map { values[ObjectIdentifier($0.node!)]![$0.index] }
                if !norm.isTrainingMode(training), let y = Self.convolveNormalized(x, chain, residual: residual) {
                    values[id] = [y]
                } else {  // training, or not the case the fused op covers (a mask, a dtype to cast): as written
                    var y = try chain.pad.map { try Self.convolveZeroPadded(x, $0, chain.conv, training: training) }
                        ?? chain.conv.layer.callAll([x], training: training)
                    y = try norm.callAll(y, training: training)
                    if let add = chain.add, let residual {
                        y = try add.layer.callAll(add.inputs[0].node === chain.norm ? [y[0], residual] : [residual, y[0]], training: training)
                    }
                    if let relu = chain.relu { y = try relu.layer.callAll(y, training: training) }
                    values[id] = y
                }
            case .call where values[id] == nil:
                let args = argumentsOf(node)
                if let arguments = node.arguments {
                    values[id] = try node.layer.callAll(arguments.replacingTensors(with: args), training: training)
                } else {
                    values[id] = try node.layer.callAll(args, training: training)
                }
            case .call: break  // an input
            }
            for done in releasedAfter[i] { values[done] = nil }
        }
        return outputs.map { values[ObjectIdentifier($0.node!)]![$0.index] }
    }

    // MARK: - The model as a layer

    /// Keras's class name of a functional model (FunctionalConfig.swift holds its config both ways).
    open override class var kerasClassName: String { "Functional" }
    open override class var kerasModule: String { "keras.src.models.functional" }
    /// A subclassed model shows its Swift class name.
    open override var className: String { isSubclassed ? String(describing: type(of: self)) : super.className }
    open override func config() throws -> [String: Any] {
        if isSubclassed {
            throw LaminaError.configuration("\(name) is a subclassed model (\(className)): its architecture is Swift code, which a file "
                + "cannot hold; save its weights with saveWeights(to:) and load them into a new \(className) with loadWeights(from:)")
        }
        return try functionalConfig()
    }
    open override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer { try functional(from: r) }

    /// A subclassed model overrides this with its computation (Keras: `call(self, x, training)`).
    open override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        if isSubclassed {
            throw LaminaError.configuration("\(className) '\(name)': a subclassed Model must override call(_:training:) (or forward(_:training:))")
        }
        guard inputCount == 1, outputCount == 1 else {
            throw LaminaError.shape("\(name) has \(inputCount) inputs and \(outputCount) outputs; call it on a list: model.callAll([...], training:)")
        }
        return try forward([x], training: training)[0]
    }

    public override func callAll(_ xs: [Tensor], training: Bool) throws -> [Tensor] {
        try checkDefinition()
        if isSubclassed && inputCount == 1 {
            guard xs.count == 1 else { throw LaminaError.shape("\(name) takes one input, got \(xs.count)") }
            return [try self(xs[0], training: training)]
        }
        _ = try buildAll(xs.map { Array($0.shape.dropFirst()) }, dtype: nil)
        return try forward(xs, training: training)
    }

    public override func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        try checkDefinition()
        if isSubclassed { return try buildSubclass(inputShapes, dtype: dtype) }
        guard inputShapes.count == inputCount else {
            throw LaminaError.shape("\(name) takes \(inputCount) input\(inputCount == 1 ? "" : "s"), got \(inputShapes.count)")
        }
        if let expected = self.inputShapes {
            for (i, (want, got)) in zip(expected, inputShapes).enumerated() where want != got && !isTextInput(i) {
                throw LaminaError.shape("\(name) expects input \(inputNames[i]) of shape \(describe(want)), got \(describe(got))")
            }
        }
        return outputShapes ?? []
    }

    public override func checkInputShape(_ shape: [Int]) throws {
        if isSubclassed { return }   // its layers check what they are given
        _ = try buildAll([shape], dtype: nil)
    }

    /// A subclassed model builds by running `call` once on a zero sample (its layers build on
    /// their first call, in call order), as Keras builds one on its first batch.
    open override func build(inputShape: [Int]) throws {
        if isSubclassed { _ = try probeOutputShape(inputShape) }
    }

    /// Whether input `i` is a string `Input`, whose encoded texts' length varies by batch.
    private func isTextInput(_ i: Int) -> Bool { i < inputs.count && (inputs[i].layer as? Input)?.isText == true }

    public override func computeOutputShape(_ inputShape: [Int]) throws -> [Int] {
        if isSubclassed { return try probeOutputShape(inputShape) }
        let shapes = try buildAll([inputShape], dtype: nil)
        guard shapes.count == 1 else { throw LaminaError.shape("\(name) has \(shapes.count) outputs") }
        return shapes[0]
    }

    /// Calls the model on several symbolic tensors; returns one per output. Keras: `model([a, b])`.
    public func callAsFunction(_ inputs: [any SymbolicTensorConvertible]) -> [SymbolicTensor] {
        callSymbolic(inputs.map(\.symbolic))
    }

    // MARK: - Building the graph (Keras's `map_graph` order)

    private func makeGraph(inputs: [SymbolicTensor], outputs: [SymbolicTensor]) throws {
        if let error = (inputs + outputs).lazy.compactMap(\.error).first { throw error }
        guard !inputs.isEmpty, !outputs.isEmpty else { throw LaminaError.configuration("\(name): a model needs at least one input and one output") }
        for t in inputs where !(t.layer is Input) {
            throw LaminaError.configuration("\(name): model inputs must be Input(shape:) tensors; \(t) is not")
        }
        let inputNodes = Set(inputs.map { ObjectIdentifier($0.node!) })
        guard inputNodes.count == inputs.count else { throw LaminaError.configuration("\(name): an input is listed twice") }

        // Depth-first from the outputs: nodes in an order where each comes after its parents,
        // and each layer's first visit (Keras orders layers of equal depth by it).
        var finished = Set<ObjectIdentifier>(), order: [GraphNode] = [], firstSeen: [ObjectIdentifier: Int] = [:]
        func visit(_ node: GraphNode) {
            let id = ObjectIdentifier(node)
            guard !finished.contains(id) else { return }
            if firstSeen[ObjectIdentifier(node.layer)] == nil { firstSeen[ObjectIdentifier(node.layer)] = firstSeen.count }
            if !inputNodes.contains(id) { node.parents.forEach(visit) }
            finished.insert(id)
            order.append(node)
        }
        for t in outputs { visit(t.node!) }   // symbolic tensors are acyclic by construction

        for node in order where node.layer is Input && !inputNodes.contains(ObjectIdentifier(node)) {
            throw LaminaError.configuration("\(name): graph disconnected: the outputs need input '\(node.layer.name)', "
                + "which is not among the model's inputs [\(inputs.map { $0.layer!.name }.joined(separator: ", "))]")
        }
        // Depth: outputs 0, a parent one more than its deepest consumer; a layer takes its deepest call's.
        var nodeDepth: [ObjectIdentifier: Int] = [:], layerDepth: [ObjectIdentifier: Int] = [:], layerOf: [ObjectIdentifier: Layer] = [:]
        for node in order.reversed() {
            let lid = ObjectIdentifier(node.layer)
            let depth = max(nodeDepth[ObjectIdentifier(node), default: 0], layerDepth[lid, default: 0])
            layerDepth[lid] = depth
            layerOf[lid] = node.layer
            nodeDepth[ObjectIdentifier(node)] = depth
            if !inputNodes.contains(ObjectIdentifier(node)) {
                for p in node.parents { nodeDepth[ObjectIdentifier(p)] = max(depth + 1, nodeDepth[ObjectIdentifier(p), default: 0]) }
            }
        }
        // Inputs the outputs do not use still belong to the model (Keras keeps them, depth 0).
        for t in inputs where layerDepth[ObjectIdentifier(t.layer!)] == nil {
            let lid = ObjectIdentifier(t.layer!)
            (layerDepth[lid], layerOf[lid], firstSeen[lid]) = (0, t.layer!, -1)
            order.insert(t.node!, at: 0)
        }
        let sortedLayers = layerOf.keys.sorted {
            let (da, db) = (layerDepth[$0]!, layerDepth[$1]!)
            return da != db ? da > db : firstSeen[$0]! < firstSeen[$1]!
        }.map { layerOf[$0]! }
        var seenNames = Set<String>()
        for layer in sortedLayers where !seenNames.insert(layer.name).inserted {
            throw LaminaError.configuration("\(name): the name '\(layer.name)' is used by two layers; names in a model must be unique")
        }

        let steps = Self.plan(order, outputs: outputs)
        // Free each intermediate result after its last reader (never the outputs); a fused step
        // reads its first layer's inputs.
        var lastUse: [ObjectIdentifier: Int] = [:]
        for (i, node) in order.enumerated() {
            let reads: [GraphNode]
            switch steps[i] {
            case .call: reads = node.parents
            case .skip: reads = []
            case .convolveZeroPadded(let pad): reads = pad.parents
            case .convolveNormalized(let chain): reads = chain.reads
            }
            for p in reads { lastUse[ObjectIdentifier(p)] = i }
        }
        for t in outputs { lastUse[ObjectIdentifier(t.node!)] = Int.max }
        var released = [[ObjectIdentifier]](repeating: [], count: order.count)
        for (id, i) in lastUse where i < order.count { released[i].append(id) }

        (self.inputs, self.outputs, self.nodes, self.graphLayers, self.releasedAfter, self.steps) = (inputs, outputs, order, sortedLayers, released, steps)
        dtype = outputs[0].dtype
        markBuilt(inputShape: inputs.count == 1 ? inputs[0].shape : nil, outputShape: outputs.count == 1 ? outputs[0].shape : nil)
    }
}

extension Model {
    /// The step of each node of `order` (see `Step`): the layer chains that run as one op — each
    /// link's result read by the next link alone, not an output, no keyword arguments.
    private static func plan(_ order: [GraphNode], outputs: [SymbolicTensor]) -> [Step] {
        var readers: [ObjectIdentifier: [GraphNode]] = [:], isOutput = Set<ObjectIdentifier>()
        for node in order { for p in node.parents { readers[ObjectIdentifier(p), default: []].append(node) } }
        for t in outputs { isOutput.insert(ObjectIdentifier(t.node!)) }
        let index = Dictionary(uniqueKeysWithValues: order.enumerated().map { (ObjectIdentifier($1), $0) })
        /// The node that alone reads `node`'s one result, as its one input.
        func soleReader(_ node: GraphNode) -> GraphNode? {
            guard !isOutput.contains(ObjectIdentifier(node)), let r = readers[ObjectIdentifier(node)], r.count == 1,
                  r[0].arguments == nil, r[0].inputs.count == 1, r[0].inputs[0].index == 0 else { return nil }
            return r[0]
        }
        var steps = [Step](repeating: .call, count: order.count), claimedAdds = Set<ObjectIdentifier>()
        for (i, node) in order.enumerated() where node.layer is Conv2D || node.layer is DepthwiseConv2D {
            guard node.arguments == nil, node.inputs.count == 1, let input = node.inputs[0].node else { continue }
            // (ZeroPadding2D ->) DepthwiseConv2D(valid)
            var pad: GraphNode?
            if let conv = node.layer as? DepthwiseConv2D, conv.padding.kind == .valid, input.layer is ZeroPadding2D, input.arguments == nil,
               input.inputs.count == 1, input.inputs[0].node != nil, soleReader(input) === node {
                pad = input
                steps[index[ObjectIdentifier(input)]!] = .skip
                steps[i] = .convolveZeroPadded(input)
            }
            // -> BatchNormalization (-> Add) (-> ReLU)
            guard let norm = soleReader(node), norm.layer is BatchNormalization else { continue }
            // (an Add whose other input is another chain's normalization goes to one chain only: the
            // other stores its result for it)
            var add: GraphNode?
            if node.layer is Conv2D, !isOutput.contains(ObjectIdentifier(norm)), let r = readers[ObjectIdentifier(norm)], r.count == 1,
               r[0].layer is Add, r[0].arguments == nil, r[0].inputs.count == 2, r[0].inputs.allSatisfy({ $0.index == 0 && $0.node != nil }),
               r[0].inputs.contains(where: { $0.node !== norm }), claimedAdds.insert(ObjectIdentifier(r[0])).inserted {
                add = r[0]
            }
            let relu = soleReader(add ?? norm).flatMap { EpilogueReLU($0.layer) != nil ? $0 : nil }
            let chain = ConvChain(pad: pad, conv: node, norm: norm, add: add, relu: relu)
            for skipped in [node, norm, add].compactMap({ $0 }) where skipped !== chain.last { steps[index[ObjectIdentifier(skipped)]!] = .skip }
            steps[index[ObjectIdentifier(chain.last)]!] = .convolveNormalized(chain)
        }
        return steps
    }

    /// A DepthwiseConv2D on its ZeroPadding2D's output, from the padding's input `x`: one op where
    /// it applies, else the two layers in turn.
    private static func convolveZeroPadded(_ x: Tensor, _ pad: GraphNode, _ conv: GraphNode, training: Bool) throws -> [Tensor] {
        if let y = (conv.layer as! DepthwiseConv2D).callZeroPadded(x, by: pad.layer as! ZeroPadding2D) { return [y] }
        // not the case the fused call covers (a mask, a dtype to cast): as written
        return try conv.layer.callAll(pad.layer.callAll([x], training: training), training: training)
    }

    /// The chain's convolution (from its padding's input `x`, where it has one), normalization,
    /// addition of `residual` and ReLU as one op at inference; nil where the layers' call does
    /// not apply (`callNormalized`).
    private static func convolveNormalized(_ x: Tensor, _ chain: ConvChain, residual: Tensor?) -> Tensor? {
        let relu = chain.relu.flatMap { EpilogueReLU($0.layer) }, norm = chain.norm.layer as! BatchNormalization
        guard chain.add?.layer.argumentError == nil else { return nil }
        if let layer = chain.conv.layer as? Conv2D { return layer.callNormalized(x, by: norm, adding: residual, then: relu) }
        return (chain.conv.layer as! DepthwiseConv2D).callNormalized(x, zeroPaddedBy: chain.pad?.layer as? ZeroPadding2D, by: norm, then: relu)
    }
}
