import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

@Suite struct AtomicFileTests {
    /// A child process rewrites a 4 MiB file in a loop and is killed (SIGKILL) at random
    /// moments: every time, the file must be one whole generation — never torn or empty.
    @Test func aWriterKilledAtAnyMomentLeavesAWholeFile() throws {
        let folder = temporaryDirectory()
        let target = folder.appendingPathComponent("model.safetensors")
        try AtomicFile.write(Data(repeating: 0, count: 4 << 20), to: target)
        var rng = RandomGenerator(seed: 11)
        var generationsSeen = Set<UInt8>()
        for _ in 0..<25 {
            let child = Process()
            child.executableURL = ExampleRunTests.binaries.appendingPathComponent("lamina-atomic-writer")
            child.arguments = [target.path]
            try child.run()
            usleep(UInt32(5_000 + rng.next() % 120_000))  // 5–125 ms: mid-write more often than not
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            let bytes = [UInt8](try Data(contentsOf: target))
            #expect(bytes.count == 4 << 20, "torn file: \(bytes.count) bytes")
            #expect(Set(bytes).count == 1, "torn file: mixed generations")
            generationsSeen.insert(bytes.first ?? 255)
        }
        #expect(generationsSeen.count > 5, "the writer should have made progress between kills")
        // A kill can leave a stray `.model.safetensors.tmp-*` beside the target; the target itself is never torn.
    }
}
