import Foundation
import Testing

/// `.ci/doc_coverage` (run by `.ci/run` before `swift test`): it counts the public declarations
/// without a doc comment and fails when the count exceeds the stored baseline. Run here on a
/// small tree of known counts (skipped with a message where no python3 exists).
@Suite struct DocCoverageTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Runs the script over `tree` (path → contents) with `baseline`; its exit status and output.
    func run(_ tree: [String: String], baseline: Int?) throws -> (status: Int32, output: String)? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return nil }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-doccov-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (path, text) in tree {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        if let baseline {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(".ci"), withIntermediateDirectories: true)
            try "\(baseline)\n".write(to: folder.appendingPathComponent(".ci/doc_coverage_baseline"), atomically: true, encoding: .utf8)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Self.root.appendingPathComponent(".ci/doc_coverage").path, "--list"]
        process.environment = ["LAMINA_ROOT": folder.path]
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let source = """
        import Foundation

        /// Documented.
        public struct Documented {
            /// Documented.
            public let a: Int
            public let b: Int
            public init() { (a, b) = (0, 0) }
        }

        public enum Mode {
            /// Documented.
            case first
            case second, third
        }

        extension Documented: CustomStringConvertible {
            public var description: String { "" }   // a conformance: DocC shows the protocol's docs
        }

        class Base { func f() {} }
        /// Documented.
        public class Derived: Base {
            public override func f() {}            // an override: DocC shows the overridden docs
            let text = "public func notADeclaration()"
            // public func commentedOut()
        }
        """

    @Test func countsUndocumentedDeclarationsAgainstTheBaseline() throws {
        guard let within = try run(["Sources/Lamina/Example.swift": Self.source], baseline: 4) else {
            print("DocCoverageTests: skipped — no /usr/bin/python3")
            return
        }
        // b, init, enum Mode, case second/third: 4 undocumented of 8.
        #expect(within.status == 0, "\(within.output)")
        #expect(within.output.contains("Lamina                 4 undocumented of     8"), "\(within.output)")
        #expect(within.output.contains("Example.swift:8: public init()"), "\(within.output)")
        let above = try #require(try run(["Sources/Lamina/Example.swift": Self.source], baseline: 3))
        #expect(above.status == 1)
        #expect(above.output.contains("more than the baseline 3"), "\(above.output)")
        let missing = try #require(try run(["Sources/Lamina/Example.swift": Self.source], baseline: nil))
        #expect(missing.status == 1)
    }
}
