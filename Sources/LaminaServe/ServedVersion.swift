import Foundation
import Lamina
import Logging

/// A loaded version of a model, with its batcher. Requests hold a lease on it from the
/// moment they are routed until their answer is written (`ModelRegistry.acquire`, `release`), so
/// a version that is unloaded (a newer one arrived, its directory went away) stops taking new
/// requests at once but finishes those it has: its batcher is shut down when the last lease
/// is given back.
public final class ServedVersion: Sendable {
    /// The model's name.
    public let name: String
    /// This version's number.
    public let version: Int
    /// The batcher that runs this version's predictions.
    public let batcher: DynamicBatcher
    /// The loaded model.
    public var model: InferenceModel { batcher.model }
    private let leases = Locked((count: 0, retired: false))

    init(name: String, version: Int, batcher: DynamicBatcher) {
        (self.name, self.version, self.batcher) = (name, version, batcher)
    }

    /// Takes a lease (the registry does, under its lock, when it hands the version out).
    func acquire() { leases.withLock { $0.count += 1 } }

    /// Gives back a lease taken by `ModelRegistry.acquire`.
    public func release() {
        let stop = leases.withLock { leases in
            leases.count -= 1
            return leases.retired && leases.count == 0
        }
        if stop { batcher.shutdown() }
    }

    /// No new leases will be taken: the batcher stops once the requests holding one are answered.
    func retire() {
        let stop = leases.withLock { leases in
            leases.retired = true
            return leases.count == 0
        }
        if stop { batcher.shutdown() }
    }

    /// Leases held now (requests in flight on this version).
    public var requestsInFlight: Int { leases.withLock { $0.count } }
}

/// A version's state, as TensorFlow Serving's `ModelVersionStatus.State`.
public enum VersionState: String, Sendable {
    /// The states in TF Serving's order; `end` also marks a version that failed to load.
    case start = "START", loading = "LOADING", available = "AVAILABLE", unloading = "UNLOADING", end = "END"
}

/// One version's state and, for a version that failed to load, why.
public struct VersionStatus: Sendable, Equatable {
    /// The version number.
    public let version: Int
    /// Where it is in its life.
    public let state: VersionState
    /// nil: OK.
    public let error: String?
}

/// How a request names a version: the latest available, a number, or a label.
public enum VersionSelector: Sendable, Equatable {
    /// The highest version available.
    case latest
    /// A version by number (`/versions/N`, `model_spec.version`).
    case version(Int)
    /// A version by label (`/labels/L`, `model_spec.version_label`).
    case label(String)
}
