/// The base of every layer: Keras's lifecycle (configure in `init`, make weights in
/// `build(inputShape:)` from the first input shape, compute in `call(_:training:)`).
///
/// Shapes given to and returned by layers leave out the batch dimension, as Keras's
/// `input_shape`: a Conv2D on MNIST has input shape `[28, 28, 1]`.
///
/// To write a custom layer, subclass, create weights with `addWeight` in `build`, and
/// compute with LaminaCore ops in `call`; the gradient comes from autodiff, and
/// `GradientCheck.run` verifies it.
open class Layer {
    /// Keras-style name, unique in the session: `dense`, `dense_1`, ...
    public var name: String
    /// False freezes the layer's weights for models compiled afterwards (Keras 2 semantics;
    /// Keras 3 re-reads the flag at every step). A frozen BatchNormalization runs in inference mode.
    public var trainable = true
    /// The per-sample input shape given as `inputShape:`, which builds a model at once.
    public let declaredInputShape: [Int]?
    /// Whether the layer has made its weights (`build` has run for an input shape). Keras: `built`.
    public private(set) var isBuilt = false
    /// The per-sample input and output shapes the layer was built for.
    public private(set) var inputShape: [Int]?
    /// The per-sample output shape, once built.
    open var outputShape: [Int]? { builtOutputShape }
    private var builtOutputShape: [Int]?
    /// The layer's own weights in creation order (= Keras's `weights` order for the built-in layers).
    public private(set) var ownWeights: [Variable] = []
    /// dtype of the weights (float32 unless the layer is first called with float64 data).
    public var dtype: DType = .float32

    /// A layer named `name` (nil: the snake-case class name, numbered, as Keras), built at once
    /// for `inputShape` (without the batch axis) when given.
    public init(name: String? = nil, inputShape: [Int]? = nil) {
        self.name = name ?? NameScope.unique(NameScope.snakeCase(String(describing: type(of: self))))
        self.declaredInputShape = inputShape
    }

    /// The Keras class name shown by `summary()`.
    open var className: String { type(of: self).kerasClassName }

    /// Layers nested inside this one (a Sequential's layers).
    open var sublayers: [Layer] { [] }

    /// The constructor arguments in Keras's `get_config()` keys (`name`, `trainable` and
    /// `dtype` are added by `serialize()`). A custom layer with arguments overrides this and
    /// registers a factory with `LayerRegistry.register` so that saved models load.
    open func config() throws -> [String: Any] { [:] }

    // MARK: - The class's own round trip (config both ways, weight shapes, Keras weight path)

    /// The Keras class name this class saves as and loads from (`InputLayer` for `Input`).
    open class var kerasClassName: String { String(describing: self) }

    /// The Keras module this class saves under (`keras.layers`; a class of an application,
    /// such as ConvNeXt's `LayerScale`, names its own and is saved with a `registered_name`).
    open class var kerasModule: String { "keras.layers" }

    /// A layer of this class from its Keras config: the way back from `config()`. Loadable
    /// classes override it and are registered (`LayerRegistry.register(MyLayer.self)`);
    /// `name`, `trainable` and `dtype` are applied by the registry afterwards.
    open class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        throw LaminaError.configuration("\(kerasClassName) cannot be loaded: it does not override class func fromKerasConfig(_:)")
    }

    /// The shapes of the weights this layer creates for a per-sample `inputShape`, in `weights`
    /// order, from its configuration alone (nothing is allocated). Loaders add them up to refuse a
    /// hostile file before building, and refuse a layer whose built weights differ from these.
    /// Layers without weights keep the default, none.
    open func weightShapes(for inputShape: [Int]) throws -> [[Int]] { [] }

    /// Where a Keras 3 weights file (`model.weights.h5`) keeps this layer's variables, below the
    /// layer's group: `vars` (recurrent layers: `cell/vars`).
    open var kerasVariablesPath: String { "vars" }

    /// Where a Keras 3 weights file keeps each weight, in `weights` order, below the layer's
    /// group: `vars/0`, `vars/1`, ... (`cell/vars/<i>` for recurrent layers; a wrapper such as
    /// `Bidirectional` prefixes its inner layers' paths).
    open var kerasWeightPaths: [String] { weights.indices.map { "\(kerasVariablesPath)/\($0)" } }

    /// This layer's weights (in `weights` order) from the parameters of the PyTorch module it
    /// maps to (see `PyTorch`); `flattenedFrom` is the image shape [h, w, c] a preceding Flatten
    /// consumed. Layers with a PyTorch counterpart override it.
    open func weightsFromPyTorch(_ module: inout PyTorchModule, flattenedFrom: [Int]?) throws -> [Tensor] {
        throw module.error("Lamina converts Linear, Conv2d, BatchNorm, LSTM and RNN modules")
    }

    /// Creates the weights for `inputShape` (per sample). Called once.
    open func build(inputShape: [Int]) throws {}

    /// The computation. `training` is true inside `fit` / `trainOnBatch`.
    open func call(_ x: Tensor, training: Bool) throws -> Tensor {
        fatalError("\(className) must override call(_:training:)")
    }

    // MARK: - Masking (Keras's `supports_masking`, `compute_mask`, `call(..., mask=)`)

    /// Whether the layer passes a padding mask on (Keras's `supports_masking`). A layer that
    /// does not drops the mask of its input, with a warning, as Keras does.
    open var supportsMasking: Bool { false }

    /// The computation on an input that carries a mask (`x.kerasMask`, float32 1/0 over the
    /// leading axes). Layers whose result depends on the mask override this one (recurrent
    /// layers skip masked steps, pooling ignores them); the default ignores the mask.
    open func call(_ x: Tensor, mask: Tensor?, training: Bool) throws -> Tensor {
        try call(x, training: training)
    }

    /// The mask of the output for an input `x` with `mask` (Keras's `compute_mask`): the
    /// input's mask for layers that support masking, none otherwise. `Embedding(maskZero: true)`
    /// and `Masking` make one; a recurrent layer returning only its last state ends it.
    open func computeMask(_ x: Tensor, mask: Tensor?) throws -> Tensor? {
        supportsMasking ? mask : nil
    }

    /// The call with Keras's mask handling: the input's mask goes to `call(_:mask:training:)`,
    /// and the output carries `computeMask` (or the mask `call` attached itself).
    private func maskedCall(_ x: Tensor, training: Bool) throws -> Tensor {
        let mask = x.kerasMask
        var y = try call(x, mask: mask, training: training)
        if mask != nil, !supportsMasking {
            y.kerasMask = nil
            if !warnedMaskDropped {
                warnedMaskDropped = true
                Lamina.logger.warning("""
                    Layer '\(name)' (of type \(className)) was passed an input with a mask attached to it. \
                    However, this layer does not support masking and will therefore destroy the mask information. \
                    Downstream layers will not see the mask.
                    """)
            }
        }
        if y.kerasMask == nil, let out = try computeMask(x, mask: mask) { y.kerasMask = out }
        return y
    }
    private var warnedMaskDropped = false

    /// The per-sample output shape for a per-sample input shape (no data needed).
    open func computeOutputShape(_ inputShape: [Int]) throws -> [Int] { inputShape }

    /// Throws when an input of this per-sample shape cannot be used with the built layer.
    /// The default demands the shape the layer was built with.
    open func checkInputShape(_ shape: [Int]) throws {
        if let built = inputShape, built != shape {
            throw LaminaError.shape("\(name) expects \(describe(built)), got \(describe(shape))")
        }
    }

    /// Builds the layer for `inputShape` unless it is built already; returns the output shape.
    @discardableResult
    public func buildIfNeeded(_ inputShape: [Int], dtype: DType? = nil) throws -> [Int] {
        try ensureBuilt(inputShape, dtype: dtype)
        return try computeOutputShape(inputShape)
    }

    /// Builds on first use, otherwise checks the shape (no output-shape work on the hot path).
    private func ensureBuilt(_ inputShape: [Int], dtype: DType?) throws {
        if let argumentError { throw argumentError }  // an invalid layer is never built
        if isBuilt { try checkInputShape(inputShape); return }
        if let dtype { self.dtype = dtype }
        try build(inputShape: inputShape)
        self.inputShape = inputShape
        builtOutputShape = try computeOutputShape(inputShape)
        isBuilt = true
    }

    /// An invalid constructor argument (`Dropout(1.5)`, `Dense(-3)`, an unknown activation name).
    /// Constructors never stop the process: they record the first such error here, and it is
    /// thrown where the layer is used — by `Sequential`'s `fit`, `evaluate`, `predict` and `save`
    /// after `add`, or by calling the layer.
    public private(set) var argumentError: LaminaError?

    /// For constructors: records an invalid argument (the first one is kept).
    public func reject(_ message: String) {
        if argumentError == nil { argumentError = LaminaError.value("\(className) '\(name)': \(message)") }
    }

    /// For constructors: records an activation given by an unknown name.
    public func check(_ activation: ActivationFunction) {
        if let message = activation.nameError { reject(message) }
    }
    /// For constructors: records a padding given by an unknown name.
    public func check(_ padding: Padding) {
        if let message = padding.nameError { reject(message) }
    }

    /// Applies the layer to a batch, building it on the first call. Floating-point input of
    /// another precision than the layer's weights is cast to theirs first, as Keras autocasts
    /// a layer's inputs to its compute dtype (a float64 layer in a float32 model computes in
    /// float64).
    public func callAsFunction(_ x: Tensor, training: Bool = false) throws -> Tensor {
        if let argumentError { throw argumentError }
        guard x.rank >= 1 else { throw LaminaError.shape("\(name) expects a batch, got a scalar") }
        try ensureBuilt(Array(x.shape.dropFirst()), dtype: x.dtype.isFloatingPoint ? x.dtype : nil)
        let input = x.dtype != dtype && x.dtype.isFloatingPoint && !weights.isEmpty ? x.cast(to: dtype) : x
        return try maskedCall(input, training: training)
    }

    // MARK: - Calls in a graph (the functional API)

    /// The layer applied to the tensors of one call in a model's graph: one tensor for most
    /// layers, several for merge layers (`Add`) and for models with several inputs. Returns the
    /// call's outputs (one, except for models with several outputs).
    open func callAll(_ inputs: [Tensor], training: Bool) throws -> [Tensor] {
        guard inputs.count == 1 else { throw LaminaError.shape("\(name) takes one input, got \(inputs.count)") }
        return [try self(inputs[0], training: training)]
    }

    /// Builds the layer for the per-sample shapes of one call's inputs (unless built) and returns
    /// the shapes of its outputs; throws where the shapes do not fit the layer.
    open func buildAll(_ inputShapes: [[Int]], dtype: DType?) throws -> [[Int]] {
        if let argumentError { throw argumentError }
        guard inputShapes.count == 1 else { throw LaminaError.shape("\(name) takes one input, got \(inputShapes.count)") }
        return [try buildIfNeeded(inputShapes[0], dtype: dtype)]
    }

    /// The layer applied to one graph call with keyword arguments (`mha(q, v, attentionMask: m)`;
    /// see `CallArguments`). Layers that take keyword arguments override it and
    /// `buildCall(_:dtype:)`; the default takes the call's tensors as `callAll`.
    open func callAll(_ arguments: CallArguments<Tensor>, training: Bool) throws -> [Tensor] {
        try callAll(positionalTensors(arguments), training: training)
    }

    /// The positional tensors of a call whose only keyword may be a plain `training` flag
    /// (Keras writes `training=False` for frozen parts; Lamina's `fit` decides the mode).
    func positionalTensors<T>(_ arguments: CallArguments<T>) throws -> [T] {
        let other = arguments.kwargs.filter { !($0.name == "training" && $0.value.tensors.isEmpty) }
        guard other.isEmpty else {
            throw LaminaError.configuration("\(name) (\(className)) takes no keyword arguments, got \(other.map(\.name).joined(separator: ", "))")
        }
        return arguments.args.flatMap(\.tensors)
    }

    /// Builds the layer for one graph call with keyword arguments, given each tensor's
    /// per-sample shape; returns the shapes of its outputs.
    open func buildCall(_ shapes: CallArguments<[Int]>, dtype: DType?) throws -> [[Int]] {
        try buildAll(positionalTensors(shapes), dtype: dtype)
    }

    /// How many times the layer has been called symbolically (numbers its graph nodes).
    var symbolicCalls = 0

    /// For layers that build outside `build(inputShape:)` (merge layers, models): records the
    /// shapes they were built for.
    func markBuilt(inputShape: [Int]?, outputShape: [Int]?) {
        self.inputShape = inputShape
        builtOutputShape = outputShape
        isBuilt = true
    }

    /// Creates a weight (call from `build`). Its name is `"<layer>/<name>"`.
    @discardableResult
    public func addWeight(_ name: String, shape: [Int], initializer: Initializer, trainable: Bool = true,
                          regularizer: Regularizer? = nil) -> Variable {
        let v = Variable(name: "\(self.name)/\(name)", value: initializer.make(shape, dtype: dtype), trainable: trainable)
        ownWeights.append(v)
        if let regularizer { penalties.append((v, regularizer)) }
        return v
    }

    /// The weights with a regularizer, and their regularizers.
    private var penalties: [(Variable, Regularizer)] = []

    /// The regularization penalties of this layer and its nested layers, one scalar per
    /// regularized weight; training adds their sum to the loss. Keras: `layer.losses`.
    public var losses: [Tensor] {
        penalties.map { $0.1($0.0.value) } + sublayers.flatMap(\.losses)
    }

    /// This layer's nested layers at every depth, in order (a GAN's discriminator and its Dense layers).
    public var descendants: [Layer] { sublayers.flatMap { [$0] + $0.descendants } }

    /// All weights, own and nested, in Keras order.
    public var weights: [Variable] { ownWeights + sublayers.flatMap(\.weights) }

    /// Weights an optimizer updates: trainable ones of trainable layers.
    public var trainableWeights: [Variable] {
        guard trainable else { return [] }
        return ownWeights.filter(\.trainable) + sublayers.flatMap(\.trainableWeights)
    }

    /// Everything else: moving statistics, and all weights of frozen layers.
    public var nonTrainableWeights: [Variable] {
        guard trainable else { return weights }
        return ownWeights.filter { !$0.trainable } + sublayers.flatMap(\.nonTrainableWeights)
    }

    /// The number of weight elements (never optimizer slots), as Keras's `count_params()`.
    public func countParams() -> Int { weights.reduce(0) { $0 + $1.value.count } }

    /// Copies of the weights' values in Keras order and shapes.
    public func getWeights() -> [Tensor] { weights.map(\.value) }

    /// Replaces the weights; the list must match `getWeights()` in count and shapes.
    public func setWeights(_ values: [Tensor]) throws {
        let vars = weights
        guard isBuilt || !vars.isEmpty else {
            throw LaminaError.value("\(name): cannot set weights before the layer is built (give inputShape: or call it once)")
        }
        guard values.count == vars.count else {
            throw LaminaError.value("\(name) has \(vars.count) weights \(vars.map(\.shape)), got \(values.count) tensors \(values.map(\.shape))")
        }
        for (v, t) in zip(vars, values) where v.shape != t.shape {
            throw LaminaError.value("\(name): weight \(v.name) has shape \(v.shape), got \(t.shape)")
        }
        for (v, t) in zip(vars, values) { v.value = t.detached().cast(to: v.value.dtype) }
    }

    /// Whether this call should use training behaviour that depends on `trainable`
    /// (BatchNormalization). Inside a compiled model's step the frozen set taken at
    /// `compile` decides; elsewhere the current flag does.
    public func isTrainingMode(_ training: Bool) -> Bool {
        guard training else { return false }
        if let frozen = FrozenLayers.current { return !frozen.contains(ObjectIdentifier(self)) }
        return trainable
    }
}

/// The layers frozen when the running model was compiled (task-local, set by the training step).
enum FrozenLayers {
    @TaskLocal static var current: Set<ObjectIdentifier>?
}
