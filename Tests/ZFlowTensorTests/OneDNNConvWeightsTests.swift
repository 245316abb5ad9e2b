import CDNNL
import Testing
@testable import ZFlowTensor

/// oneDNN's forward convolution with its weights reordered once and kept with the weight tensor
/// (OneDNNConvWeights): the same values as the call that reorders them itself, a reorder again
/// after trained weights change, and no call with weights kept in another layout.
@Suite struct OneDNNConvWeightsTests {
    /// 32 -> 32 channels, 3x3, on 12 x 12: oneDNN wants blocked weights on AVX2 and AVX-512.
    let x = randomTensor([1, 32, 12, 12], seed: 31), bias = randomTensor([32], seed: 33)
    let geometry = ConvGeometry(channels: 32, height: 12, width: 12, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)

    /// zflow_dnnl_conv2d with dense weights, reordered inside the call.
    func reorderedPerCall(_ weight: Tensor) -> Tensor {
        let output = Tensor(uninitialized: [1, 32, 12, 12])
        let status = zflow_dnnl_conv2d(1, 32, 12, 12, 32, 3, 3, 1, 1, x.pointer, weight.pointer, nil, bias.pointer,
                                       output.mutablePointer, true, nil, 0)
        #expect(status == 0)
        return output
    }

    func onOneDNN(_ weight: Tensor) throws -> Tensor {
        try KernelTuner.$scopedBackend.withValue(.onednn) { try conv2d(x, weight: weight, bias: bias, padding: 1) }
    }

    @Test func keptWeightsGiveTheSameValuesAsAReorderPerCall() throws {
        guard try canTest(.onednn) else { return }
        let weight = randomTensor([32, 32, 3, 3], seed: 32)
        let kept = try #require(OneDNNConvWeights.kept(for: weight, geometry: geometry, batch: 1, hasBias: true))
        #expect(OneDNNConvWeights.kept(for: weight, geometry: geometry, batch: 1, hasBias: true) === kept,
                "reordered once, then kept")
        let convolved = try onOneDNN(weight)
        #expect(firstDifference(convolved.scalars, reorderedPerCall(weight).scalars) == nil)
        let direct = Naive.conv2d(x, weight, bias, stride: 1, padding: 1)
        #expect(zip(convolved.scalars, direct.scalars).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
    }

    @Test func changedWeightsAreReorderedAgain() throws {
        guard try canTest(.onednn) else { return }
        let weight = randomTensor([32, 32, 3, 3], seed: 34)
        let before = try onOneDNN(weight)
        let changed = randomTensor([32, 32, 3, 3], seed: 35)
        weight.mutablePointer.update(from: changed.pointer, count: weight.count)
        weight.storage.contentsChanged()
        let after = try onOneDNN(weight)
        #expect(firstDifference(after.scalars, reorderedPerCall(changed).scalars) == nil)
        #expect(firstDifference(after.scalars, before.scalars) != nil)
    }

    /// After timing, conv2d lets go of the loser's form of the weights: only one kind stays.
    @Test func forgettingOneFormKeepsTheOther() throws {
        guard try canTest(.onednn) else { return }
        let weight = randomTensor([32, 32, 3, 3], seed: 37)
        let kept = try #require(OneDNNConvWeights.kept(for: weight, geometry: geometry, batch: 1, hasBias: true))
        let transformed = weight.storage.derived(WinogradWeights.derivedKeyPrefix + "test") {
            WinogradWeights(weight.pointer, outChannels: 32, channels: 32)
        }
        weight.storage.forgetDerived(prefix: OneDNNConvWeights.derivedKeyPrefix)
        #expect(OneDNNConvWeights.kept(for: weight, geometry: geometry, batch: 1, hasBias: true) !== kept)
        #expect(weight.storage.derived(WinogradWeights.derivedKeyPrefix + "test") {
            WinogradWeights(weight.pointer, outChannels: 32, channels: 32)
        } === transformed)
    }

    @Test func weightsKeptInAnotherLayoutAreRefused() throws {
        guard try canTest(.onednn) else { return }
        let weight = randomTensor([32, 32, 3, 3], seed: 36)
        let kept = try #require(OneDNNConvWeights.kept(for: weight, geometry: geometry, batch: 1, hasBias: true))
        let output = Tensor(uninitialized: [1, 32, 12, 12])
        let status = zflow_dnnl_conv2d(1, 32, 12, 12, 32, 3, 3, 1, 1, x.pointer, kept.values, "t3 another layout",
                                       bias.pointer, output.mutablePointer, true, nil, 0)
        #expect(status == -1)
    }
}
