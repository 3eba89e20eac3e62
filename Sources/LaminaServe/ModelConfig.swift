import Foundation
import Lamina
import Logging

/// Which versions of a model found under its base path are served, as TensorFlow Serving's
/// `model_version_policy`: the `latest` N (default 1), `all`, or `specific` numbers.
public enum VersionPolicy: Sendable, Equatable {
    /// The N highest version numbers present (TF Serving's default is 1).
    case latest(Int)
    /// Every version present.
    case all
    /// These version numbers, those present among them.
    case specific(Set<Int>)

    /// The versions to serve among `present`.
    func select(_ present: Set<Int>) -> Set<Int> {
        switch self {
        case .latest(let n): Set(present.sorted(by: >).prefix(max(n, 1)))
        case .all: present
        case .specific(let wanted): present.intersection(wanted)
        }
    }
}

/// A model to serve: its name in URLs and `model_spec.name`, where its versions are, which of
/// them to serve, and version labels (label → version) of its own.
///
/// `basePath` is a directory of numbered version directories (`base/1/model.lamina`,
/// `base/2/...`, each holding one `.lamina` or `.keras` file), watched for new versions as
/// TensorFlow Serving watches its base paths, or a single model file, served as version 1.
public struct ModelConfig: Sendable, Equatable {
    /// The model's name in URLs and `model_spec.name`.
    public var name: String
    /// A directory of numbered version directories, or one model file.
    public var basePath: String
    /// Which versions present are served.
    public var policy: VersionPolicy
    /// Version labels of this model (label → version).
    public var labels: [String: Int]

    /// A model to serve; by default the latest version, no labels.
    public init(name: String, basePath: String, policy: VersionPolicy = .latest(1), labels: [String: Int] = [:]) {
        (self.name, self.basePath, self.policy, self.labels) = (name, basePath, policy, labels)
    }
}
