import Foundation
import Testing
import ZFlowIO
import ZFlowTensor
@testable import ZFlowTraining

/// `zflow train`'s mask targets against torch.nn.functional.interpolate's "nearest" and "area"
/// (Fixtures/mask_targets.safetensors, tools/fixtures/mask_targets.py): random masks resized by
/// 8 exactly, by ratios that do not divide (area windows overlap), up, and to their own size.
struct MaskTargetTests {
    @Test(arguments: ["by8", "uneven", "up", "same"], MaskResize.allCases)
    func targetsMatchTorchInterpolate(name: String, resize: MaskResize) throws {
        let fixture = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/mask_targets.safetensors"))
        let mask = try fixture.tensor("\(name).mask"), expected = try fixture.tensor("\(name).\(resize.rawValue)")
        let target = TargetMask(width: mask.shape[1], height: mask.shape[0], foreground: mask.buffer.map { $0 == 1 })
            .target(height: expected.shape[0], width: expected.shape[1], resize: resize)
        #expect(target.shape == [1, 1] + expected.shape)
        // Area fractions are an exact count over the window's size in both, divided in a different
        // order (measured: 3e-8 at most): at most one rounding of a value <= 1 apart.
        let worst = zip(target.buffer, expected.buffer).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= Float.ulpOfOne, "\(name) \(resize): worst difference \(worst)")
        if resize == .area && name != "same" { #expect(Set(expected.buffer).count > 2, "the fixture should hold fractions") }
    }
}
