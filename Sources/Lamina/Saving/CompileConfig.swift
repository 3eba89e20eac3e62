import Foundation

// `model.compile(...)` settings in Keras's `compile_config` schema: the optimizer as a
// serialized object, the loss as a name or object, the metrics as names.

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

extension Loss {
    /// A Keras name, or an object for options (`{"class_name": "BinaryCrossentropy", "config": {"from_logits": true}}`).
    public func serialize() throws -> Any {
        let type = type(of: self)
        try LossRegistry.classes.checkSavable(type)
        let options = config()
        return options.isEmpty ? (type.kerasAliases.first ?? type.kerasClassName) : kerasObject("keras.losses", type.kerasClassName, options)
    }

    /// A loss from Keras's serialized form or name. Keras: `keras.losses.deserialize` / `get`.
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

extension Model {
    /// Keras's `compile_config`, plus `frozen_layers`: the layers frozen when the model was
    /// compiled (Lamina keeps Keras 2's freeze-at-compile semantics, see `compile`).
    func compileConfig() throws -> [String: Any]? {
        guard let optimizer, let loss else { return nil }
        let frozen = descendants.filter { frozenAtCompile.contains(ObjectIdentifier($0)) }.map(\.name)
        guard outputCount > 1 else {
            return ["optimizer": try optimizer.serialize(), "loss": try loss.serialize(),
                    "metrics": try compiledMetrics.map { try $0.serialize() }, "frozen_layers": frozen]
        }
        // Several outputs: a loss and a metrics list per output, in output order (Keras's lists).
        let perOutput = try (0..<outputCount).map { o in
            try zip(compiledMetrics, metricOutputs).filter { $0.1 == o }.map { try $0.0.serialize() }
        }
        return ["optimizer": try optimizer.serialize(), "loss": try outputLosses.map { try $0.serialize() },
                "loss_weights": lossWeights, "metrics": perOutput, "frozen_layers": frozen]
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
        let names = outputNames
        /// A per-output value given as one value, a list in output order or a dictionary by output name.
        func perOutput(_ value: Any, _ key: String) throws -> [Any]? {
            if let list = value as? [Any] {
                guard list.count == names.count else { throw r.error("'\(key)' has \(list.count) entries for \(names.count) outputs") }
                return list
            }
            if let map = value as? [String: Any], outputCount > 1 || map["class_name"] == nil {
                return try names.map { n in
                    guard let v = map[n] else { throw r.error("'\(key)' has no entry for output '\(n)'") }
                    return v
                }
            }
            return nil
        }
        let losses = try perOutput(lossConfig, "loss")?.map { try Loss.fromConfig($0) }
            ?? [Loss](repeating: try Loss.fromConfig(lossConfig), count: max(outputCount, 1))
        var lossWeights: [Double]?
        if let value = r.value("loss_weights"), !(value is NSNull) {
            guard let list = try perOutput(value, "loss_weights")?.compactMap({ ($0 as? NSNumber)?.doubleValue }), list.count == names.count else {
                throw r.error("'loss_weights' must give a number per output")
            }
            lossWeights = list
        }
        var metrics: [[Metric]] = []
        if let value = r.value("metrics"), !(value is NSNull) {
            guard let items = value as? [Any] ?? (value as? [String: Any]).map({ _ in [] }) else {
                throw r.error("'metrics' must be a list of names or metric objects")
            }
            if outputCount > 1, let lists = try perOutput(value, "metrics") {
                metrics = try lists.map { item in
                    guard let list = item as? [Any] ?? (item is NSNull ? [] : nil) else { throw r.error("'metrics' of each output must be a list") }
                    return try list.map { try Metric.fromConfig($0) }
                }
            } else {
                metrics = [try items.map { try Metric.fromConfig($0) }]
            }
        }
        var frozen = Set<String>()
        if let list = r.value("frozen_layers") {
            guard let names = list as? [String] else { throw r.error("'frozen_layers' must be a list of names") }
            frozen = Set(names)
        }
        if let value = r.value("weighted_metrics"), !(value is NSNull) { throw r.error("'weighted_metrics' is not supported") }
        try r.finish()
        // Compile with the saved frozen set, then give each layer its own flag back.
        let restore = descendants.filter { frozen.contains($0.name) }.map { ($0, $0.trainable) }
        for (layer, _) in restore { layer.trainable = false }
        if outputCount > 1 {
            compile(optimizer: optimizer, loss: losses, lossWeights: lossWeights, metrics: metrics)
        } else {
            compile(optimizer: optimizer, loss: losses[0], metrics: metrics.first ?? [])
        }
        if let compileError { throw compileError }
        for (layer, flag) in restore { layer.trainable = flag }
    }
}
