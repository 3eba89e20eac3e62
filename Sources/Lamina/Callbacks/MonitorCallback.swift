import Foundation

/// Which way a monitored quantity should go. Keras's `mode`: `"auto"`, `"min"` or `"max"`
/// (a string literal works: `mode: "max"`; an unknown one warns and means `.auto`, as Keras).
public enum MonitorMode: String, Sendable, ExpressibleByStringLiteral {
    /// The monitored metric's own direction (Keras 3: the compiled metric's `_direction`;
    /// `loss` and output losses go down).
    case auto
    /// Lower is better (`.min`) or higher is better (`.max`).
    case min, max

    /// The mode named by `value` (`"auto"`, `"min"`, `"max"`); an unknown name warns and gives `.auto`.
    public init(stringLiteral value: String) {
        if let mode = MonitorMode(rawValue: value) { self = mode } else {
            Lamina.logger.warning("monitor mode '\(value)' is unknown (auto, min or max); falling back to auto mode")
            self = .auto
        }
    }
}

/// A callback that watches one logged quantity (`EarlyStopping`, `ReduceLROnPlateau`,
/// `ModelCheckpoint`). Keras: `MonitorCallback`.
///
/// Mode `.auto` reads the direction as Keras 3 does: `loss` (and `val_loss`, output losses)
/// is minimized; a compiled metric is maximized or minimized by its `direction` (accuracies,
/// AUC, precision, recall and F-scores go up; errors go down). A quantity no metric explains is
/// judged by its name (`acc`, `auc`, `precision`, `recall`, `f1`, `fbeta`, `iou`, `r2` go up;
/// losses and errors down) and otherwise minimized with a warning, where Keras 3 raises. A
/// monitor that is not among the logs warns once, naming the logged quantities.
open class MonitorCallback: Callback {
    /// The logged quantity watched (`"val_loss"`, `"accuracy"`, ...). Keras: `monitor`.
    public let monitor: String
    /// The mode as given.
    public let requestedMode: MonitorMode
    /// `.min` or `.max`: the given mode, or what `.auto` reads (from the name at first, and from
    /// the model's metrics once training).
    public internal(set) var mode: MonitorMode
    private var readFromModel = false, warnedMissing = false, warnedDirection = false

    /// A callback watching `monitor` in `mode` (for subclasses); `.auto` is read from the name until the model's metrics are known.
    public init(monitor: String, mode: MonitorMode) {
        (self.monitor, requestedMode) = (monitor, mode)
        self.mode = mode == .auto ? (MonitorCallback.direction(of: monitor, model: nil) == .up ? .max : .min) : mode
        super.init()
    }

    /// What `.auto` means for `monitor`, from the model's compiled metrics when given, else from
    /// the name; nil when neither tells.
    static func direction(of monitor: String, model: Model?) -> MetricDirection? {
        let name = monitor.hasPrefix("val_") ? String(monitor.dropFirst(4)) : monitor
        if name == "loss" || name.hasSuffix("_loss") { return .down }
        if let model {
            for (key, metric) in zip(model.metricKeys, model.compiledMetrics) where key == name || metric.name == name {
                if let d = metric.direction { return d }
            }
            for metric in model.metrics where metric.name == name {
                if let d = metric.direction { return d }
            }
        }
        let lower = name.lowercased()
        if ["acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2"].contains(where: lower.contains) { return .up }
        if ["error", "mse", "mae", "crossentropy", "hinge", "divergence"].contains(where: lower.contains) { return .down }
        return nil
    }

    /// Call at the start of training: `.auto` is read again from the model (it may have been
    /// compiled anew).
    public func monitorTrainBegan() { readFromModel = false }

    /// Settles `mode` for `.auto` from the model's metrics (once per `fit`).
    public func settleMode() {
        guard requestedMode == .auto, !readFromModel, let model else { return }
        readFromModel = true
        if let d = Self.direction(of: monitor, model: model) { mode = d == .up ? .max : .min; return }
        mode = .min
        if !warnedDirection {
            warnedDirection = true
            Lamina.logger.warning("\(type(of: self)): cannot tell whether '\(monitor)' should be maximized or minimized; minimizing it (pass mode: .max to maximize)")
        }
    }

    /// The monitored value in `logs`; when absent, nil and (once) a warning naming what is there.
    public func monitorValue(_ logs: [String: Double]) -> Double? {
        if let value = logs[monitor] { return value }
        if !warnedMissing {
            warnedMissing = true
            Lamina.logger.warning("\(type(of: self)) is conditioned on '\(monitor)', which is not available. Available metrics are: \(logs.keys.sorted().joined(separator: ", "))")
        }
        return nil
    }
}
