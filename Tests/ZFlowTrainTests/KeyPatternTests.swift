import Testing
import ZFlowTrain

@Suite struct KeyPatternTests {
    static let proj = "model.diffusion_model.input_blocks.1.1.proj_in.weight"

    @Test(arguments: [
        ("model.diffusion_model.**", proj, true),
        ("**", proj, true),
        ("**.weight", proj, true),
        ("**.bias", proj, false),
        ("**.input_blocks.*.1.**", proj, true),
        ("**.input_blocks.*.0.**", proj, false),
        ("**.proj_*.weight", proj, true),
        ("**.proj*in.**", proj, true),
        ("**.*_in.**", proj, true),
        ("**.proj_in", proj, false),
        ("*.weight", proj, false),
        ("*.weight", "out.weight", true),
        ("model.**.weight", "model.weight", true),
        ("**.attn3.**", "attn3.to_q.weight", true),
        ("**.attn3.**", "model.attn30.to_q.weight", false),
        ("model.diffusion_model.out.2.weight", "model.diffusion_model.out.2.weight", true),
        ("model.diffusion_model.out.2.weight", "model.diffusion_model.out.2.weight.x", false),
        ("model.*", "model.diffusion_model.x", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "a_b", false),
        ("a*bc*bc", "abcbc", true),
        ("a*bc*bc", "abc", false),
    ])
    func matches(pattern: String, key: String, expected: Bool) throws {
        #expect(try KeyPattern(pattern).matches(key) == expected, "'\(pattern)' against '\(key)'")
    }

    @Test(arguments: ["", "model..weight", ".weight", "model.", "model.**x", "a***"])
    func malformedPatternsAreErrorsThatSayWhy(pattern: String) {
        #expect(throws: TrainingError.self) { try KeyPattern(pattern) }
        do { _ = try KeyPattern(pattern) } catch {
            #expect("\(error)".contains("'\(pattern)'"), "\(error)")
        }
    }
}
