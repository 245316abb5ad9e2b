import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

/// "ZFlow writes, the official code reads": Fixtures/official/zflow_run.ckpt was written by
/// `zflow train --checkpoint-format ckpt` (2 SGD steps on a micro LD-ZNet: the tiny one with half
/// its channels, so that the file is small; its sidecar zflow_run.json says so); official_logits
/// holds what the official `ldznet_UNet.UNetModel` (koutilya-pnvr/LD-ZNet) computes from it after
/// torch.load(weights_only=True) and the key rename, for both copies
/// (tools/fixtures/official_ldznet.py; docs/parity.md "Against the official LD-ZNet code").
/// ZFlow's logits from the same file agree within 1e-5 of max |ref|.
@Suite struct OfficialCodeReadsZFlowTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/official")

    @Test func zflowCheckpointGivesTheOfficialLogits() throws {
        let reference = try SafeTensorsFile(contentsOf: Self.folder.appendingPathComponent("official_logits.safetensors"))
        let z = try reference.tensor("input/z"), context = try reference.tensor("input/context")
        let taps = try Dictionary(uniqueKeysWithValues: (6...10).map { ($0, try reference.tensor("input/tap\($0)")) })
        let checkpoint = Self.folder.appendingPathComponent("zflow_run.ckpt")
        var logits: [String: Tensor] = [:]
        for (name, copy) in [("training", LDZNetCheckpoint.Copy.training), ("ema", .ema)] {
            let znet = try LDZNetCheckpoint(url: checkpoint, copy: copy).loadZNet(fusion: "cross_attention").znet
            let expected = try reference.tensor("logits_\(name)")
            let computed = try znet(z, context: context, sdFeatures: taps)
            let ratio = ZNetTrainerTests.relativeError(computed, expected)
            #expect(ratio <= 1e-5, "\(name) copy: \(ratio) of max |ref|")
            print("\(name) copy: ZFlow's logits within \(ratio) of max |ref| of the official module's")
            logits[name] = expected
        }
        // The check can fail: a loader that read the other copy would be off by far more.
        let copies = ZNetTrainerTests.relativeError(logits["training"]!, logits["ema"]!)
        #expect(copies > 1e-3, "the two copies' official logits differ by only \(copies) of max |ref|")
    }
}
