// Embedding: token ids → rows of the embedding table. Backward scatters rows back serially, so the
// result does not depend on thread timing (repeated tokens add in a fixed order).
// Shapes: tokens (N) read with stride `tokenStride` per row of T, table (V, C), out (N, C).

/// out[n] = table[tokens[n]] for the B·T tokens `tokens[b·rowStride + t]`.
/// - Complexity: O(N·C) copies.
func embeddingForward<S: TrainingScalar>(_ out: UnsafeMutablePointer<S>, _ tokens: UnsafePointer<Int32>,
                                         rowStride: Int, _ table: UnsafePointer<S>, B: Int, T: Int, C: Int) {
    for b in 0..<B {
        for t in 0..<T {
            let id = Int(tokens[b * rowStride + t])
            (out + (b * T + t) * C).update(from: table + id * C, count: C)
        }
    }
}

/// dTable[tokens[n]] += dOut[n].
/// - Complexity: O(N·C).
func embeddingBackward<S: TrainingScalar>(_ dTable: UnsafeMutablePointer<S>, _ dOut: UnsafePointer<S>,
                                          _ tokens: UnsafePointer<Int32>, rowStride: Int, B: Int, T: Int, C: Int) {
    for b in 0..<B {
        for t in 0..<T {
            let row = dTable + Int(tokens[b * rowStride + t]) * C
            let d = dOut + (b * T + t) * C
            for c in 0..<C { row[c] += d[c] }
        }
    }
}
