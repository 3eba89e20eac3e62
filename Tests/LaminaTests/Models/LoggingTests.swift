import Foundation
import Logging
import Testing
import LaminaTestSupport
@testable import Lamina
import LaminaData

/// Collects log messages (a test's own handler).
final class CollectingHandler: LogHandler, @unchecked Sendable {
    // `@unchecked`: `messages` sits behind the mutex; the other fields are set before use.
    let messages = Locked<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? { get { metadata[key] } set { metadata[key] = newValue } }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        messages.withLock { $0.append("\(level): \(message)") }
    }
}

@Suite(.serialized) struct LoggingTests {
    /// The library's warnings go through swift-log: an application sees (or silences) them.
    @Test func warningsGoThroughTheLogger() throws {
        let saved = Lamina.logger
        defer { Lamina.logger = saved }
        let handler = CollectingHandler()
        Lamina.logger = Logger(label: "test") { _ in handler }
        let x = Tensor(shape: [4, 1], scalars: [1, 2, 3, .nan] as [Float]), y = Tensor.zeros([4, 1])
        let model = Sequential([Dense(1, inputShape: [1])], name: "logged")
        model.compile(optimizer: .sgd, loss: .mse)
        try model.fit(x, y, epochs: 1, batchSize: 4, verbose: 0)
        #expect(handler.messages.withLock { $0 }.contains { $0.hasPrefix("warning: logged: loss is nan") }, "\(handler.messages.withLock { $0 })")
        handler.logLevel = .error   // silenced
        handler.messages.withLock { $0.removeAll() }
        Lamina.logger = Logger(label: "test") { _ in handler }
        try model.fit(x, y, epochs: 1, batchSize: 4, verbose: 0)
        #expect(handler.messages.withLock { $0 }.filter { $0.contains("logged") }.isEmpty)
    }

    /// BMP and GIF files, which Keras reads and Lamina does not decode, are named in a
    /// warning instead of vanishing from the dataset.
    /// BMP and GIF files are read now (issue 23): damaged ones are errors, or skipped and listed
    /// with `badFiles: .skip`, like damaged PNGs; no "left out" warning any more.
    @Test func bmpAndGIFFilesAreRead() throws {
        let saved = Lamina.logger
        defer { Lamina.logger = saved }
        let handler = CollectingHandler()
        Lamina.logger = Logger(label: "test") { _ in handler }
        let root = temporaryDirectory()
        let cats = root.appendingPathComponent("cats")
        try FileManager.default.createDirectory(at: cats, withIntermediateDirectories: true)
        let png = dataFixtures.appendingPathComponent("../../../LaminaDataTests/Fixtures/folder/cats/a_rgb.png").standardized
        try FileManager.default.copyItem(at: png, to: cats.appendingPathComponent("a.png"))
        try Data([0x42, 0x4D]).write(to: cats.appendingPathComponent("b.bmp"))
        try Data(Array("GIF89a".utf8)).write(to: cats.appendingPathComponent("c.gif"))
        let damaged = #expect(throws: LaminaError.self) {
            _ = try Dataset.imageDatasetFromDirectory(root.path, batchSize: nil, imageSize: (2, 2), shuffle: false)
        }
        #expect(damaged?.message.contains("b.bmp") == true, "\(damaged?.message ?? "no error")")
        let (_, source) = try Dataset.imageDatasetFromDirectory(root.path, batchSize: nil, imageSize: (2, 2), shuffle: false, badFiles: .skip)
        #expect(source.count == 1 && source.skipped.map(\.lastPathComponent).sorted() == ["b.bmp", "c.gif"])
        #expect(handler.messages.withLock { $0 }.filter { $0.contains("BMP/GIF") }.isEmpty)
    }
}
