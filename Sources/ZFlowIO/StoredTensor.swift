import ZFlowTensor

/// Where and how a tensor's elements lie in a mapped file: a storage of
/// `storageCount` elements starting at byte `storageStart`, read with
/// element `offset` and `strides` (in elements, as PyTorch stores them).
struct StoredTensor: Sendable {
    let type: StoredElementType
    let shape: [Int]
    let storageStart: Int
    let storageCount: Int
    let offset: Int
    let strides: [Int]

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in shape.indices.reversed() {
            strides[axis] = running
            running = running &* max(shape[axis], 1)
        }
        return strides
    }

    var isContiguous: Bool {
        shape.contains(0) || zip(shape, zip(strides, StoredTensor.contiguousStrides(shape)))
            .allSatisfy { $0.0 == 1 || $0.1.0 == $0.1.1 }
    }

    /// Checks that every element the view reads lies inside the storage,
    /// without overflow; the message is returned for the caller to attach the file and key.
    static func boundsProblem(shape: [Int], strides: [Int], offset: Int, storageCount: Int) -> String? {
        guard shape.count == strides.count else { return "shape \(shape) and stride \(strides) differ in rank" }
        guard shape.allSatisfy({ $0 >= 0 }) else { return "negative dimension in shape \(shape)" }
        guard strides.allSatisfy({ $0 >= 0 }), offset >= 0 else {
            return "negative stride \(strides) or storage offset \(offset)"
        }
        var elements = 1
        for size in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { return "shape \(shape) has too many elements" }
            elements = product
        }
        if elements == 0 { return offset <= storageCount ? nil : "storage offset \(offset) beyond storage of \(storageCount) elements" }
        var last = offset
        for (size, stride) in zip(shape, strides) {
            let (step, overflow1) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflow2) = last.addingReportingOverflow(step)
            guard !overflow1, !overflow2 else { return "shape \(shape) with stride \(strides) overflows" }
            last = sum
        }
        guard last < storageCount else {
            return "shape \(shape), stride \(strides), offset \(offset) reads element \(last) of a storage of \(storageCount) elements"
        }
        return nil
    }

    /// The values as a Float32 tensor: borrowed from the mapping when they are
    /// contiguous aligned f32, else converted into fresh storage.
    func materialize(from file: MappedFile) -> Tensor {
        if let pointer = borrowablePointer(in: file) {
            return Tensor(shape: shape, storage: TensorStorage(borrowing: pointer, count: Tensor.elementCount(shape), owner: file))
        }
        let result = Tensor(uninitialized: shape)
        convert(from: file, into: result.mutablePointer)
        return result
    }

    /// The values as a Float32 tensor present only while used (`Tensor.whileResident`): borrowed
    /// f32 whose mapped pages are dropped from the resident set after each use, else widened into
    /// memory of their own at each use and given back after it.
    func materializeOnDemand(from file: MappedFile) throws -> Tensor {
        let count = Tensor.elementCount(shape)
        let values: OnDemandValues = try borrowablePointer(in: file).map { MappedOnUse(file: file, base: $0, bytes: storageBytes) }
            ?? WidenedOnUse(file: file, stored: self, count: count)
        return Tensor(shape: shape, storage: TensorStorage(onDemand: values, count: count))
    }

    /// The bytes of the storage in the file.
    var storageBytes: Range<Int> { storageStart ..< storageStart + storageCount * type.byteSize }

    /// Where the values lie in the mapping, when they can be read there as they are: contiguous,
    /// aligned f32 on a little-endian host.
    private func borrowablePointer(in file: MappedFile) -> UnsafeMutablePointer<Float>? {
        let firstByte = storageStart + offset * type.byteSize
        guard type == .f32, isContiguous, Tensor.elementCount(shape) > 0, let fileBase = file.base,
              Int(bitPattern: fileBase + firstByte) % MemoryLayout<Float>.alignment == 0, isLittleEndianHost else { return nil }
        return UnsafeMutableRawPointer(mutating: fileBase + firstByte).assumingMemoryBound(to: Float.self)
    }

    /// Writes the values as Float32 at `output` (every element of `shape`, row-major), then drops
    /// the storage's mapped pages from the resident set.
    func convert(from file: MappedFile, into output: UnsafeMutablePointer<Float>) {
        let count = Tensor.elementCount(shape)
        guard count > 0, let storageBase = file.bytes(storageBytes).baseAddress else { return }
        defer { file.dropResidentPages(storageBytes) }
        let elementSize = type.byteSize
        if isContiguous {
            type.convert(storageBase + offset * elementSize, count: count, into: output)
            return
        }
        // Strided gather: walk the output in row-major order with an index counter.
        var position = [Int](repeating: 0, count: shape.count)
        var source = offset
        for index in 0..<count {
            output[index] = type.load(storageBase + source * elementSize)
            var axis = shape.count - 1
            while axis >= 0 {
                position[axis] += 1
                source += strides[axis]
                if position[axis] < shape[axis] { break }
                source -= strides[axis] * shape[axis]
                position[axis] = 0
                axis -= 1
            }
        }
    }
}

private let isLittleEndianHost = 1.littleEndian == 1
