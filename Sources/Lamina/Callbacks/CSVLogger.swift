import Foundation

/// Appends one CSV row per epoch (epoch and sorted metrics). Keras: `CSVLogger`.
public final class CSVLogger: Callback {
    /// The CSV file, the field separator, and whether to add to an existing file rather than overwrite it.
    public let path: String, separator: String, append: Bool
    private var keys: [String]?
    /// Keras: `keras.callbacks.CSVLogger(filename, separator=",", append=False)`; under data parallelism only rank 0 writes.
    public init(_ path: String, separator: String = ",", append: Bool = false) {
        (self.path, self.separator, self.append) = (path, separator, append)
    }
    public override func onTrainBegin() {
        keys = nil
        guard Strategy.isChief else { return }   // under DataParallel, rank 0 writes the log
        if !append { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    }
    public override func onEpochEnd(_ epoch: Int, logs: [String: Double]) {
        guard Strategy.isChief else { return }
        var text = ""
        if keys == nil {
            keys = logs.keys.sorted()
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if size == 0 { text += (["epoch"] + keys!).joined(separator: separator) + "\n" }
        }
        text += ([String(epoch)] + keys!.map { logs[$0].map { String($0) } ?? "" }).joined(separator: separator) + "\n"
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try? handle.close()
        }
    }
}
