import Foundation
import Testing
import ZFlowBatch

/// The AP warning's text comes from the headline alone, so eval, report and train's validation
/// line say the same; a point's row prefixes its number.
@Test func apWarningIsSaidOnlyOutsideZeroToOne() throws {
    func headline(ap: Double) throws -> Headline {
        let json = """
            {"ap": \(ap), "foregroundIoU03": 0.4, "meanIoU03": 0.5, "foregroundIoU05": 0.4, "meanIoU05": 0.5,
             "bestForegroundIoU": 0.4, "bestForegroundIoUThreshold": 0.5, "bestMeanIoU": 0.5, "bestMeanIoUThreshold": 0.5}
            """
        return try JSONDecoder().decode(Headline.self, from: Data(json.utf8))
    }
    for inside in [0.0, 0.6675, 1.0] { #expect(try headline(ap: inside).apWarning == nil) }
    for outside in [1.6199, -0.25] {
        let warning = try #require(try headline(ap: outside).apWarning)
        #expect(warning.hasPrefix(String(format: "AP %.4f lies outside [0, 1]: ", outside)), "\(warning)")
    }
}
