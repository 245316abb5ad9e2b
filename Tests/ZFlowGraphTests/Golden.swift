import Foundation
import Testing

/// Compares `actual` with a golden file under Fixtures/; with ZFLOW_UPDATE_GOLDEN=1
/// it (re)writes the file instead, to be reviewed in the diff.
func expectGolden(_ actual: String, _ relativePath: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let url = fixturesDirectory.appendingPathComponent(relativePath)
    if ProcessInfo.processInfo.environment["ZFLOW_UPDATE_GOLDEN"] == "1" {
        try? actual.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("missing golden file \(relativePath); run with ZFLOW_UPDATE_GOLDEN=1", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "golden \(relativePath) differs", sourceLocation: sourceLocation)
}

/// The source folder of the fixtures, so that golden updates land in the repository.
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
