/// `count` uninitialized floats at a 64-byte boundary (a cache line, one zmm register), for the
/// temporary buffers of the kernels, so that their vector loads never straddle two cache lines
/// (malloc aligns to 16 bytes); release with `deallocate()`.
func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        .bindMemory(to: Float.self, capacity: max(count, 1))
}
