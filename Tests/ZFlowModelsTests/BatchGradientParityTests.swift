import Foundation
import Testing
import ZFlowModels
import ZFlowTensor

/// A batch against PyTorch: the tiny cross_attention LD-ZNet on two samples (each its own latent,
/// text, SD taps and mask; BCE mean over the batch), the gradients of every attention and fusion
/// parameter (attn1, attn2, attn3, norm_sd, the pools) within 1e-4 of max |ref| of autograd's
/// (Fixtures/grads/ldznet_cross_attention_batch2, tools/fixtures/model_grads.py).
@Suite struct BatchGradientParityTests {
    @Test func ldzNetCrossAttentionBatchOfTwo() throws {
        let fixture = try ModelGradientFixture("ldznet_cross_attention_batch2")
        let model = try ModelGradientTests.znet("cross_attention")
        let taps = try Dictionary(uniqueKeysWithValues: ldzNetTaps.map { ($0, try fixture.input("tap\($0)")) })
        let (z, context, mask) = (try fixture.input("z"), try fixture.input("context"), try fixture.input("mask"))
        #expect(z.shape[0] == 2 && context.shape == [2, 77, 24] && mask.shape[0] == 2)
        let parameters = model.parameters.filter { fixture.gradients[$0.key] != nil }
        try fixture.expectGradients(of: parameters, label: "ldznet cross_attention batch 2") {
            try bceWithLogits(model(z, context: context, sdFeatures: taps), target: mask)
        }
    }
}
