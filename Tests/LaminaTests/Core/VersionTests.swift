import Foundation
import Testing

/// The README's package line names a version that CHANGELOG.md has a heading for (the tag the
/// release gets), so a user copying it finds what that version holds.
@Suite struct VersionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test func readmeVersionHasAChangelogHeading() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let changelog = try String(contentsOf: Self.root.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        let match = try #require(readme.firstMatch(of: /\.package\(url: "[^"]+", from: "(\d+\.\d+\.\d+)"\)/))
        let version = String(match.1)
        #expect(changelog.split(separator: "\n").contains { $0 == "## \(version)" }, "CHANGELOG.md has no '## \(version)'")
        // The newest heading is that version: the README is not behind the changelog.
        let newest = changelog.split(separator: "\n").first { $0.hasPrefix("## ") }
        #expect(newest == "## \(version)")
    }
}
