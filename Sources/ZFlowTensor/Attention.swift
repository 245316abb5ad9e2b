/// Matches `torch.nn.functional.scaled_dot_product_attention` on heads split from the channels:
/// q [Tq,D], k [Tk,D], v [Tk,Dv] -> [Tq,Dv]; head h uses channels h*D/heads ..< (h+1)*D/heads of
/// q and k and the same share of v, with scale 1/sqrt(D/heads). `causal` lets query i see keys
/// 0...i (PyTorch's `is_causal`, aligned top-left).
///
/// Keys and values are packed once per head (AttentionKernels.swift). The work is then split into
/// (head, block of queries) items, run on both cores; each item keeps its block's scores
/// (block x Tk) in its own buffer, takes max-subtracted exponentials in place and scales the
/// product with the values by the inverse row sums (so the wide score rows are never divided).
/// Each item's arithmetic is fixed, so results do not depend on the number of threads or timing.
public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false) throws -> Tensor {
    try attention(query: query, key: key, value: value, heads: heads, causal: causal, queryBlock: 48)
}

/// `attention` with `queryBlock` queries of one head per work item, rounded up to a multiple of 12
/// (the score and value tile heights); tests use small blocks.
func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool, queryBlock: Int) throws -> Tensor {
    guard query.rank == 2, key.rank == 2, value.rank == 2,
          query.shape[1] == key.shape[1], key.shape[0] == value.shape[0] else {
        throw ShapeError("attention", "query \(query.shape), key \(key.shape), value \(value.shape) must be [Tq,D], [Tk,D], [Tk,Dv]")
    }
    let width = query.shape[1], valueWidth = value.shape[1]
    guard heads > 0, width % heads == 0, valueWidth % heads == 0 else {
        throw ShapeError("attention", "query \(query.shape) and value \(value.shape) widths do not split into \(heads) heads")
    }
    let result = Tensor(uninitialized: [query.shape[0], valueWidth])
    guard query.shape[0] > 0, key.shape[0] > 0 else {
        result.mutablePointer.update(repeating: 0, count: result.count)
        return result
    }
    let layout = AttentionLayout(queries: query.shape[0], keys: key.shape[0], width: width, valueWidth: valueWidth,
                                 heads: heads, causal: causal, block: roundUp(max(1, queryBlock), to: 12))
    let packed = PackedKeysAndValues(key: key, value: value, layout: layout)
    defer { packed.deallocate() }
    let blocksPerHead = (layout.queries + layout.block - 1) / layout.block
    let itemCost = layout.block * layout.keys * (layout.headWidth + layout.valueHeadWidth)
    parallelRanges(heads * blocksPerHead, costPerItem: itemCost) { items in
        let scratch = AttentionScratch(layout)
        defer { scratch.deallocate() }
        for item in items {
            attendBlock(head: item / blocksPerHead, firstQuery: (item % blocksPerHead) * layout.block,
                        query: query.pointer, packed: packed, scratch: scratch, out: result.mutablePointer, layout: layout)
        }
    }
    GradientTape.note("attention", inputs: [query, key, value], output: result,
                      pullback: attentionBackward(query: query, key: key, value: value, heads: heads, causal: causal))
    return result
}

/// The sizes of one attention call.
struct AttentionLayout {
    let queries, keys, width, valueWidth, heads: Int
    let causal: Bool
    /// Queries per work item (a multiple of 12).
    let block: Int
    var headWidth: Int { width / heads }
    var valueHeadWidth: Int { valueWidth / heads }
    /// Keys rounded up to whole panels: the stride of a score row.
    var paddedKeys: Int { roundUp(keys, to: keyPanelWidth) }
    /// Value columns of one head rounded up to whole vectors of the value tile.
    var valueColumns: Int { roundUp(valueHeadWidth, to: valueLanes) }
    var scale: Float { 1 / Float(headWidth).squareRoot() }
}

/// Keys as [depth x 24] panels and values as rows of `valueColumns` (zero-padded), per head.
struct PackedKeysAndValues: @unchecked Sendable {
    let keyPanels, values: UnsafeMutablePointer<Float>
    let layout: AttentionLayout

    init(key: Tensor, value: Tensor, layout: AttentionLayout) {
        self.layout = layout
        let headWidth = layout.headWidth, valueHeadWidth = layout.valueHeadWidth
        let paddedKeys = layout.paddedKeys, valueColumns = layout.valueColumns
        let keyPanels = allocateFloats(layout.heads * paddedKeys * headWidth)
        let values = allocateFloats(layout.heads * layout.keys * valueColumns)
        let k = key.pointer, v = value.pointer
        parallelRanges(layout.heads, costPerItem: layout.keys * (headWidth + valueHeadWidth)) { heads in
            for head in heads {
                let panels = keyPanels + head * paddedKeys * headWidth
                for keyIndex in 0..<paddedKeys {
                    let panel = panels + (keyIndex / keyPanelWidth) * headWidth * keyPanelWidth + keyIndex % keyPanelWidth
                    let source = k + keyIndex * layout.width + head * headWidth
                    for d in 0..<headWidth { panel[d * keyPanelWidth] = keyIndex < layout.keys ? source[d] : 0 }
                }
                let rows = values + head * layout.keys * valueColumns
                for keyIndex in 0..<layout.keys {
                    let row = rows + keyIndex * valueColumns
                    row.update(from: v + keyIndex * layout.valueWidth + head * valueHeadWidth, count: valueHeadWidth)
                    (row + valueHeadWidth).update(repeating: 0, count: valueColumns - valueHeadWidth)
                }
            }
        }
        self.keyPanels = keyPanels
        self.values = values
    }

    func deallocate() {
        releaseFloats(keyPanels)
        releaseFloats(values)
    }
}

/// One worker's buffers: a block of packed queries, its scores, its unscaled outputs, row factors.
struct AttentionScratch {
    let queries, scores, outputs, inverseSums: UnsafeMutablePointer<Float>

    init(_ layout: AttentionLayout) {
        queries = allocateFloats(layout.block * layout.headWidth)
        scores = allocateFloats(layout.block * layout.paddedKeys)
        outputs = allocateFloats(layout.block * layout.valueColumns)
        inverseSums = allocateFloats(layout.block)
    }

    func deallocate() {
        for buffer in [queries, scores, outputs, inverseSums] { releaseFloats(buffer) }
    }
}

/// Attention of queries firstQuery ..< firstQuery + block (clipped) of one head.
private func attendBlock(head: Int, firstQuery: Int, query: UnsafePointer<Float>, packed: PackedKeysAndValues,
                         scratch: AttentionScratch, out: UnsafeMutablePointer<Float>, layout: AttentionLayout) {
    let headWidth = layout.headWidth, paddedKeys = layout.paddedKeys, valueColumns = layout.valueColumns
    let rows = min(layout.block, layout.queries - firstQuery)
    let tileRows = roundUp(rows, to: 12)
    for row in 0..<tileRows {
        let target = scratch.queries + row * headWidth
        if row < rows {
            target.update(from: query + (firstQuery + row) * layout.width + head * headWidth, count: headWidth)
        } else {
            target.update(repeating: 0, count: headWidth)
        }
    }
    // With `causal`, keys after the block's last query are invisible to the whole block.
    let keys = layout.causal ? min(layout.keys, firstQuery + rows) : layout.keys
    let panels = packed.keyPanels + head * paddedKeys * headWidth
    for panel in 0..<((keys + keyPanelWidth - 1) / keyPanelWidth) {
        for row in stride(from: 0, to: tileRows, by: scoreTileRows) {
            scoreTile(queries: scratch.queries + row * headWidth, queryStride: headWidth, depth: headWidth,
                      panel: panels + panel * headWidth * keyPanelWidth,
                      scores: scratch.scores + row * paddedKeys + panel * keyPanelWidth, scoreStride: paddedKeys)
        }
    }
    for row in 0..<tileRows {
        let line = scratch.scores + row * paddedKeys
        let visible = row >= rows ? 0 : layout.causal ? min(keys, firstQuery + row + 1) : keys
        let peak = maximum(line, count: visible)
        if peak.isFinite {
            scratch.inverseSums[row] = 1 / expInPlace(line, count: visible, subtracting: peak, scale: layout.scale)
        } else {
            // No finite maximum (all -inf, or +inf, or NaN): NaN, as in PyTorch.
            line.update(repeating: .nan, count: visible)
            scratch.inverseSums[row] = .nan
        }
        (line + visible).update(repeating: 0, count: keys - visible)
    }
    let values = packed.values + head * layout.keys * valueColumns
    var column = 0
    while column < valueColumns {
        let vectors = min(valueTileVectors, (valueColumns - column) / valueLanes)
        for row in stride(from: 0, to: tileRows, by: valueTileRows) {
            valueTile(vectors: vectors, weights: scratch.scores + row * paddedKeys, weightStride: paddedKeys, keys: keys,
                      values: values + column, valueStride: valueColumns,
                      out: scratch.outputs + row * valueColumns + column, outStride: valueColumns)
        }
        column += vectors * valueLanes
    }
    for row in 0..<rows {
        let target = out + (firstQuery + row) * layout.valueWidth + head * layout.valueHeadWidth
        let source = scratch.outputs + row * valueColumns, factor = scratch.inverseSums[row]
        for column in 0..<layout.valueHeadWidth { target[column] = source[column] * factor }
    }
}

/// `value` rounded up to a multiple of `step`.
func roundUp(_ value: Int, to step: Int) -> Int { (value + step - 1) / step * step }
