import Foundation

// `model.compile(...)` settings in Keras's `compile_config` schema: the optimizer as a
// serialized object, the loss as a name or object, the metrics as names.

/// Loadable optimizer classes by Keras class name (case-insensitive, as Keras's `get`). Each class
/// owns its round trip (`config()`, `fromKerasConfig`, `slotNames`); registering is naming it.
public enum OptimizerRegistry {
    static let builtinTypes: [Optimizer.Type] = [SGD.self, Adam.self, AdamW.self, RMSprop.self, Adagrad.self, Nadam.self, Adamax.self,
                                                 Adadelta.self, Lion.self]
    static let classes = KerasClasses<Optimizer.Type>("optimizer", registry: "OptimizerRegistry", caseInsensitive: true,
                                                      names: { [$0.kerasClassName] }, builtinTypes)

    /// Makes these classes savable and loadable, each under its `kerasClassName`.
    public static func register(_ types: Optimizer.Type...) { classes.register(types) }
}

extension Optimizer {
    /// Keras's serialized optimizer (`{"class_name": "Adam", "config": {"learning_rate": ...}}`).
    public func serialize() throws -> [String: Any] {
        let className = type(of: self).kerasClassName
        try OptimizerRegistry.classes.checkSavable(type(of: self))
        var c: [String: Any] = [
            "name": name.lowercased(), "learning_rate": try schedule?.serialize() ?? learningRate,
            "clipnorm": clipnorm ?? NSNull(), "clipvalue": clipvalue ?? NSNull(),
        ]
        c.merge(config()) { $1 }
        return kerasObject("keras.optimizers", className, c)
    }

    /// An optimizer from Keras's serialized form or name.
    public static func fromConfig(_ any: Any) throws -> Optimizer {
        let object = try SerializedObject(any, what: "optimizer")
        let r = object.reader
        _ = r.value("name")
        var shared = OptimizerSettings()
        if let value = r.value("learning_rate"), !(value is NSNumber) {
            shared.schedule = try LearningRateSchedule.fromConfig(value)
        } else {
            shared.learningRate = try r.optionalDouble("learning_rate")
        }
        (shared.clipnorm, shared.clipvalue) = (try r.optionalDouble("clipnorm"), try r.optionalDouble("clipvalue"))
        let type = try OptimizerRegistry.classes.require(object.className)
        let optimizer = try type.fromKerasConfig(r, shared: shared)
        if let wd = try r.optionalDouble("weight_decay"), wd != 0, !(optimizer is AdamW) {
            throw r.error("weight_decay is supported by AdamW only")
        }
        guard try r.optionalDouble("global_clipnorm") == nil else { throw r.error("global_clipnorm is not supported") }
        try r.finish()
        return optimizer
    }
}

/// Loadable learning-rate schedule classes by Keras class name; registering is naming the class.
public enum ScheduleRegistry {
    static let builtinTypes: [LearningRateSchedule.Type] = [ExponentialDecay.self, PiecewiseConstantDecay.self, InverseTimeDecay.self,
                                                           PolynomialDecay.self, CosineDecay.self]
    static let classes = KerasClasses<LearningRateSchedule.Type>("learning rate schedule", registry: "ScheduleRegistry",
                                                                 names: { [$0.kerasClassName] }, builtinTypes)

    /// Makes these classes savable and loadable under their `kerasClassName`.
    public static func register(_ types: LearningRateSchedule.Type...) { classes.register(types) }
}

extension LearningRateSchedule {
    func serialize() throws -> [String: Any] {
        try ScheduleRegistry.classes.checkSavable(type(of: self))
        return kerasObject("keras.optimizers.schedules", type(of: self).kerasClassName, config())
    }

    static func fromConfig(_ any: Any) throws -> LearningRateSchedule {
        let object = try SerializedObject(any, what: "learning rate schedule")
        let r = object.reader
        _ = r.value("name")
        let schedule = try ScheduleRegistry.classes.require(object.className).fromKerasConfig(r)
        try r.finish()
        return schedule
    }
}

/// Loadable loss classes by Keras class name and aliases. Each class owns its round trip
/// (`config()`, `fromKerasConfig`); registering is naming it.
public enum LossRegistry {
    static let builtinTypes: [Loss.Type] = [MeanSquaredError.self, MeanAbsoluteError.self, Huber.self, BinaryCrossentropy.self,
                                            CategoricalCrossentropy.self, SparseCategoricalCrossentropy.self, KLDivergence.self,
                                            Hinge.self, SquaredHinge.self, CategoricalHinge.self, LogCosh.self, Poisson.self,
                                            CosineSimilarity.self, BinaryFocalCrossentropy.self]
    static let classes = KerasClasses<Loss.Type>("loss", registry: "LossRegistry", names: { [$0.kerasClassName] + $0.kerasAliases },
                                                 builtinTypes)

    /// Makes these classes savable and loadable, under their `kerasClassName` and `kerasAliases`.
    public static func register(_ types: Loss.Type...) { classes.register(types) }
}

extension Loss {
    /// A Keras name, or an object for options (`{"class_name": "BinaryCrossentropy", "config": {"from_logits": true}}`).
    public func serialize() throws -> Any {
        let type = type(of: self)
        try LossRegistry.classes.checkSavable(type)
        let options = config()
        return options.isEmpty ? (type.kerasAliases.first ?? type.kerasClassName) : kerasObject("keras.losses", type.kerasClassName, options)
    }

    public static func fromConfig(_ any: Any) throws -> Loss {
        let object = try SerializedObject(any, what: "loss")
        let r = object.reader
        _ = r.value("name"); _ = r.value("reduction")
        let loss = try LossRegistry.classes.require(object.className).fromKerasConfig(r)
        if let smoothing = try r.optionalDouble("label_smoothing"), smoothing != 0 { throw r.error("label_smoothing is not supported") }
        _ = r.value("axis")
        try r.finish()
        return loss
    }
}

extension Sequential {
    /// Keras's `compile_config`, plus `frozen_layers`: the layers frozen when the model was
    /// compiled (Lamina keeps Keras 2's freeze-at-compile semantics, see `compile`).
    func compileConfig() throws -> [String: Any]? {
        guard let optimizer, let loss else { return nil }
        let frozen = descendants.filter { frozenAtCompile.contains(ObjectIdentifier($0)) }.map(\.name)
        return ["optimizer": try optimizer.serialize(), "loss": try loss.serialize(),
                "metrics": try compiledMetrics.map { try $0.serialize() }, "frozen_layers": frozen]
    }

    /// Keras's own `compile_config` for a `.keras` file: Lamina's `frozen_layers` left out
    /// (each layer's `trainable` flag is in its config). Nil when not compiled.
    public func kerasCompileConfig() throws -> [String: Any]? {
        guard var config = try compileConfig() else { return nil }
        config["frozen_layers"] = nil
        return config
    }

    /// Compiles from a `compile_config` (Lamina's or Keras's `config.json`).
    public func compile(fromConfig any: Any) throws {
        guard let values = any as? [String: Any] else { throw LaminaError.configuration("compile_config must be an object") }
        let r = ConfigReader(className: "compile_config", values: values)
        guard let optimizerConfig = r.value("optimizer"), let lossConfig = r.value("loss") else {
            throw r.error("needs 'optimizer' and 'loss'")
        }
        let optimizer = try Optimizer.fromConfig(optimizerConfig)
        let loss = try Loss.fromConfig(lossConfig)
        var metrics: [Metric] = []
        if let list = r.value("metrics") {
            guard let items = list as? [Any] else { throw r.error("'metrics' must be a list of names or metric objects") }
            metrics = try items.map { try Metric.fromConfig($0) }
        }
        var frozen = Set<String>()
        if let list = r.value("frozen_layers") {
            guard let names = list as? [String] else { throw r.error("'frozen_layers' must be a list of names") }
            frozen = Set(names)
        }
        for key in ["loss_weights", "weighted_metrics"] where r.value(key) != nil { throw r.error("'\(key)' is not supported") }
        try r.finish()
        // Compile with the saved frozen set, then give each layer its own flag back.
        let restore = descendants.filter { frozen.contains($0.name) }.map { ($0, $0.trainable) }
        for (layer, _) in restore { layer.trainable = false }
        compile(optimizer: optimizer, loss: loss, metrics: metrics)
        for (layer, flag) in restore { layer.trainable = flag }
    }
}
