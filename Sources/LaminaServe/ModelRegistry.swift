import Foundation
import Lamina
import Logging

/// The models and versions a server answers for, shared by its REST and gRPC APIs.
///
/// Models are fixed when the server starts (by name); their versions change: `poll()` looks at
/// each model's base directory, loads the versions its policy wants that are not loaded yet
/// (state LOADING, then AVAILABLE), then unloads the loaded ones it no longer wants (END) —
/// loads first, so a model never goes without a version while a newer one loads. New requests
/// go to the new version as soon as it is AVAILABLE; requests already routed to the old one
/// finish there (`ServedVersion`). A version that fails to load is logged, shows END with
/// its error in the status, and is left out of the policy until its model file changes, so the
/// versions already loaded keep serving (TensorFlow Serving's availability-preserving policy).
///
/// All state is behind one lock, taken for map look-ups only; loading runs outside it.
public final class ModelRegistry: Sendable {
    enum Source: Sendable, Equatable {
        case directory(String)
        case file(String)
        case inMemory
    }

    struct Record: Sendable {
        var state: VersionState
        var served: ServedVersion?
        var error: String?
        /// The model file's path, size and modification time when it was (last) loaded or failed.
        var fingerprint: String?
    }

    struct Entry: Sendable {
        var source: Source
        var policy: VersionPolicy
        var labels: [String: Int]
        var versions: [Int: Record] = [:]
        /// The last problem with the base path, logged once until it changes.
        var basePathProblem: String?
    }

    /// Ended versions kept in the status per model (the newest).
    static let endedVersionsKept = 16

    /// The served models' names, sorted (fixed when the server starts).
    public let modelNames: [String]
    private let entries: Locked<[String: Entry]>
    private let stopped = Locked(false)
    private let loader: @Sendable (URL) throws -> InferenceModel
    private let makeBatcher: @Sendable (String, InferenceModel) -> DynamicBatcher
    private let logger: Logger

    /// Models loaded already, each served as version 1.
    init(models: [String: InferenceModel], labels: [String: Int], makeBatcher: @escaping @Sendable (String, InferenceModel) -> DynamicBatcher, logger: Logger) {
        var entries: [String: Entry] = [:]
        for (name, model) in models {
            var entry = Entry(source: .inMemory, policy: .latest(1), labels: labels)
            entry.versions[1] = Record(state: .available, served: ServedVersion(name: name, version: 1, batcher: makeBatcher(name, model)))
            entries[name] = entry
        }
        self.entries = Locked(entries)
        modelNames = models.keys.sorted()
        (self.loader, self.makeBatcher, self.logger) = ({ _ in throw RequestError(500, "no loader") }, makeBatcher, logger)
    }

    /// Models from their configurations (nothing loaded until `poll()`); `labels` are added to
    /// every model's own.
    init(configs: [ModelConfig], labels: [String: Int], loader: @escaping @Sendable (URL) throws -> InferenceModel,
         makeBatcher: @escaping @Sendable (String, InferenceModel) -> DynamicBatcher, logger: Logger) throws(RequestError) {
        var entries: [String: Entry] = [:]
        for config in configs {
            guard !config.name.isEmpty, !config.name.contains("/"), !config.name.contains(":") else {
                throw RequestError(400, "model name '\(config.name)': give a non-empty name without '/' or ':'")
            }
            guard entries[config.name] == nil else { throw RequestError(400, "model '\(config.name)' is configured twice") }
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: config.basePath, isDirectory: &isDirectory)
            // A missing path is taken as a base directory still to come (TF Serving logs it and keeps polling).
            let source: Source = exists && !isDirectory.boolValue ? .file(config.basePath) : .directory(config.basePath)
            entries[config.name] = Entry(source: source, policy: config.policy, labels: labels.merging(config.labels) { _, own in own })
        }
        self.entries = Locked(entries)
        modelNames = entries.keys.sorted()
        (self.loader, self.makeBatcher, self.logger) = (loader, makeBatcher, logger)
    }

    /// Whether any model's versions come from a directory (something for `poll()` to watch).
    public var watchesDirectories: Bool {
        entries.withLock { $0.values.contains { if case .directory = $0.source { true } else { false } } }
    }

    // MARK: - Routing

    /// The version `selector` names, with a lease the caller gives back with `release()`;
    /// else TF Serving's error (404 for unknown models and versions, 400 for unknown labels,
    /// 503 once the server is stopping).
    public func acquire(_ name: String, _ selector: VersionSelector) -> Result<ServedVersion, RequestError> {
        entries.withLock { entries -> Result<ServedVersion, RequestError> in
            guard let entry = entries[name] else {
                return .failure(RequestError(404, "Servable not found for request: Latest(\(name.prefix(200)))" + hint(entries)))
            }
            let version: Int
            switch selector {
            case .latest:
                var latest: ServedVersion?   // no collection made: this runs for every request
                for (v, record) in entry.versions where record.served != nil && v > (latest?.version ?? Int.min) { latest = record.served }
                guard let latest else {
                    return .failure(RequestError(404, "Servable not found for request: Latest(\(name)); no version of \(name) is available yet"))
                }
                version = latest.version
            case .version(let v):
                version = v
            case .label(let label):
                guard let v = entry.labels[label] else { return .failure(Self.unknownLabel(label, entry)) }
                version = v
            }
            guard let served = entry.versions[version]?.served else {
                return .failure(RequestError(404, "Servable not found for request: Specific(\(name), \(version))" + available(entry)))
            }
            served.acquire()
            return .success(served)
        }
    }

    /// The states of a model's versions, newest first (`selector` `.latest`: all of them), or
    /// TF Serving's 404 (`Could not find ...`).
    public func statuses(_ name: String, _ selector: VersionSelector) -> Result<[VersionStatus], RequestError> {
        entries.withLock { entries -> Result<[VersionStatus], RequestError> in
            guard let entry = entries[name], !entry.versions.isEmpty else {
                return .failure(RequestError(404, "Could not find any versions of model \(name.prefix(200))" + (entries[name] == nil ? hint(entries) : "")))
            }
            let version: Int
            switch selector {
            case .latest:
                return .success(entry.versions.sorted { $0.key > $1.key }.map { VersionStatus(version: $0.key, state: $0.value.state, error: $0.value.error) })
            case .version(let v):
                version = v
            case .label(let label):
                guard let v = entry.labels[label] else { return .failure(Self.unknownLabel(label, entry)) }
                version = v
            }
            guard let record = entry.versions[version] else {
                return .failure(RequestError(404, "Could not find version \(version) of model \(name)"))
            }
            return .success([VersionStatus(version: version, state: record.state, error: record.error)])
        }
    }

    /// Whether `name` is a served model.
    public func contains(_ name: String) -> Bool { modelNames.contains(name) }

    private func hint(_ entries: [String: Entry]) -> String { "; this server has \(entries.keys.sorted().joined(separator: ", "))" }

    private func available(_ entry: Entry) -> String {
        let versions = entry.versions.filter { $0.value.served != nil }.keys.sorted()
        return versions.isEmpty ? "; no version is available" : "; available: \(versions.map(String.init).joined(separator: ", "))"
    }

    private static func unknownLabel(_ label: String, _ entry: Entry) -> RequestError {
        RequestError(400, "Unrecognized servable version label: \(label.prefix(100))"
                     + (entry.labels.isEmpty ? " (no labels are configured: lamina-serve --version-label NAME=VERSION, or version_labels in the model config)"
                        : " (labels: \(entry.labels.keys.sorted().joined(separator: ", ")))"))
    }

    // MARK: - Loading and unloading

    /// Loads the single-file models; a file that cannot be loaded is an error (the server
    /// cannot start without it). Directory models are loaded by `poll()`.
    func loadFiles() throws(RequestError) {
        let files = entries.withLock { $0.compactMap { name, entry in if case .file(let path) = entry.source { (name, path) } else { nil } } }
        for (name, path) in files {
            let model: InferenceModel
            do {
                model = try loader(URL(fileURLWithPath: path))
            } catch {
                throw RequestError(400, "cannot load \(path): \(Self.describe(error))")
            }
            let served = ServedVersion(name: name, version: 1, batcher: makeBatcher(name, model))
            entries.withLock { $0[name]?.versions[1] = Record(state: .available, served: served, fingerprint: path) }
            logger.info("model \(name): version 1 AVAILABLE (\(path))")
        }
    }

    /// Looks at every model's base directory once: loads the versions its policy wants that are
    /// not loaded, then unloads the ones it no longer wants. Blocking (it loads models): run it
    /// off the event loops.
    public func poll() {
        for name in modelNames { poll(name) }
    }

    private func poll(_ name: String) {
        guard !stopped.withLock({ $0 }), let watched = entries.withLock({ entries -> (base: String, policy: VersionPolicy)? in
            guard let entry = entries[name], case .directory(let base) = entry.source else { return nil }
            return (base, entry.policy)
        }) else { return }
        let (base, policy) = watched
        let found: [Int: Candidate]
        do {
            found = try Self.versions(in: base)
            entries.withLock { $0[name]?.basePathProblem = nil }
        } catch {
            // As TF Serving: a base path that cannot be read changes nothing (it may be a passing problem).
            let problem = Self.describe(error)
            let isNew = entries.withLock { entries -> Bool in
                defer { entries[name]?.basePathProblem = problem }
                return entries[name]?.basePathProblem != problem
            }
            if isNew { logger.error("model \(name): \(problem)") }
            return
        }
        // Versions that failed and have not changed since are left out of the policy.
        func wanted() -> Set<Int> {
            let failed = entries.withLock { entries -> Set<Int> in
                guard let versions = entries[name]?.versions else { return [] }
                return Set(versions.filter { $0.value.error != nil && $0.value.fingerprint == found[$0.key]?.fingerprint }.keys)
            }
            return policy.select(Set(found.keys).subtracting(failed))
        }
        for version in wanted().sorted(by: >) {
            guard let candidate = found[version] else { continue }
            let loading = entries.withLock { entries -> Bool in
                let record = entries[name]?.versions[version]
                guard record?.served == nil, record?.state != .loading else { return false }   // loaded, or loading in another poll
                entries[name]?.versions[version] = Record(state: .loading, fingerprint: candidate.fingerprint)
                return true
            }
            guard loading else { continue }
            logger.info("model \(name): loading version \(version) from \(candidate.file?.path ?? candidate.directory.path)")
            let result = Result<InferenceModel, any Error> {
                guard let file = candidate.file else { throw RequestError(400, candidate.problem ?? "no model file") }
                return try loader(file)
            }
            switch result {
            case .success(let model):
                let served = ServedVersion(name: name, version: version, batcher: makeBatcher(name, model))
                let kept = entries.withLock { entries -> Bool in
                    guard !stopped.withLock({ $0 }) else { return false }
                    entries[name]?.versions[version] = Record(state: .available, served: served, fingerprint: candidate.fingerprint)
                    return true
                }
                if kept { logger.info("model \(name): version \(version) AVAILABLE") } else { served.retire() }
            case .failure(let error):
                let message = "cannot load version \(version) of \(name) from \(candidate.directory.path): \(Self.describe(error))"
                entries.withLock { $0[name]?.versions[version] = Record(state: .end, error: message, fingerprint: candidate.fingerprint) }
                logger.error("model \(name): \(message); the versions loaded keep serving")
            }
        }
        let keep = wanted()
        let retired = entries.withLock { entries -> [ServedVersion] in
            guard var entry = entries[name] else { return [] }
            var retired: [ServedVersion] = []
            for (version, record) in entry.versions where !keep.contains(version) {
                if let served = record.served {
                    retired.append(served)
                    entry.versions[version] = Record(state: .end, fingerprint: record.fingerprint)
                } else if record.state == .loading {
                    entry.versions[version] = nil   // not reached: loads finish before this
                }
            }
            let ended = entry.versions.filter { $0.value.state == .end }.keys.sorted(by: >)
            for version in ended.dropFirst(Self.endedVersionsKept) { entry.versions[version] = nil }
            entries[name] = entry
            return retired
        }
        for served in retired {
            let inFlight = served.requestsInFlight
            logger.info("model \(name): version \(served.version) unloaded (END)\(inFlight > 0 ? " once its \(inFlight) request(s) in flight are answered" : "")")
            served.retire()
        }
    }

    /// Stops loading and retires every version: each batcher stops once its requests are answered.
    public func shutdown() {
        stopped.withLock { $0 = true }
        let all = entries.withLock { entries -> [ServedVersion] in
            var all: [ServedVersion] = []
            for name in entries.keys {
                for (version, record) in entries[name]!.versions {
                    if let served = record.served { all.append(served) }
                    entries[name]!.versions[version]?.served = nil
                    entries[name]!.versions[version]?.state = .end
                }
            }
            return all
        }
        for served in all { served.retire() }
    }

    // MARK: - The file system

    struct Candidate {
        let directory: URL
        let file: URL?
        /// Why there is no file (none, or several).
        let problem: String?
        let fingerprint: String
    }

    /// The model file of a version directory: its one `.lamina` or `.keras` file (`model.lamina`
    /// or `model.keras` where there are several).
    static func candidate(_ directory: URL) -> Candidate {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        let models = names.filter { ["lamina", "keras"].contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
        let chosen = models.count == 1 ? models[0] : models.first { $0 == "model.lamina" || $0 == "model.keras" }
        guard let chosen else {
            let problem = models.isEmpty ? "no .lamina or .keras file in \(directory.path) (it has \(names.isEmpty ? "nothing" : names.prefix(10).joined(separator: ", ")))"
                : "several model files in \(directory.path) (\(models.joined(separator: ", "))): name the one to serve model.lamina or model.keras"
            return Candidate(directory: directory, file: nil, problem: problem, fingerprint: "none:" + names.joined(separator: "/"))
        }
        let file = directory.appendingPathComponent(chosen)
        let attributes = (try? FileManager.default.attributesOfItem(atPath: file.path)) ?? [:]
        let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return Candidate(directory: directory, file: file, problem: nil, fingerprint: "\(chosen):\(size):\(modified)")
    }

    /// The numbered version directories under `base` (names that are whole non-negative numbers).
    static func versions(in base: String) throws -> [Int: Candidate] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: base, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RequestError(404, "could not find base path \(base) (a directory of numbered versions: \(base)/1/model.lamina, ...)")
        }
        var found: [Int: Candidate] = [:]
        for child in try FileManager.default.contentsOfDirectory(atPath: base) {
            guard !child.isEmpty, child.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let version = Int(child) else { continue }
            let url = URL(fileURLWithPath: base).appendingPathComponent(child)
            var childIsDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &childIsDirectory), childIsDirectory.boolValue else { continue }
            found[version] = candidate(url)
        }
        return found
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? LaminaError { return error.message }
        if let error = error as? RequestError { return error.message }
        return "\(error)"
    }
}
